/**
 * Find the dbt Fusion binary and tell it apart from dbt-core 1.x and the dbt
 * Cloud CLI (which also install an executable called `dbt`).
 *
 * Order: `dbt_runtime_config.fusion.binary_path`, then the environment
 * variable `FLOE_DBT_FUSION_BIN`, then `.venv/fusion/bin/dbt` made by
 * scripts/setup, then every `dbt` on `PATH`. An explicitly configured path
 * (config or environment) is final: when it is wrong the answer is E005, not
 * a silent search elsewhere.
 *
 * @module
 */
import { childEnv } from "../../src/os/child_env.ts";
import { delimiter, join, resolve } from "node:path";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import { venvCandidates } from "../../src/os/paths.ts";
import { outputWithTimeout } from "../../src/os/spawn.ts";

/** Bound on `dbt --version` (it answers in milliseconds when healthy). */
const VERSION_TIMEOUT_MS = 15_000;

/** The environment variable naming the Fusion binary. */
export const FUSION_BIN_ENV = "FLOE_DBT_FUSION_BIN";

/** A Fusion binary that passed the checks. */
export interface FusionBinary {
  path: string;
  /** e.g. `2.0.0-preview.196`. */
  version: string;
}

/** What `dbt --version` says the binary is. */
export type VersionKind =
  | { kind: "fusion"; version: string }
  | { kind: "dbt-core"; version: string }
  | { kind: "cloud-cli"; version: string }
  | { kind: "unknown"; version: string };

/** Classify `dbt --version` output (stdout and stderr together). */
export function classifyVersionOutput(text: string): VersionKind {
  const semver = text.match(/\b(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\b/);
  const version = semver?.[1] ?? "";
  if (/^\s*Core:/m.test(text)) {
    const core = text.match(/installed:\s*(\S+)/);
    return { kind: "dbt-core", version: core?.[1] ?? version };
  }
  if (/Cloud CLI/i.test(text)) return { kind: "cloud-cli", version };
  const fusion = text.match(/dbt-fusion\s+(\d+\.\d+\.\d+\S*)/);
  if (fusion) return { kind: "fusion", version: fusion[1]! };
  if (version.startsWith("2.")) return { kind: "fusion", version };
  return { kind: "unknown", version };
}

function parts(v: string): { core: number[]; pre: string | null } {
  const clean = v.trim().replace(/^[=v]/, "");
  const [core, ...rest] = clean.split("-");
  return {
    core: (core ?? "").split(".").map((n) => parseInt(n, 10) || 0),
    pre: rest.length ? rest.join("-") : null,
  };
}

/**
 * Compare two versions: negative when a < b. Numeric major.minor.patch
 * first; a release beats any prerelease; prereleases compare by their last
 * number, because Fusion's `preview.N` and PyPI's `rcN` name the same build.
 */
export function compareVersions(a: string, b: string): number {
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < 3; i++) {
    const d = (pa.core[i] ?? 0) - (pb.core[i] ?? 0);
    if (d !== 0) return d;
  }
  if (pa.pre === null || pb.pre === null) {
    return (pa.pre === null ? 1 : 0) - (pb.pre === null ? 1 : 0);
  }
  const num = (p: string) => parseInt(p.match(/(\d+)\D*$/)?.[1] ?? "0", 10);
  return num(pa.pre) - num(pb.pre);
}

