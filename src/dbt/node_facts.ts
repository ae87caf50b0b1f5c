/**
 * Per-node facts of a run (`metadata.nodes` of a run result, keyed by
 * unique_id): what dagster-dbt and OpenLineage consumers read per model,
 * after `run`, `build`, `seed`, `snapshot` and `retry`. Every runtime reports
 * them: the local runtime in its dbt-core worker (runtimes/local/facts_py.ts);
 * the fusion runtime from the call's artifacts and one facts query through
 * Fusion (runtimes/fusion/facts.ts); the cloud runtime from the run's
 * artifacts, without row counts (runtimes/cloud/facts.ts). Column lineage is
 * the same sqlglot code everywhere (src/dbt/lineage_py.ts).
 *
 * @module
 */
import { z } from "zod";

/** One column of a built relation. */
export const NodeColumnSchema = z.object({
  name: z.string(),
  /** The adapter's type (the manifest's `data_type` when unread). */
  data_type: z.string().nullable(),
  /** The manifest's description, when there is one. */
  description: z.string().nullable(),
});
/** One column of a built relation. */
export type NodeColumn = z.infer<typeof NodeColumnSchema>;

/** An upstream column an output column is computed from. */
export const ColumnRefSchema = z.object({
  unique_id: z.string(),
  column: z.string(),
});
/** An upstream column an output column is computed from. */
export type ColumnRef = z.infer<typeof ColumnRefSchema>;

/** The facts of one model, seed or snapshot that succeeded. */
export const NodeFactsSchema = z.object({
  /** `database.schema.identifier` of the relation dbt built. */
  relation: z.string(),
  /** run_results.json's `adapter_response.rows_affected`, when reported. */
  rows_affected: z.number().int().nullable(),
  /** `select count(*)` of a table-like relation (not views), when counted. */
  row_count: z.number().int().nullable(),
  columns: z.array(NodeColumnSchema),
  /**
   * Output column -> the upstream columns it is computed from (sqlglot over
   * the compiled SQL); null when not computed (not a SQL model, or sqlglot
   * could not resolve it).
   */
  column_lineage: z.record(z.string(), z.array(ColumnRefSchema)).nullable(),
});
/** The facts of one model, seed or snapshot that succeeded. */
export type NodeFacts = z.infer<typeof NodeFactsSchema>;

/** `metadata.nodes`: facts by unique_id. */
export const NodeFactsMapSchema = z.record(z.string(), NodeFactsSchema);
/** `metadata.nodes`: facts by unique_id. */
export type NodeFactsMap = z.infer<typeof NodeFactsMapSchema>;

/** The dbt commands after which runtimes report node facts. */
export const FACT_COMMANDS: ReadonlySet<string> = new Set([
  "run",
  "build",
  "seed",
  "snapshot",
  "retry",
]);

/**
 * The facts a worker sent, checked: the valid entries (an entry that does not
 * parse is left out, never an error).
 */
export function parseNodeFacts(value: unknown): NodeFactsMap | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const out: NodeFactsMap = {};
  for (const [id, facts] of Object.entries(value)) {
    const parsed = NodeFactsSchema.safeParse(facts);
    if (parsed.success) out[id] = parsed.data;
  }
  return out;
}
