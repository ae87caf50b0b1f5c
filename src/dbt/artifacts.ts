/**
 * dbt artifacts on disk: find them, read them, turn run_results.json into the
 * contract's run result. Artifacts are read only as regular files (never
 * through a symbolic link, never a device) and under a size cap.
 *
 * @module
 */
import { join } from "node:path";
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import { readRegularText } from "../os/safe_fs.ts";
import type { DbtCommand, RunResult } from "../contract/schemas.ts";

/** One entry of run_results.json `results[]` (the fields we read). */
export interface NodeResult {
  unique_id: string;
  status: string;
  message?: string | null;
  failures?: number | null;
  execution_time?: number;
}

/**
 * Statuses that count as failures (seed ADR-0043 counts `error`): errored
 * nodes of any kind and failed tests.
 */
const FAILED = new Set(["error", "fail", "runtime error"]);
/** Statuses of nodes that did not execute. */
const NOT_RUN = new Set(["skipped"]);
/** The status of a model, seed or snapshot that ran and succeeded. */
const SUCCEEDED = "success";

/**
 * Read a JSON artifact; a missing or broken file is E002 naming it (a
 * missing one answers 404 over HTTP), a link, a device or a file over the
 * size cap E003. With `root` (the project), a file lexically inside it must
 * really lie inside it.
 */
export async function readArtifact(
  path: string,
  root?: string,
): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readRegularText(path, { root, what: "dbt artifact" });
  } catch (e) {
    if (e instanceof FloeDbtError) throw e;
    throw new FloeDbtError(
      ERROR_CODES.execution,
      `dbt artifact '${path}' is missing: ${(e as Error).message}`,
      {
        hint: "run a dbt command (compile, run, build) on the project first",
        // Over HTTP a project not built yet is a 404, not a server error.
        ...(e instanceof Deno.errors.NotFound
          ? { details: { http_status: 404 } }
          : {}),
      },
    );
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new FloeDbtError(
      ERROR_CODES.execution,
      `dbt artifact '${path}' is not valid JSON: ${(e as Error).message}`,
      { hint: "re-run the dbt command that writes it" },
    );
  }
}

/** The paths of a target directory's artifacts. */
export function artifactPaths(targetDir: string): {
  manifest: string;
  runResults: string;
  catalog: string;
  sources: string;
} {
  return {
    manifest: join(targetDir, "manifest.json"),
    runResults: join(targetDir, "run_results.json"),
    catalog: join(targetDir, "catalog.json"),
    sources: join(targetDir, "sources.json"),
  };
}

/**
 * Counts and failures from a parsed run_results.json, as the seed defines
 * them (ADR-0043 LocalDBTPlugin): `modelsRun` counts models that succeeded
 * (an errored or skipped model is not "run"), `testsRun` counts tests that
 * executed (pass, fail, warn, error; not skipped), and `failures` lists
 * errored nodes plus failed tests. Seeds and snapshots count like models.
 */
export function summarize(runResults: Record<string, unknown>): {
  modelsRun: number;
  testsRun: number;
  seedsRun: number;
  snapshotsRun: number;
  skipped: number;
  failures: NodeResult[];
  elapsed: number;
  statuses: Record<string, number>;
} {
  const results =
    (Array.isArray(runResults.results)
      ? runResults.results
      : []) as NodeResult[];
  const of = (...prefixes: string[]) =>
    results.filter((r) => prefixes.some((p) => r.unique_id.startsWith(p)));
  const succeeded = (prefix: string) =>
    of(prefix).filter((r) => r.status === SUCCEEDED).length;
  const statuses: Record<string, number> = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  return {
    modelsRun: succeeded("model."),
    testsRun:
      of("test.", "unit_test.").filter((r) => !NOT_RUN.has(r.status)).length,
    seedsRun: succeeded("seed."),
    snapshotsRun: succeeded("snapshot."),
    skipped: results.filter((r) => NOT_RUN.has(r.status)).length,
    failures: results.filter((r) => FAILED.has(r.status)),
    elapsed: typeof runResults.elapsed_time === "number"
      ? runResults.elapsed_time
      : 0,
    statuses,
  };
}

/**
 * The catalog of this run, or null: a `catalog.json` left in a shared target
 * directory by an earlier `docs generate` is not this run's. With `since`
 * (when the run started) the file must have been written after it; without
 * it, a catalog present in the run's own artifact directory is the run's.
 */
export async function catalogOfRun(
  path: string,
  since?: Date,
): Promise<string | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path); // a link is not this run's catalog
  } catch {
    return null;
  }
  if (!info.isFile) return null;
  if (since && (!info.mtime || info.mtime.getTime() < since.getTime())) {
    return null;
  }
  return path;
}

/** Options of {@link runResultFrom}. */
export interface RunResultOptions {
  /**
   * When the run started (wall clock). Set it when the target directory is
   * shared between runs, so a stale catalog.json is not reported.
   */
  since?: Date | undefined;
}

