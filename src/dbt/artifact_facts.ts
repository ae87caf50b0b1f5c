/**
 * Per-node facts (node_facts.ts) from a run's artifacts, for runtimes that
 * report them from outside dbt's process (fusion, cloud): the nodes a run
 * built come from run_results.json, their relations, columns and compiled
 * SQL from the manifest of that run. What the runtime can read beyond the
 * artifacts (a relation's live columns, a row count, the catalog) comes in
 * through `ArtifactFactsOptions`; column lineage is sqlglot's
 * (src/dbt/lineage.ts), over the upstream relations' columns.
 *
 * @module
 */
import { columnLineage, type LineageModel } from "./lineage.ts";
import type { NodeColumn, NodeFactsMap } from "./node_facts.ts";

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Obj : {};
}

function str(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

/** A column with its type, as a warehouse or the catalog gives it. */
export interface TypedColumn {
  name: string;
  data_type: string | null;
}

/** A node the run built (a model, seed or snapshot that succeeded). */
export interface BuiltNode {
  uid: string;
  node: Obj;
  result: Obj;
}

/** Materializations (or resource types) whose relation is a table. */
const TABLE_LIKE = new Set(["table", "incremental", "seed", "snapshot"]);
const FACT_TYPES = new Set(["model", "seed", "snapshot"]);
const RELATION_TYPES = new Set(["model", "seed", "snapshot", "source"]);

/** The nodes of `runResults` that built a relation, with their manifest entry. */
export function builtNodes(manifest: Obj, runResults: Obj): BuiltNode[] {
  const nodes = obj(manifest.nodes);
  const results = Array.isArray(runResults.results) ? runResults.results : [];
  const out: BuiltNode[] = [];
  for (const r of results as unknown[]) {
    const result = obj(r);
    const uid = String(result.unique_id ?? "");
    const node = obj(nodes[uid]);
    if (
      result.status !== "success" ||
      !FACT_TYPES.has(String(node.resource_type)) ||
      obj(node.config).materialized === "ephemeral"
    ) continue;
    out.push({ uid, node, result });
  }
  return out;
}

/** Whether a node's relation is table-like (counted), not a view. */
export function isTableLike(node: Obj): boolean {
  return TABLE_LIKE.has(String(node.resource_type)) ||
    TABLE_LIKE.has(String(obj(node.config).materialized));
}

/** The identifier of a node's relation (a source's `identifier`, else alias). */
export function identifierOf(node: Obj): string {
  const name = node.resource_type === "source"
    ? node.identifier ?? node.name
    : node.alias ?? node.name;
  return String(name ?? "");
}

/** `database.schema.identifier` of a node's relation. */
export function relationOf(node: Obj): string {
  return [str(node.database), str(node.schema), identifierOf(node)]
    .filter(Boolean).join(".");
}

/** The upstream relations of a model (ephemeral parents are CTEs, not relations). */
export function parentsOf(manifest: Obj, node: Obj): [string, Obj][] {
  const nodes = obj(manifest.nodes);
  const sources = obj(manifest.sources);
  const ids = obj(node.depends_on).nodes;
  const out: [string, Obj][] = [];
  for (const id of Array.isArray(ids) ? ids : []) {
    const p = obj(nodes[String(id)] ?? sources[String(id)]);
    if (
      RELATION_TYPES.has(String(p.resource_type)) &&
      obj(p.config).materialized !== "ephemeral"
    ) out.push([String(id), p]);
  }
  return out;
}

/** The manifest's columns of a node (name, data_type, description). */
function manifestColumns(node: Obj): NodeColumn[] {
  return Object.values(obj(node.columns)).map((c) => {
    const col = obj(c);
    return {
      name: String(col.name ?? ""),
      data_type: str(col.data_type),
      description: str(col.description),
    };
  }).filter((c) => c.name);
}

/** What the runtime knows beyond the artifacts. */
export interface ArtifactFactsOptions {
  /** A relation's typed columns (live or the catalog's); undefined: unknown. */
  columnsOf?: (uid: string, node: Obj) => TypedColumn[] | undefined;
  /** A built node's row count; null or undefined: not counted. */
  rowCountOf?: (uid: string) => number | null | undefined;
  /**
   * Whether a model's `rows_affected: 0` is a count. dbt Fusion writes 0 for
   * every model, whatever it built (a seed's count is real): false there.
   */
  modelZeroIsCount: boolean;
  /** The dbt-core environment's Python, for sqlglot (none: no lineage). */
  python: string | undefined;
  /** The adapter type (sqlglot's dialect). */
  adapterType: string;
  /** A debug line (why something is missing). */
  debug: (message: string) => void;
}

/** The facts of every node the run built. */
export async function factsFromArtifacts(
  manifest: Obj,
  runResults: Obj,
  o: ArtifactFactsOptions,
): Promise<NodeFactsMap> {
  const built = builtNodes(manifest, runResults);
  const typed = (uid: string, node: Obj): TypedColumn[] | undefined => {
    const live = o.columnsOf?.(uid, node);
    if (live?.length) return live;
    const declared = manifestColumns(node);
    return declared.length ? declared : undefined;
  };
  const models: LineageModel[] = [];
  for (const { uid, node } of built) {
    const sql = str(node.compiled_code);
    if (node.resource_type !== "model" || !sql) continue;
    if ((node.language ?? "sql") !== "sql") continue;
    models.push({
      unique_id: uid,
      sql,
      parents: parentsOf(manifest, node).map(([pid, p]) => ({
        unique_id: pid,
        database: str(p.database),
        schema: String(p.schema ?? ""),
        identifier: identifierOf(p),
        columns: typed(pid, p)?.map((c) => c.name) ?? null,
      })),
    });
  }
  const lineage = await columnLineage(o.python, o.adapterType, models, o.debug);
  const out: NodeFactsMap = {};
  for (const { uid, node, result } of built) {
    const rows = obj(result.adapter_response).rows_affected;
    const counted = typeof rows === "number" && Number.isInteger(rows) &&
      rows >= 0 &&
      (rows > 0 || o.modelZeroIsCount || node.resource_type !== "model");
    const described = new Map(
      manifestColumns(node).map((c) => [c.name.toLowerCase(), c]),
    );
    const live = o.columnsOf?.(uid, node);
    const columns: NodeColumn[] = live?.length
      ? live.map((c) => ({
        name: c.name,
        data_type: c.data_type,
        description: described.get(c.name.toLowerCase())?.description ?? null,
      }))
      : [...described.values()];
    out[uid] = {
      relation: relationOf(node),
      rows_affected: counted ? rows as number : null,
      row_count: o.rowCountOf?.(uid) ?? null,
      columns,
      column_lineage: lineage[uid] ?? null,
    };
  }
  return out;
}
