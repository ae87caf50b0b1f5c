/**
 * Platform config: `manifest.yaml` (seed REQ-091), validated with zod; errors
 * name the file, line, column and key.
 *
 * @module
 */
import { isNode, LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { configError } from "../contract/errors.ts";
import { sealSecretEnv } from "./secrets.ts";
import { isSecureUrl } from "../os/url.ts";
import { checkSpec } from "./version_spec.ts";

const secretRef = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
  "a secret reference name (letters, digits, '_', '-', '.')",
);

const versionSpec = z.string().refine((spec) => {
  try {
    checkSpec(spec, "0");
    return true;
  } catch {
    return false;
  }
}, "a version ('1.11.2', '1.11') or a range ('>=1.7', '~=1.11', '>=1.8,<2')");

/** A URL credentials are sent to: https, or http to a loopback host only. */
const secureUrl = z.url().refine(isSecureUrl, {
  message:
    "must use https (plain http only to a loopback host: 127.x, ::1, localhost), since the request carries a token",
  params: { hint: "change the URL to https://" },
});

/** `dbt_runtime_config.local`. */
export const LocalConfigSchema = z.strictObject({
  /** Python of the dbt-core virtual environment. */
  python: z.string().optional(),
  /**
   * The dbt-core version the platform expects: an exact version ("1.11.2",
   * or "1.11" for any 1.11.x) is an error when another is installed; a
   * range (">=1.7", "~=1.11", ">=1.8,<2") only warns (see version_spec.ts).
   */
  dbt_version: versionSpec.optional(),
  /** The Python version the platform expects, compared like dbt_version. */
  python_version: versionSpec.optional(),
  /** dbt-core cannot run in parallel on one project: only false is valid. */
  parallel_execution: z.literal(false, {
    error: "dbt-core is not safe to run in parallel: only false is valid",
  }).optional(),
  /** Bound on waiting for the project lock, seconds. */
  lock_timeout_seconds: z.number().positive().default(3600),
  /** Recycle the worker after this many dbt invocations. */
  max_invocations: z.number().int().positive().default(200),
  /** Recycle the worker when its resident memory passes this, MiB. */
  max_rss_mb: z.number().positive().default(2048),
  /** Grace between SIGTERM and SIGKILL when cancelling, seconds. */
  kill_grace_seconds: z.number().nonnegative().default(5),
  /**
   * Deadline of one dbt-core call (after the project lock), seconds; past it
   * the worker's process group is killed and the call fails with E007. A
   * job's own `timeout_seconds` overrides it.
   */
  timeout_seconds: z.number().positive().default(3600),
  /**
   * Warm workers kept at most (one per project); the least recently used
   * idle one is stopped to make room. Also the number of projects the daemon
   * runs at once through the local runtime.
   */
  max_workers: z.number().int().positive().default(4),
  /**
   * Resident memory all idle warm workers may use together, MiB; past it the
   * least recently used idle workers are stopped (never one in a run).
   */
  memory_budget_mb: z.number().positive().default(4096),
  /**
   * Per-node facts in run results (`metadata.nodes`: columns, column
   * lineage, rows) after run, build, seed, snapshot and retry.
   */
  node_facts: z.boolean().default(true),
  /**
   * Count the rows of each table built (`select count(*)`) for the node
   * facts; false for warehouses where a count costs.
   */
  row_counts: z.boolean().default(true),
  /** Level of dbt's logs/dbt.log (dbt's default is debug). */
  log_level_file: z.enum(["debug", "info", "warn", "error", "none"]).default(
    "info",
  ),
});
/** `dbt_runtime_config.local`. */
export type LocalConfig = z.infer<typeof LocalConfigSchema>;

/** `dbt_runtime_config.fusion`. */
export const FusionConfigSchema = z.strictObject({
  binary_path: z.string().optional(),
  min_version: z.string().default("2.0.0-rc.0"),
  fallback_to_core: z.boolean().default(true),
  adapters: z.array(z.string()).optional(),
  max_parallel: z.number().int().positive().default(4),
  /**
   * Deadline of one Fusion call, seconds; past it its process group is
   * killed and the call fails with E007. A job's `timeout_seconds` overrides it.
   */
  timeout_seconds: z.number().positive().default(3600),
  /** Deprecated (seed REQ-091): accepted with a warning, never read. */
  rust_bindings_path: z.string().optional(),
  /**
   * Per-node facts in run results (`metadata.nodes`: columns, column
   * lineage, rows) after run, build, seed, snapshot and retry.
   */
  node_facts: z.boolean().default(true),
  /**
   * Count the rows of each table built (`select count(*)`) for the node
   * facts; false for warehouses where a count costs.
   */
  row_counts: z.boolean().default(true),
});
/** `dbt_runtime_config.fusion`. */
export type FusionConfig = z.infer<typeof FusionConfigSchema>;

