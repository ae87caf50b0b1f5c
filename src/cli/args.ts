/**
 * Command-line parsing: flags named like dbt's (`--select/-s`, `--exclude`,
 * `--target/-t`, `--project-dir`, `--profiles-dir`, `--full-refresh`,
 * `--vars`, `--threads`, `--fail-fast/-x`, `--selector`,
 * `--indirect-selection`) and floe-dbt's own (`--allow-jinja-vars`...), read
 * with node:util parseArgs (JSR's @std/cli is unreachable here).
 *
 * @module
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import { checkTarget, checkText, selectorTokens } from "../dbt/validate.ts";
import {
  checkSelectorName,
  MAX_THREADS,
  parseVars,
  threadsProblem,
} from "../dbt/dbt_options.ts";
import {
  DbtCommandSchema,
  type IndirectSelection,
  IndirectSelectionSchema,
} from "../contract/schemas.ts";

/** The commands of the CLI: dbt's (one list, {@link DbtCommandSchema}), then the agent's own. */
export const COMMANDS = [
  ...DbtCommandSchema.options,
  "lint",
  "manifest",
  "run-results",
  "runtimes",
  "config",
  "serve",
  "submit",
  "jobs",
  "job",
  "cancel",
  "cache",
  "state",
] as const;
/** A CLI command. */
export type Command = typeof COMMANDS[number];

/** Parsed command line. */
export interface CliArgs {
  command: Command | "help" | "version";
  help: boolean;
  projectDir: string;
  profilesDir: string;
  /** True when --profiles-dir or DBT_PROFILES_DIR chose profilesDir. */
  profilesDirGiven: boolean;
  /** `--profiles-dir` itself, resolved (serve: for jobs without profiles). */
  profilesDirFlag: string | undefined;
  target: string | undefined;
  select: string[];
  exclude: string[];
  fullRefresh: boolean;
  /** dbt `--vars`, parsed (YAML or JSON) into a mapping. */
  vars: Record<string, unknown> | undefined;
  /**
   * `--allow-jinja-vars`: vars may hold Jinja (dbt renders it). On the dbt
   * commands it lets `--vars` hold it; on `serve`, job vars (job authors
   * can then run any SQL). `submit` leaves it to the daemon.
   */
  allowJinjaVars: boolean;
  /** dbt `--threads`. */
  threads: number | undefined;
  /** dbt `--fail-fast` / `-x`. */
  failFast: boolean;
  /** dbt `--selector`. */
  selector: string | undefined;
  /** dbt `--indirect-selection`. */
  indirectSelection: IndirectSelection | undefined;
  /** Slim runs: only what changed since the state, deferring the rest. */
  changed: boolean;
  /** Reuse every node whose inputs are the same as at its last success. */
  skipUnchanged: boolean;
  /** Leave out what is downstream of a source whose freshness is error. */
  skipStaleSources: boolean;
  /** An explicit state directory (dbt's --state), resolved. */
  state: string | undefined;
  /** Where to take the state from instead: `cloud`. */
  stateFrom: "cloud" | undefined;
  /** Deadline of the dbt call, seconds (cloud: of the run): E007 past it. */
  timeoutSeconds: number | undefined;
  fix: boolean;
  json: boolean;
  logFormat: "text" | "json";
  runtime: string | undefined;
  config: string | undefined;
  noCache: boolean;
  quiet: boolean;
  positionals: string[];
  /** serve: address, port, roots, token, state. */
  host: string;
  port: number;
  projectRoots: string[];
  tokenFile: string | undefined;
  tokenRef: string | undefined;
  /** serve: web origins browsers may call from; extra loopback Host names. */
  allowOrigins: string[];
  allowHosts: string[];
  stateDir: string | undefined;
  graceSeconds: number;
  /** serve: keep finished jobs this long. */
  retentionHours: number;
  /** serve: keep finished jobs' artifacts this long (default: retention). */
  artifactRetentionHours: number | undefined;
  /** serve: jobs that may wait to run (default 1000). */
  maxQueued: number;
  /** serve: open event streams in all (default 1024). */
  maxStreams: number;
  /** serve: seconds a request (head and body) may take to arrive (default 30). */
  requestTimeoutSeconds: number;
  /** serve: open connections at most (default: half the open-file limit). */
  maxConnections: number | undefined;
  /** serve: finished jobs kept at most (default 10000). */
  maxFinished: number;
  /** Daemon clients: the daemon's URL; follow progress. */
  url: string;
  follow: boolean;
  idempotencyKey: string | undefined;
}

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  "project-dir": { type: "string" },
  "profiles-dir": { type: "string" },
  target: { type: "string", short: "t" },
  select: { type: "string", short: "s", multiple: true },
  models: { type: "string", short: "m", multiple: true },
  exclude: { type: "string", multiple: true },
  "full-refresh": { type: "boolean" },
  vars: { type: "string" },
  "allow-jinja-vars": { type: "boolean" },
  threads: { type: "string" },
  "fail-fast": { type: "boolean", short: "x" },
  selector: { type: "string" },
  "indirect-selection": { type: "string" },
  changed: { type: "boolean" },
  "skip-unchanged": { type: "boolean" },
  "skip-stale-sources": { type: "boolean" },
  state: { type: "string" },
  "state-from": { type: "string" },
  "timeout-seconds": { type: "string" },
  fix: { type: "boolean" },
  json: { type: "boolean" },
  "log-format": { type: "string" },
  runtime: { type: "string" },
  config: { type: "string" },
  "no-cache": { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  host: { type: "string" },
  port: { type: "string" },
  "project-root": { type: "string", multiple: true },
  "token-file": { type: "string" },
  "token-ref": { type: "string" },
  "allow-origin": { type: "string", multiple: true },
  "allow-host": { type: "string", multiple: true },
  "state-dir": { type: "string" },
  "grace-seconds": { type: "string" },
  "retention-hours": { type: "string" },
  "artifact-retention-hours": { type: "string" },
  "max-queued": { type: "string" },
  "max-streams": { type: "string" },
  "request-timeout-seconds": { type: "string" },
  "max-connections": { type: "string" },
  "max-finished": { type: "string" },
  url: { type: "string" },
  follow: { type: "boolean", short: "f" },
  "idempotency-key": { type: "string" },
} as const;