/** Build the contract's run result from a target directory's artifacts. */
export async function runResultFrom(
  targetDir: string,
  metadata: Record<string, unknown>,
  invocationSucceeded: boolean,
  options: RunResultOptions = {},
): Promise<RunResult> {
  const paths = artifactPaths(targetDir);
  const runResults = await readArtifact(paths.runResults);
  const s = summarize(runResults);
  const catalog = await catalogOfRun(paths.catalog, options.since);
  const success = invocationSucceeded && s.failures.length === 0;
  const meta: Record<string, unknown> = {
    ...metadata,
    seeds_run: s.seedsRun,
    snapshots_run: s.snapshotsRun,
    skipped: s.skipped,
    statuses: s.statuses,
    dbt_elapsed_seconds: s.elapsed,
    invocation_id: (runResults.metadata as Record<string, unknown> | undefined)
      ?.invocation_id ?? null,
  };
  if (s.failures.length > 0) {
    meta.error_code = ERROR_CODES.execution;
    meta.errors = s.failures.map((f) => ({
      unique_id: f.unique_id,
      status: f.status,
      message: f.message ?? null,
      failures: f.failures ?? null,
    }));
  }
  return {
    success,
    manifest_path: paths.manifest,
    run_results_path: paths.runResults,
    catalog_path: catalog,
    execution_time_seconds: s.elapsed,
    models_run: s.modelsRun,
    tests_run: s.testsRun,
    failures: s.failures.length,
    metadata: meta,
  };
}

/** One source's freshness as the run result lists it (`metadata.sources`). */
export interface SourceFreshness {
  unique_id: string;
  /** pass, warn, error or runtime error (lower case, as dbt-core writes it). */
  status: string;
  max_loaded_at: string | null;
  snapshotted_at: string | null;
  max_loaded_at_time_ago_in_s: number | null;
  /** dbt's message for a source it could not check. */
  error: string | null;
}

/** Freshness statuses that fail the command (dbt exits 1 on them). */
const FRESHNESS_FAILED = new Set(["error", "runtime error"]);

/**
 * The run result of `dbt source freshness`, from sources.json (it writes no
 * run_results.json): `run_results_path` is the sources.json of this run,
 * `metadata.sources` lists each source's status, nothing counts as a model
 * run, and errored or failing sources are the failures. With `since`, a
 * sources.json older than the run is not this run's (E002).
 */
export async function freshnessResultFrom(
  targetDir: string,
  metadata: Record<string, unknown>,
  invocationSucceeded: boolean,
  options: RunResultOptions = {},
): Promise<RunResult> {
  const paths = artifactPaths(targetDir);
  if (options.since && !(await catalogOfRun(paths.sources, options.since))) {
    throw new FloeDbtError(
      ERROR_CODES.execution,
      `dbt source freshness wrote no sources.json in '${targetDir}'`,
      {
        hint:
          "check that the project has sources with a freshness and loaded_at_field",
      },
    );
  }
  const doc = await readArtifact(paths.sources);
  const results = (Array.isArray(doc.results) ? doc.results : []) as Record<
    string,
    unknown
  >[];
  const str = (v: unknown) => typeof v === "string" ? v : null;
  const sources: SourceFreshness[] = results.map((r) => ({
    unique_id: String(r.unique_id ?? ""),
    status: String(r.status ?? "").toLowerCase(),
    max_loaded_at: str(r.max_loaded_at),
    snapshotted_at: str(r.snapshotted_at),
    max_loaded_at_time_ago_in_s: typeof r.max_loaded_at_time_ago_in_s ===
        "number"
      ? r.max_loaded_at_time_ago_in_s
      : null,
    error: str(r.error) ?? str(r.message),
  }));
  const statuses: Record<string, number> = {};
  for (const x of sources) statuses[x.status] = (statuses[x.status] ?? 0) + 1;
  const failed = sources.filter((x) => FRESHNESS_FAILED.has(x.status));
  const meta: Record<string, unknown> = {
    ...metadata,
    sources,
    sources_path: paths.sources,
    seeds_run: 0,
    snapshots_run: 0,
    skipped: 0,
    statuses,
    dbt_elapsed_seconds: typeof doc.elapsed_time === "number"
      ? doc.elapsed_time
      : 0,
    invocation_id: (doc.metadata as Record<string, unknown> | undefined)
      ?.invocation_id ?? null,
  };
  if (failed.length > 0) {
    meta.error_code = ERROR_CODES.execution;
    meta.errors = failed.map((f) => ({
      unique_id: f.unique_id,
      status: f.status,
      message: f.error,
      failures: null,
    }));
  }
  return {
    success: invocationSucceeded && failed.length === 0,
    manifest_path: paths.manifest,
    run_results_path: paths.sources,
    catalog_path: null,
    execution_time_seconds: meta.dbt_elapsed_seconds as number,
    models_run: 0,
    tests_run: 0,
    failures: failed.length,
    metadata: meta,
  };
}

/**
 * The run result of any command: `source freshness` from sources.json;
 * `docs generate` from run_results.json with nothing counted as run (its
 * results are compiled nodes) and `catalog_path` this run's catalog (a
 * missing one fails the result); every other command from run_results.json.
 */
export async function commandResultFrom(
  command: DbtCommand,
  targetDir: string,
  metadata: Record<string, unknown>,
  invocationSucceeded: boolean,
  options: RunResultOptions = {},
): Promise<RunResult> {
  if (command === "source-freshness") {
    return await freshnessResultFrom(
      targetDir,
      metadata,
      invocationSucceeded,
      options,
    );
  }
  const run = await runResultFrom(
    targetDir,
    metadata,
    invocationSucceeded,
    options,
  );
  if (command !== "docs-generate") return run;
  run.metadata.nodes_compiled = run.models_run;
  run.metadata.seeds_run = 0;
  run.metadata.snapshots_run = 0;
  run.models_run = 0;
  run.tests_run = 0;
  if (run.catalog_path === null) {
    run.success = false;
    run.metadata.error_code = ERROR_CODES.execution;
    run.metadata.errors = [{
      unique_id: null,
      status: "error",
      message: "dbt docs generate wrote no catalog.json",
      failures: null,
    }];
  }
  return run;
}