/** `dbt_runtime_config.cloud`. */
export const CloudConfigSchema = z.strictObject({
  account_id: z.union([z.string().regex(/^\d+$/), z.number().int()]).transform(
    String,
  ),
  api_token_ref: secretRef,
  base_url: secureUrl,
  discovery_url: secureUrl.optional(),
  job_ids: z.strictObject({
    compile: z.union([z.number().int(), z.string().regex(/^\d+$/)]).transform(
      String,
    ).optional(),
    run: z.union([z.number().int(), z.string().regex(/^\d+$/)]).transform(
      String,
    ),
    test: z.union([z.number().int(), z.string().regex(/^\d+$/)]).transform(
      String,
    ).optional(),
    build: z.union([z.number().int(), z.string().regex(/^\d+$/)]).transform(
      String,
    ).optional(),
  }),
  environment_id: z.union([z.number().int(), z.string().regex(/^\d+$/)])
    .transform(String).optional(),
  poll_interval_seconds: z.number().positive().default(5),
  max_poll_interval_seconds: z.number().positive().default(60),
  timeout_seconds: z.number().positive().default(3600),
  request_timeout_seconds: z.number().positive().default(30),
  cache_ttl_seconds: z.number().nonnegative().default(86400),
  cache_dir: z.string().optional(),
  max_parallel: z.number().int().positive().default(8),
  /**
   * Per-node facts in run results (`metadata.nodes`) from the run's
   * artifacts (no row counts: no warehouse access).
   */
  node_facts: z.boolean().default(true),
});
/** `dbt_runtime_config.cloud`. */
export type CloudConfig = z.infer<typeof CloudConfigSchema>;

/** `plugins.lineage`: OpenLineage events over HTTP; off when absent. */
export const LineageConfigSchema = z.strictObject({
  /** Where events are POSTed, e.g. Marquez's `/api/v1/lineage`. */
  url: secureUrl,
  /** The OpenLineage namespace of the jobs (and datasets, by default). */
  namespace: z.string().min(1).default("floe-dbt"),
  /**
   * The OpenLineage namespace of the datasets: the warehouse, as OpenLineage
   * names it (`postgres://{host}:{port}`, `bigquery`, ...); default `namespace`.
   * The Python client's `asset_namespace` takes the same value.
   */
  dataset_namespace: z.string().min(1).refine((s) => !s.includes("@"), {
    message: "give <scheme>://<host>:<port> only, no user or password",
  }).optional(),
  /** Bound on each POST, seconds. */
  timeout_seconds: z.number().positive().default(5),
  /** Secret reference of a bearer API key for the endpoint. */
  api_key_ref: secretRef.optional(),
});
/** `plugins.lineage`. */
export type LineageConfig = z.infer<typeof LineageConfigSchema>;

/** The runtime names the registry knows. */
export const RuntimeNameSchema = z.enum(["local", "fusion", "cloud"]);
/** The runtime names the registry knows. */
export type RuntimeName = z.infer<typeof RuntimeNameSchema>;

/**
 * `dbt_runtime_config.cloud` as a file may hold it: `base_url` may be left
 * out (the seeds' examples do) and is required only when the cloud runtime
 * is created (src/registry.ts).
 */
export const CloudSectionSchema = CloudConfigSchema.extend({
  base_url: CloudConfigSchema.shape.base_url.optional(),
});

/** The whole manifest.yaml (only `plugins` is read; other keys belong to floe). */
export const ManifestSchema = z.object({
  plugins: z.object({
    dbt_runtime: RuntimeNameSchema.default("local"),
    /**
     * Whether `--runtime` and a job's `runtime` may differ from
     * `dbt_runtime` (docs/runtime-selection.md); the platform decides.
     */
    allow_runtime_override: z.boolean().default(false),
    dbt_runtime_config: z.strictObject({
      local: LocalConfigSchema.optional(),
      fusion: FusionConfigSchema.optional(),
      cloud: CloudSectionSchema.optional(),
    }).default({}),
    lineage: LineageConfigSchema.optional(),
  }).superRefine((plugins, ctx) => {
    const name = plugins.dbt_runtime;
    if (name === "cloud" && !plugins.dbt_runtime_config.cloud) {
      ctx.addIssue({
        code: "custom",
        path: ["dbt_runtime"],
        message:
          "dbt_runtime is 'cloud' but dbt_runtime_config.cloud is missing: add account_id, api_token_ref, base_url and job_ids",
      });
    }
  }),
});
/** The platform config after validation and defaults. */
export type PlatformConfig = z.infer<typeof ManifestSchema>;

