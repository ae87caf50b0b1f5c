/**
 * Which profile target types dbt Fusion can serve: one table, overridable by
 * `dbt_runtime_config.fusion.adapters` in manifest.yaml.
 *
 * @module
 */

/**
 * The adapters dbt Fusion 2.0.0-preview.196 accepts without experimental
 * flags, as its own error message lists them (postgres, for one, is refused
 * with dbt1005 "is not yet supported by dbt Fusion").
 */
export const FUSION_ADAPTERS: readonly string[] = [
  "snowflake",
  "bigquery",
  "databricks",
  "redshift",
  "duckdb",
  "salesforce",
];

/** The supported adapters: the config's list when given, else the table. */
export function supportedAdapters(configured?: string[]): string[] {
  return (configured ?? [...FUSION_ADAPTERS]).map((a) => a.toLowerCase());
}

/** Whether Fusion serves this adapter type. */
export function fusionSupports(type: string, configured?: string[]): boolean {
  return supportedAdapters(configured).includes(type.toLowerCase());
}

/**
 * Whether a Fusion error message is its run-time "adapter not supported"
 * refusal (dbt1005), e.g. "The 'postgres' adapter is not yet supported by
 * dbt Fusion".
 */
export function isAdapterUnsupportedMessage(message: string): boolean {
  return /adapter is not (yet )?supported/i.test(message);
}
