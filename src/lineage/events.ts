/**
 * OpenLineage run events (spec 2-0-2) for a dbt command: START, then
 * COMPLETE or FAIL, with input and output datasets derived from the
 * manifest (sources and refs in, the nodes built out; these with the
 * `schema` and `columnLineage` facets when the run result has node facts) and
 * the run facts from run_results.json. Pure functions; the transport is `transport.ts`.
 *
 * @module
 */
import type { NodeFacts, NodeFactsMap } from "../dbt/node_facts.ts";

/** The spec version every event declares. */
export const SCHEMA_URL =
  "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
/** Who produced the events (`producer` and every facet's `_producer`). */
export const PRODUCER = "https://github.com/floe/floe-dbt/tree/0.1.0";
const ERROR_FACET_URL =
  "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet";
const SCHEMA_FACET_URL =
  "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet";
const COLUMN_LINEAGE_FACET_URL =
  "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet";
const RUN_FACET_URL =
  "https://github.com/floe/floe-dbt/blob/main/README.md#traces-and-lineage";

/** An OpenLineage dataset reference (outputs: with facets, when known). */
export interface Dataset {
  namespace: string;
  name: string;
  facets?: Record<string, unknown>;
}

/** An OpenLineage RunEvent (the fields this agent sends). */
export interface RunEvent {
  eventType: "START" | "COMPLETE" | "FAIL" | "ABORT";
  eventTime: string;
  run: { runId: string; facets?: Record<string, unknown> };
  job: { namespace: string; name: string };
  inputs: Dataset[];
  outputs: Dataset[];
  producer: string;
  schemaURL: string;
}

/** What identifies one run of one dbt command. */
export interface RunIdentity {
  runId: string;
  namespace: string;
  /** The job name, e.g. `jaffle_duck.build`. */
  jobName: string;
}

type Node = {
  resource_type?: string;
  database?: string | null;
  schema?: string;
  alias?: string;
  identifier?: string;
  name?: string;
  depends_on?: { nodes?: string[] };
};

/** Resource types that are tables or views someone can read. */
const DATA = new Set(["model", "seed", "snapshot", "source"]);
/** Resource types a dbt command writes. */
const BUILT = new Set(["model", "seed", "snapshot"]);

function node(manifest: Record<string, unknown>, id: string): Node | undefined {
  const nodes = manifest.nodes as Record<string, Node> | undefined;
  const sources = manifest.sources as Record<string, Node> | undefined;
  return nodes?.[id] ?? sources?.[id];
}

/** `database.schema.alias` (sources: `database.schema.identifier`). */
export function datasetName(n: Node): string {
  const table = n.resource_type === "source"
    ? (n.identifier ?? n.name)
    : (n.alias ?? n.name);
  return [n.database, n.schema, table].filter(Boolean).join(".");
}

type Result = {
  unique_id: string;
  status: string;
  execution_time?: number;
  message?: string | null;
};

/**
 * Inputs and outputs of a finished command: outputs are the models, seeds and
 * snapshots it ran (none for `compile`); inputs are the sources and nodes
 * those (and its tests) depend on.
 */
export function datasetsOf(
  command: string,
  manifest: Record<string, unknown>,
  runResults: Record<string, unknown>,
  namespace: string,
  facts: NodeFactsMap = {},
): { inputs: Dataset[]; outputs: Dataset[] } {
  const results = (runResults.results ?? []) as Result[];
  const inputs = new Map<string, Dataset>();
  const outputs = new Map<string, Dataset>();
  for (const r of results) {
    const n = node(manifest, r.unique_id);
    if (!n) continue;
    if (command !== "compile" && BUILT.has(n.resource_type ?? "")) {
      const facets = datasetFacets(facts[r.unique_id], manifest, namespace);
      outputs.set(r.unique_id, {
        namespace,
        name: datasetName(n),
        ...(facets ? { facets } : {}),
      });
    }
    for (const parent of n.depends_on?.nodes ?? []) {
      const p = node(manifest, parent);
      if (p && DATA.has(p.resource_type ?? "")) {
        inputs.set(parent, { namespace, name: datasetName(p) });
      }
    }
  }
  const sorted = (m: Map<string, Dataset>) =>
    [...m.values()].sort((a, b) => a.name.localeCompare(b.name));
  return { inputs: sorted(inputs), outputs: sorted(outputs) };
}

/**
 * The `schema` and `columnLineage` dataset facets of a node built, from its
 * facts (`metadata.nodes`); none without facts. An input field names its
 * dataset like the events' inputs (`database.schema.alias`).
 */
export function datasetFacets(
  facts: NodeFacts | undefined,
  manifest: Record<string, unknown>,
  namespace: string,
): Record<string, unknown> | undefined {
  if (!facts) return undefined;
  const out: Record<string, unknown> = {
    schema: {
      _producer: PRODUCER,
      _schemaURL: SCHEMA_FACET_URL,
      fields: facts.columns.map((c) => ({
        name: c.name,
        ...(c.data_type ? { type: c.data_type } : {}),
        ...(c.description ? { description: c.description } : {}),
      })),
    },
  };
  if (facts.column_lineage) {
    const fields: Record<string, unknown> = {};
    for (const [column, refs] of Object.entries(facts.column_lineage)) {
      const inputFields = refs.flatMap((r) => {
        const p = node(manifest, r.unique_id);
        return p ? [{ namespace, name: datasetName(p), field: r.column }] : [];
      });
      if (inputFields.length > 0) fields[column] = { inputFields };
    }
    out.columnLineage = {
      _producer: PRODUCER,
      _schemaURL: COLUMN_LINEAGE_FACET_URL,
      fields,
    };
  }
  return out;
}

/** The custom run facet with run_results.json's facts. */
export function runResultsFacet(
  runResults: Record<string, unknown>,
  success: boolean,
): Record<string, unknown> {
  const results = (runResults.results ?? []) as Result[];
  return {
    _producer: PRODUCER,
    _schemaURL: RUN_FACET_URL,
    success,
    elapsed_time: runResults.elapsed_time ?? null,
    invocation_id: (runResults.metadata as { invocation_id?: string })
      ?.invocation_id ?? null,
    nodes: results.map((r) => ({
      unique_id: r.unique_id,
      status: r.status,
      execution_time: r.execution_time ?? null,
    })),
  };
}

/** The standard `errorMessage` run facet. */
export function errorFacet(message: string): Record<string, unknown> {
  return {
    _producer: PRODUCER,
    _schemaURL: ERROR_FACET_URL,
    message,
    programmingLanguage: "SQL",
  };
}

/** A run event. */
export function runEvent(
  id: RunIdentity,
  eventType: RunEvent["eventType"],
  extra: Partial<Pick<RunEvent, "inputs" | "outputs">> & {
    facets?: Record<string, unknown>;
  } = {},
): RunEvent {
  return {
    eventType,
    eventTime: new Date().toISOString(),
    run: {
      runId: id.runId,
      ...(extra.facets ? { facets: extra.facets } : {}),
    },
    job: { namespace: id.namespace, name: id.jobName },
    inputs: extra.inputs ?? [],
    outputs: extra.outputs ?? [],
    producer: PRODUCER,
    schemaURL: SCHEMA_URL,
  };
}