/** Run `<path> --version`; undefined when it cannot be started or hangs. */
async function versionOutput(path: string): Promise<string | undefined> {
  try {
    const out = await outputWithTimeout(path, {
      args: ["--version"],
      clearEnv: true,
      env: childEnv({
        RUST_BACKTRACE: "0",
        DBT_SEND_ANONYMOUS_USAGE_STATS: "false",
        DBT_DISABLE_VERSION_CHECK: "1",
        DO_NOT_TRACK: "1",
      }),
      timeoutMs: VERSION_TIMEOUT_MS,
    });
    if (out.timedOut) return undefined;
    return out.stdout + out.stderr;
  } catch {
    return undefined;
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function pathCandidates(): string[] {
  const dirs = (Deno.env.get("PATH") ?? "").split(delimiter).filter(Boolean);
  return dirs.map((d) => join(d, "dbt"));
}

const INSTALL_HINT =
  "run scripts/setup (installs dbt Fusion into .venv/fusion from the PyPI wheel dbt==2.0.0rc196), " +
  `or set dbt_runtime_config.fusion.binary_path or ${FUSION_BIN_ENV} to the Fusion binary ` +
  "(`dbt --version` must print `dbt-fusion 2.x`); or use --runtime local";

/** Check one candidate: a FusionBinary, or a sentence saying why not. */
async function check(
  path: string,
  minVersion: string,
): Promise<FusionBinary | string> {
  if (!isFile(path)) return `${path}: no such file`;
  const text = await versionOutput(path);
  if (text === undefined) {
    return `${path}: cannot be executed (or '--version' did not answer within ${
      VERSION_TIMEOUT_MS / 1000
    } s)`;
  }
  const v = classifyVersionOutput(text);
  switch (v.kind) {
    case "dbt-core":
      return `${path}: is dbt-core ${v.version} (dbt 1.x), not dbt Fusion`;
    case "cloud-cli":
      return `${path}: is the dbt Cloud CLI ${v.version}, not dbt Fusion`;
    case "unknown":
      return `${path}: '--version' printed '${
        text.trim().split("\n")[0]
      }', not dbt Fusion`;
    case "fusion":
      if (compareVersions(v.version, minVersion) < 0) {
        return `${path}: dbt Fusion ${v.version} is older than min_version ${minVersion}`;
      }
      return { path, version: v.version };
  }
}

/**
 * Find the Fusion binary or throw E005 naming every place looked at.
 * Asynchronous, each `--version` bounded; callers cache the answer (see
 * `detectionKey`).
 */
export async function detectFusion(
  binaryPath: string | undefined,
  minVersion: string,
): Promise<FusionBinary> {
  const looked: string[] = [];
  const fail = () =>
    new FloeDbtError(
      ERROR_CODES.fusionNotFound,
      `dbt Fusion binary not found. Looked at: ${looked.join("; ")}`,
      { hint: INSTALL_HINT, details: { looked } },
    );
  const explicit: [string, string | undefined][] = [
    ["dbt_runtime_config.fusion.binary_path", binaryPath],
    [FUSION_BIN_ENV, Deno.env.get(FUSION_BIN_ENV)],
  ];
  for (const [source, value] of explicit) {
    if (!value) {
      looked.push(`${source} (not set)`);
      continue;
    }
    const r = await check(resolve(value), minVersion);
    if (typeof r !== "string") return r;
    looked.push(`${source} = ${r}`);
    throw fail();
  }
  const seen = new Set<string>();
  const search: [string, string[]][] = [
    ["scripts/setup venv", venvCandidates("fusion", "dbt")],
    ["PATH", pathCandidates()],
  ];
  for (const [source, candidates] of search) {
    let any = false;
    for (const c of candidates) {
      if (seen.has(c)) continue;
      seen.add(c);
      if (!isFile(c)) continue;
      any = true;
      const r = await check(c, minVersion);
      if (typeof r !== "string") return r;
      looked.push(`${source}: ${r}`);
    }
    if (!any) {
      looked.push(
        source === "PATH"
          ? "PATH: no 'dbt' executable"
          : `${source}: none of ${candidates.join(", ")}`,
      );
    }
  }
  throw fail();
}

/**
 * What a detection depends on: the configured path, the environment
 * variable, PATH and the minimum version. A cached answer is reused only
 * while this stays the same.
 */
export function detectionKey(
  binaryPath: string | undefined,
  minVersion: string,
): string {
  return JSON.stringify([
    binaryPath ?? null,
    Deno.env.get(FUSION_BIN_ENV) ?? null,
    Deno.env.get("PATH") ?? null,
    minVersion,
  ]);
}