/** The config used when no manifest.yaml exists: the local runtime. */
export function defaultConfig(): PlatformConfig {
  return ManifestSchema.parse({ plugins: {} });
}

/** A manifest.yaml as loaded: the config, its file and what to warn about. */
export interface LoadedConfig {
  config: PlatformConfig;
  /** The file it was read from. */
  file: string;
  /** Accepted but worth telling the user (deprecated keys). */
  warnings: string[];
}

/** Keys that no longer mean anything, with what to use instead. */
export const DEPRECATED_KEYS: readonly {
  path: readonly string[];
  replacement: string;
}[] = [
  {
    path: ["plugins", "dbt_runtime_config", "fusion", "rust_bindings_path"],
    replacement:
      "'plugins.dbt_runtime_config.fusion.binary_path' (Fusion runs as a binary, there are no Rust bindings to load)",
  },
];

const sources = new WeakMap<PlatformConfig, string>();

/** The file a config was loaded from; undefined for `defaultConfig()`. */
export function configFile(config: PlatformConfig): string | undefined {
  return sources.get(config);
}

/** Parse and validate manifest.yaml text; `file` names it in errors. */
export function parseConfig(text: string, file: string): PlatformConfig {
  return readConfig(text, file).config;
}

/**
 * Parse and validate manifest.yaml text, keeping the warnings: each
 * deprecated key present is accepted and named with its replacement.
 */
export function readConfig(text: string, file: string): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
    throw configError(
      `Invalid YAML in ${file}${pos ? `:${pos.line}:${pos.col}` : ""}: ${
        e.message.split("\n")[0]
      }`,
      "fix the YAML syntax at that position",
      { file, line: pos?.line, column: pos?.col },
    );
  }
  const data = doc.toJS() ?? {};
  const parsed = ManifestSchema.safeParse(data);
  if (parsed.success) {
    sources.set(parsed.data, file);
    const warnings: string[] = [];
    for (const { path, replacement } of DEPRECATED_KEYS) {
      if (getPath(data, [...path]) === undefined) continue;
      const node = doc.getIn(path, true);
      const pos = isNode(node) && node.range
        ? lineCounter.linePos(node.range[0])
        : undefined;
      warnings.push(
        `${file}${pos ? `:${pos.line}` : ""}: key '${
          path.join(".")
        }' no longer means anything and is ignored: use ${replacement}`,
      );
    }
    return { config: parsed.data, file, warnings };
  }
  const issue = parsed.error.issues[0]!;
  // Point at the deepest node that exists in the document.
  let path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
  if (issue.code === "unrecognized_keys") path = [...path, issue.keys[0]!];
  let node: unknown = undefined;
  for (let n = path.length; n >= 0 && !node; n--) {
    node = doc.getIn(path.slice(0, n), true);
  }
  let where = file;
  let line: number | undefined;
  let column: number | undefined;
  if (isNode(node) && node.range) {
    // For an unknown or offending key, point at the key itself when we can.
    const pos = lineCounter.linePos(node.range[0]);
    line = pos.line;
    column = pos.col;
    where = `${file}:${line}:${column}`;
  }
  const key = path.join(".") || "(top level)";
  const value = path.length ? getPath(data, path) : undefined;
  const shown = value === undefined || typeof value === "object"
    ? ""
    : ` (value ${JSON.stringify(value)})`;
  const message = issue.code === "unrecognized_keys"
    ? `unknown key '${issue.keys.join("', '")}'`
    : issue.message;
  const hint = issue.code === "custom" && typeof issue.params?.hint === "string"
    ? issue.params.hint
    : "see the config reference in README.md (manifest.yaml)";
  throw configError(
    `Invalid config in ${where}: key '${key}'${shown}: ${message}`,
    hint,
    { file, line, column, key },
  );
}

function getPath(data: unknown, path: (string | number)[]): unknown {
  let cur: unknown = data;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

/** Load manifest.yaml from a path; a missing file is E003. */
export async function loadConfig(file: string): Promise<PlatformConfig> {
  return (await loadConfigFile(file)).config;
}

/**
 * Load manifest.yaml from a path with its warnings; a missing file is E003.
 * From here on the agent's environment holds no secret (sealSecretEnv).
 */
export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  sealSecretEnv();
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw configError(
      `Cannot read config file '${file}': ${(e as Error).message}`,
      "pass --config with the path of your manifest.yaml, or omit it to use the local runtime",
    );
  }
  return readConfig(text, file);
}
