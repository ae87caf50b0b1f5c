/**
 * Following a dbt Cloud run once it exists (triggered, retried or adopted
 * after a restart): journal its id, poll it to its end (outages waited out,
 * cancelled on abort or timeout), download its artifacts into the cache (or
 * the project's `target/`) and build the result from run_results.json.
 *
 * @module
 */
import { join } from "node:path";
import { artifactPaths, commandResultFrom } from "../../src/dbt/artifacts.ts";
import type { CloudConfig } from "../../src/config/config.ts";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import type { CallOptions, ProjectRef } from "../../src/contract/runtime.ts";
import type {
  DbtCommand,
  ProgressEvent,
  RunResult,
} from "../../src/contract/schemas.ts";
import type { ArtifactCache } from "./cache.ts";
import type { AdminClient } from "./client.ts";
import { waitForRun } from "./polling.ts";
import { logEvent, nodeEvents } from "./events.ts";
import type { Clock } from "./http.ts";
import type { Run } from "./schemas.ts";
import { ARTIFACTS, storeArtifacts } from "./store.ts";
import { cloudFacts, commandRunResults } from "./facts.ts";
import { FACT_COMMANDS } from "../../src/dbt/node_facts.ts";
import { dbtCorePython } from "../../src/os/paths.ts";

/** What following a run needs from the runtime and the call. */
export interface FollowContext {
  api: AdminClient;
  config: CloudConfig;
  cache: ArtifactCache | undefined;
  clock: Clock;
  ref: ProjectRef;
  options: CallOptions;
  emit: (event: ProgressEvent) => void;
  /** When the call started (ms), for execution_time_seconds. */
  started: number;
  /** Told once a run's artifacts are stored (the runtime's last run). */
  stored?: (runId: string, jobId: string) => void;
}

/**
 * The signal waits end on: the call's cancel or a detach (only a cancel
 * reaches dbt Cloud).
 */
export function waitSignal(options: CallOptions): AbortSignal | undefined {
  const detach = options.detach;
  return detach && options.signal
    ? AbortSignal.any([options.signal, detach])
    : options.signal ?? detach;
}

/** " : status_message" of a run, or "". */
export function runMessage(run: Run): string {
  return run.status_message ? `: ${run.status_message}` : "";
}

/**
 * Journal `first` (onRemoteRun), poll it to its end, collect its artifacts
 * and build the result; `metadata` describes the finished run.
 */
export async function followRun(
  ctx: FollowContext,
  command: DbtCommand,
  first: Run,
  jobId: string,
  metadata: (run: Run) => Record<string, unknown>,
): Promise<{ result: RunResult; run: Run }> {
  const { api, config, options, emit } = ctx;
  const signal = waitSignal(options);
  await options.onRemoteRun?.(String(first.id));
  let seen = first.status;
  const run = await waitForRun(api, first.id, {
    minIntervalMs: config.poll_interval_seconds * 1000,
    maxIntervalMs: config.max_poll_interval_seconds * 1000,
    // A call's own deadline (a job's timeout_seconds) wins over the config's.
    timeoutMs: (options.timeoutSeconds ?? config.timeout_seconds) * 1000,
    signal,
    detach: options.detach,
    onRun: (r) => {
      if (r.status === seen) return;
      seen = r.status;
      emit(
        logEvent(
          "info",
          `dbt Cloud run ${r.id}: ${r.status_humanized ?? r.status}`,
        ),
      );
    },
  });
  const meta = metadata(run);
  if (run.status === 30) {
    throw new FloeDbtError(
      ERROR_CODES.cancelled,
      `dbt Cloud run ${run.id} was cancelled in dbt Cloud${runMessage(run)}`,
      { hint: `see ${run.href ?? "the run in dbt Cloud"}`, details: meta },
    );
  }
  const files: Record<string, string> = {};
  // sources.json only for the command that writes it (one request less).
  const wanted = ARTIFACTS.filter((n) =>
    n !== "sources.json" || command === "source-freshness"
  );
  for (const name of wanted) {
    const text = await api.runArtifact(run.id, name, signal);
    if (text !== undefined) files[name] = text;
  }
  // source freshness writes sources.json instead of run_results.json.
  const resultFile = command === "source-freshness"
    ? "sources.json"
    : "run_results.json";
  if (!files[resultFile]) {
    throw new FloeDbtError(
      run.status === 20 && command === "compile"
        ? ERROR_CODES.compilation
        : run.status === 20
        ? ERROR_CODES.execution
        : ERROR_CODES.remoteApi,
      `dbt Cloud run ${run.id} ${
        run.status === 20 ? "failed" : "finished"
      } without ${resultFile}${runMessage(run)}`,
      {
        hint: `see the run's logs at ${run.href ?? "dbt Cloud"}`,
        details: meta,
      },
    );
  }
  // A job that generates docs ends with `dbt docs generate`: the counts,
  // the statuses, the kept file and the facts are the command's step's.
  let problem: string | undefined;
  if (resultFile === "run_results.json") {
    const own = await commandRunResults(
      command,
      files,
      run.run_steps,
      (step) => api.runArtifact(run.id, "run_results.json", signal, step),
    );
    if ("text" in own) files["run_results.json"] = own.text;
    else {
      // Another step's file is not this command's: neither kept nor read.
      problem = own.problem;
      delete files["run_results.json"];
    }
  }
  const dir = await storeArtifacts(ctx.cache, run.id, files, {
    run_id: run.id,
    account_id: config.account_id,
    job_id: jobId,
  }, {
    projectDir: ctx.ref.projectDir,
    targetDir: join(ctx.ref.projectDir, "target"),
  });
  ctx.stored?.(run.id, jobId);
  if (problem) {
    // Another step's counts would be wrong: none, and why.
    emit(logEvent("warn", `run results: ${problem}`));
    const succeeded = run.status === 10;
    return {
      result: {
        success: succeeded,
        manifest_path: files["manifest.json"]
          ? artifactPaths(dir).manifest
          : "",
        run_results_path: "",
        catalog_path: null,
        execution_time_seconds: wallSeconds(ctx),
        models_run: 0,
        tests_run: 0,
        failures: 0,
        metadata: {
          ...meta,
          cached: Boolean(ctx.cache),
          artifacts_dir: dir,
          seeds_run: 0,
          snapshots_run: 0,
          skipped: 0,
          statuses: {},
          run_results_unavailable: problem,
          ...(succeeded ? {} : { error_code: ERROR_CODES.execution }),
        },
      },
      run,
    };
  }
  const result = await commandResultFrom(command, dir, {
    ...meta,
    cached: Boolean(ctx.cache),
    artifacts_dir: dir,
  }, run.status === 10);
  if (config.node_facts && FACT_COMMANDS.has(command)) {
    const debug = (m: string) => emit(logEvent("debug", `node facts: ${m}`));
    try {
      const facts = await cloudFacts(files, dbtCorePython(), debug);
      if (facts) result.metadata.nodes = facts;
    } catch (e) {
      // Facts never fail a run.
      debug(`none: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  for (const e of nodeEvents(JSON.parse(files[resultFile]!))) emit(e);
  result.execution_time_seconds = wallSeconds(ctx);
  return { result, run };
}

/**
 * Wall time of the call (trigger to artifacts), like every runtime; dbt's
 * own elapsed time stays in metadata.dbt_elapsed_seconds.
 */
export function wallSeconds(ctx: Pick<FollowContext, "clock" | "started">) {
  return Math.max(0, (ctx.clock.now() - ctx.started) / 1000);
}