/** Longest deadline a call may ask for (as a job's timeout_seconds). */
const MAX_TIMEOUT_SECONDS = 7 * 24 * 3600;

function timeoutSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || n <= 0 || n > MAX_TIMEOUT_SECONDS) {
    throw usage(
      `--timeout-seconds must be a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS} (7 days), not '${value}'`,
    );
  }
  return n;
}

function number(
  name: string,
  value: string | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    throw usage(`--${name} must be a non-negative number, not '${value}'`);
  }
  return n;
}

/** A whole number of at least 1 (a cap). */
function count(
  name: string,
  value: string | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) {
    throw usage(
      `--${name} must be a whole number of at least 1, not '${value}'`,
    );
  }
  return Number(value);
}

function usage(message: string): FloeDbtError {
  return new FloeDbtError(ERROR_CODES.usage, message, {
    hint: "run 'floe-dbt --help' or 'floe-dbt COMMAND --help'",
  });
}

/** `--allow-origin`: a plain `http(s)://host[:port]` origin. */
function origin(value: string): string {
  let u: URL | undefined;
  try {
    u = new URL(value);
  } catch {
    u = undefined;
  }
  if (
    !u || (u.protocol !== "http:" && u.protocol !== "https:") ||
    u.origin.toLowerCase() !== value.replace(/\/$/, "").toLowerCase()
  ) {
    throw usage(
      `--allow-origin must be an origin like https://app.example:8443, not '${value}'`,
    );
  }
  return u.origin.toLowerCase();
}

/** `--allow-host`: a host name (no port, scheme or path). */
function hostName(value: string): string {
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(value)) {
    throw usage(
      `--allow-host must be a host name like floe.internal, not '${value}'`,
    );
  }
  return value.toLowerCase();
}

/**
 * dbt's two-word commands as one: `docs generate` -> `docs-generate`,
 * `source freshness` -> `source-freshness` (also after `submit`).
 */
export function joinTwoWordCommand(words: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const next = words[i + 1];
    const isCommandSlot = i === 0 || (i === 1 && words[0] === "submit");
    if (isCommandSlot && (w === "docs" || w === "source")) {
      const want = w === "docs" ? "generate" : "freshness";
      if (next !== want) {
        throw usage(
          `'${w}' needs '${want}': floe-dbt ${w} ${want}${
            next === undefined ? "" : ` (not '${next}')`
          }`,
        );
      }
      out.push(`${w}-${want}`);
      i++;
    } else out.push(w);
  }
  return out;
}

function threads(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || threadsProblem(n)) {
    throw usage(
      `--threads must be a whole number from 1 to ${MAX_THREADS}, not '${value}'`,
    );
  }
  return n;
}

function indirectSelection(
  value: string | undefined,
): IndirectSelection | undefined {
  if (value === undefined) return undefined;
  const ok = IndirectSelectionSchema.safeParse(value);
  if (!ok.success) {
    throw usage(
      `--indirect-selection must be one of ${
        IndirectSelectionSchema.options.join(", ")
      }, not '${value}'`,
    );
  }
  return ok.data;
}

