/**
 * dbt artifacts on disk: find them, read them, turn run_results.json into the
 * contract's run result. Artifacts are read only as regular files (never
 * through a symbolic link, never a device) and under a size cap.
 *
 * @module
 */
import { join } from "node:path";
import { ERROR_CODES, FloeDbtError } from "./errors.ts";
import { readRegularText } from "./safe_fs.ts";
import type { RunResult } from "./schemas.ts";

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
 * Read a JSON artifact; a missing or broken file is E002 naming it, a link,
 * a device or a file over the size cap E003. With `root` (the project), a
 * file lexically inside it must really lie inside it.
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
      { hint: "run a dbt command (compile, run, build) on the project first" },
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
} {
  return {
    manifest: join(targetDir, "manifest.json"),
    runResults: join(targetDir, "run_results.json"),
    catalog: join(targetDir, "catalog.json"),
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
