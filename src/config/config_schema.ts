/**
 * The JSON Schema of `manifest.yaml`, derived from the zod schema (the input
 * side: what a file may hold, before defaults), with a description per key
 * for editors. Checked in as docs/manifest.schema.json (`deno task
 * schemas`); printed by `floe-dbt config schema`.
 *
 * @module
 */
import { z } from "zod";
import { DEPRECATED_KEYS, ManifestSchema } from "./config.ts";

const L = "plugins.dbt_runtime_config.local";
const F = "plugins.dbt_runtime_config.fusion";
const C = "plugins.dbt_runtime_config.cloud";

/** What each key means, by dotted path (shown by editors on hover). */
const DESCRIPTIONS: Record<string, string> = {
  "plugins": "Platform plugins; floe-dbt reads dbt_runtime, " +
    "allow_runtime_override, dbt_runtime_config and lineage, other keys belong to other plugins",
  "plugins.dbt_runtime":
    "Where dbt runs: local (dbt-core), fusion (dbt Fusion) or cloud (dbt Cloud)",
  "plugins.allow_runtime_override":
    "Whether --runtime and a job's runtime may differ from dbt_runtime (default false: refused with FLOE-DBT-E003)",
  "plugins.dbt_runtime_config": "Settings of each runtime",
  [L]: "The local runtime (dbt-core in a warm Python worker)",
  [`${L}.python`]:
    "Python of the dbt-core virtual environment (default: .venv/dbt-core beside the agent, or FLOE_DBT_PYTHON)",
  [`${L}.dbt_version`]:
    "Expected dbt-core version: exact ('1.11.2', '1.11') is an error when another is installed, a range ('>=1.7') only warns",
  [`${L}.python_version`]:
    "Expected Python version of the dbt-core environment, compared like dbt_version",
  [`${L}.parallel_execution`]:
    "dbt-core is not safe to run in parallel on one project: only false is valid",
  [`${L}.lock_timeout_seconds`]:
    "Bound on waiting for the project lock, seconds (FLOE-DBT-E007 past it)",
  [`${L}.max_invocations`]:
    "Recycle the warm worker after this many dbt invocations",
  [`${L}.max_rss_mb`]:
    "Recycle the warm worker when its resident memory passes this, MiB",
  [`${L}.kill_grace_seconds`]:
    "Grace between SIGTERM and SIGKILL when cancelling, seconds",
  [`${L}.log_level_file`]: "Level of the project's logs/dbt.log",
  [`${L}.node_facts`]:
    "Per-node facts in run results (metadata.nodes: columns, column lineage, row counts) after run, build, seed, snapshot and retry (default true)",
  [`${L}.row_counts`]:
    "Count each built table's rows (select count(*)) for the node facts; false for warehouses where a count costs (default true)",
  [F]: "The fusion runtime (the dbt Fusion engine binary)",
  [`${F}.binary_path`]:
    "The Fusion binary (default: FLOE_DBT_FUSION_BIN, .venv/fusion, PATH)",
  [`${F}.min_version`]: "An older Fusion binary is FLOE-DBT-E005",
  [`${F}.fallback_to_core`]:
    "Run targets whose adapter Fusion lacks through dbt-core (else FLOE-DBT-E006)",
  [`${F}.adapters`]:
    "Adapters this Fusion serves (default: the ones the binary supports)",
  [`${F}.max_parallel`]: "Concurrent fusion jobs in the daemon",
  [`${F}.node_facts`]:
    "Per-node facts in run results (metadata.nodes: columns, column lineage, row counts) after run, build, seed, snapshot and retry (default true)",
  [`${F}.row_counts`]:
    "Count each built table's rows (select count(*), in the one facts query per call) for the node facts; false for warehouses where a count costs (default true)",
  [C]: "The cloud runtime (dbt Cloud Admin API v2)",
  [`${C}.account_id`]: "The dbt Cloud account id",
  [`${C}.api_token_ref`]:
    "Secret reference of the service token: $FLOE_SECRETS_DIR/NAME or FLOE_SECRET_<NAME>; never the token itself",
  [`${C}.base_url`]:
    "The account's access URL, e.g. https://ACCOUNT_PREFIX.us1.dbt.com (required to use the cloud runtime)",
  [`${C}.discovery_url`]:
    "The Discovery API URL (default: derived from base_url)",
  [`${C}.job_ids`]: "dbt Cloud job ids per command; run is required",
  [`${C}.environment_id`]: "Environment for Discovery API manifest queries",
  [`${C}.poll_interval_seconds`]: "First poll interval, backs off",
  [`${C}.max_poll_interval_seconds`]: "Longest poll interval",
  [`${C}.timeout_seconds`]:
    "The remote run is cancelled and FLOE-DBT-E007 past this",
  [`${C}.request_timeout_seconds`]: "Bound on each HTTP request, seconds",
  [`${C}.cache_ttl_seconds`]: "Freshness of the artifact cache, seconds",
  [`${C}.cache_dir`]:
    "Artifact cache directory (default: <project>/.floe/dbt-cloud-cache)",
  [`${C}.max_parallel`]: "Concurrent cloud jobs in the daemon",
  [`${C}.node_facts`]:
    "Per-node facts in run results (metadata.nodes: columns, column lineage; no row counts) from the run's artifacts (default true)",
  "plugins.lineage": "OpenLineage events over HTTP; off when absent",
  "plugins.lineage.url":
    "Where events are POSTed, e.g. Marquez's /api/v1/lineage",
  "plugins.lineage.namespace":
    "Namespace of the jobs (and of the datasets without dataset_namespace)",
  "plugins.lineage.dataset_namespace":
    "Namespace of the datasets, the warehouse as OpenLineage names it (postgres://{host}:{port}, bigquery); default namespace",
  "plugins.lineage.timeout_seconds": "Bound on each POST, seconds",
  "plugins.lineage.api_key_ref":
    "Secret reference of a bearer API key for the endpoint",
};

type JsonSchema = {
  properties?: Record<string, JsonSchema>;
  [k: string]: unknown;
};

function annotate(schema: JsonSchema, path: string[]): void {
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const p = [...path, key];
    const dotted = p.join(".");
    const text = DESCRIPTIONS[dotted];
    const old = DEPRECATED_KEYS.find((d) => d.path.join(".") === dotted);
    if (old) {
      child.deprecated = true;
      child.description = `No longer means anything and is ignored: use ${
        old.replacement.replace(/'/g, "")
      }`;
    } else if (text) child.description = text;
    annotate(child, p);
  }
}

/** The JSON Schema (draft 2020-12) of manifest.yaml. */
export function manifestJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ManifestSchema, { io: "input" }) as JsonSchema;
  annotate(schema, []);
  return {
    $schema: schema.$schema,
    title: "floe-dbt platform config (manifest.yaml)",
    description:
      "The plugins section of a floe manifest.yaml as floe-dbt reads it. Generated from src/config/config.ts by `deno task schemas`",
    ...Object.fromEntries(
      Object.entries(schema).filter(([k]) => k !== "$schema"),
    ),
  };
}

/** The schema as checked in (docs/manifest.schema.json), without a final newline. */
export function manifestJsonSchemaText(): string {
  return JSON.stringify(manifestJsonSchema(), null, 2);
}