/** Parse argv (without the program name). */
export function parseCli(
  argv: string[],
  env: { get(name: string): string | undefined } = Deno.env,
): CliArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw usage((e as Error).message.split("\n")[0]!);
  }
  const v = parsed.values;
  const [first, ...rest] = joinTwoWordCommand(parsed.positionals);
  let command: CliArgs["command"];
  if (v.version) command = "version";
  else if (!first) command = "help";
  else if ((COMMANDS as readonly string[]).includes(first)) {
    command = first as Command;
  } else throw usage(`Unknown command '${first}'`);
  const projectDir = checkText(
    resolve(v["project-dir"] ?? env.get("DBT_PROJECT_DIR") ?? Deno.cwd()),
    "--project-dir",
  );
  const profilesDir = checkText(
    resolve(
      v["profiles-dir"] ?? env.get("DBT_PROFILES_DIR") ??
        (existsSync(join(projectDir, "profiles.yml"))
          ? projectDir
          : join(env.get("HOME") ?? Deno.cwd(), ".dbt")),
    ),
    "--profiles-dir",
  );
  const target = v.target ?? env.get("DBT_TARGET") ?? undefined;
  if (target !== undefined) checkTarget(target, "--target");
  const logFormat = v["log-format"] ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw usage(`--log-format must be 'text' or 'json', not '${logFormat}'`);
  }
  const stateFrom = v["state-from"];
  if (stateFrom !== undefined && stateFrom !== "cloud") {
    throw usage(`--state-from must be 'cloud', not '${stateFrom}'`);
  }
  if (stateFrom !== undefined && v.state !== undefined) {
    throw usage("--state and --state-from name two states: give one of them");
  }
  const takesPositionals = [
    "config",
    "job",
    "cancel",
    "cache",
    "submit",
    "state",
  ]
    .includes(command);
  if (!takesPositionals && rest.length > 0) {
    throw usage(
      `Unexpected argument '${
        rest[0]
      }' for '${command}' (quote several selectors: -s "a b")`,
    );
  }
  return {
    command,
    help: Boolean(v.help),
    projectDir,
    profilesDir,
    profilesDirGiven: Boolean(
      v["profiles-dir"] ?? env.get("DBT_PROFILES_DIR"),
    ),
    profilesDirFlag: v["profiles-dir"] === undefined
      ? undefined
      : checkText(resolve(v["profiles-dir"]), "--profiles-dir"),
    target,
    // `-s "a b" -s c` gives [a, b, c]; each token is a dbt selector.
    select: selectorTokens(
      [...(v.select ?? []), ...(v.models ?? [])],
      "--select",
    ),
    exclude: selectorTokens(v.exclude, "--exclude"),
    fullRefresh: Boolean(v["full-refresh"]),
    // submit: whether job vars may hold Jinja is the daemon's operator's call.
    vars: v.vars === undefined ? undefined : parseVars(
      v.vars,
      "--vars",
      Boolean(v["allow-jinja-vars"]) || command === "submit",
    ),
    allowJinjaVars: Boolean(v["allow-jinja-vars"]),
    threads: v.threads === undefined ? undefined : threads(v.threads),
    failFast: Boolean(v["fail-fast"]),
    selector: v.selector === undefined
      ? undefined
      : checkSelectorName(v.selector, "--selector"),
    indirectSelection: indirectSelection(v["indirect-selection"]),
    changed: Boolean(v.changed),
    skipUnchanged: Boolean(v["skip-unchanged"]),
    skipStaleSources: Boolean(v["skip-stale-sources"]),
    state: v.state === undefined
      ? undefined
      : checkText(resolve(v.state), "--state"),
    stateFrom,
    timeoutSeconds: timeoutSeconds(v["timeout-seconds"]),
    fix: Boolean(v.fix),
    json: Boolean(v.json),
    logFormat,
    runtime: v.runtime,
    config: v.config,
    noCache: Boolean(v["no-cache"]) || env.get("FLOE_DISABLE_CACHE") === "true",
    quiet: Boolean(v.quiet),
    positionals: rest,
    host: v.host ?? "127.0.0.1",
    port: number("port", v.port ?? env.get("FLOE_DBT_PORT"), 8686),
    projectRoots: (v["project-root"] ?? []).map((p) => resolve(p)),
    tokenFile: v["token-file"],
    tokenRef: v["token-ref"],
    allowOrigins: (v["allow-origin"] ?? []).map(origin),
    allowHosts: (v["allow-host"] ?? []).map(hostName),
    stateDir: v["state-dir"],
    graceSeconds: number("grace-seconds", v["grace-seconds"], 30),
    retentionHours: number("retention-hours", v["retention-hours"], 24 * 7),
    artifactRetentionHours: v["artifact-retention-hours"] === undefined
      ? undefined
      : number("artifact-retention-hours", v["artifact-retention-hours"], 0),
    maxQueued: count("max-queued", v["max-queued"], 1000),
    maxStreams: count("max-streams", v["max-streams"], 1024),
    requestTimeoutSeconds: count(
      "request-timeout-seconds",
      v["request-timeout-seconds"],
      30,
    ),
    maxConnections: v["max-connections"] === undefined
      ? undefined
      : count("max-connections", v["max-connections"], 0),
    maxFinished: count("max-finished", v["max-finished"], 10_000),
    url: (v.url ?? env.get("FLOE_DBT_URL") ?? "http://127.0.0.1:8686").replace(
      /\/+$/,
      "",
    ),
    follow: Boolean(v.follow),
    idempotencyKey: v["idempotency-key"],
  };
}
