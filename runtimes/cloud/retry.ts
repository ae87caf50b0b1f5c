/**
 * `dbt retry` on dbt Cloud: re-run what failed or was skipped in the
 * project's last run. The last run is the newest run of the configured jobs
 * (one list call per job, newest first). When it failed, dbt Cloud retries
 * it (`POST .../runs/{id}/retry/`, never `jobs/{id}/rerun/`, which starts a
 * whole new run when the last one did not fail) and the new run is followed
 * like a triggered one. When it succeeded nothing is retried: the result is
 * that run's, through the artifact cache, with no node run. A run still going
 * or cancelled, or no run at all, is E010 and nothing is sent.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { commandResultFrom } from "../../src/dbt/artifacts.ts";
import type { CloudConfig } from "../../src/config/config.ts";
import { checkOptions } from "../../src/dbt/dbt_options.ts";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import type {
  CallOptions,
  ProjectRef,
  Selection,
} from "../../src/contract/runtime.ts";
import type { RunResult } from "../../src/contract/schemas.ts";
import { retryRun, retryRunOf } from "./adoption.ts";
import type { AdminClient } from "./client.ts";
import { logEvent } from "./events.ts";
import {
  type FollowContext,
  followRun,
  runMessage,
  waitSignal,
  wallSeconds,
} from "./follow.ts";
import type { Logger } from "./http.ts";
import { type Run, RUN_STATUS } from "./schemas.ts";
import { runMetadata, storeArtifacts } from "./store.ts";

/** The nonce journaled before a retry is sent: `retry-<job id>-<run id>`. */
const RETRY_NONCE = /^retry-(\d+)-(\d+)$/;

/** What a retry needs beyond following a run. */
export interface RetryContext extends FollowContext {
  logger: Logger;
}

function usage(message: string, hint: string): FloeDbtError {
  return new FloeDbtError(ERROR_CODES.usage, message, { hint });
}

/**
 * E010 for what a cloud retry cannot take, before any request: a selection
 * (dbt retry's own refusal), and every option, since dbt Cloud's retry
 * endpoint takes none (the new run keeps the failed run's command, target,
 * threads and options; nothing is dropped silently).
 */
export function refuseRetryOptions(
  ref: ProjectRef,
  selection: Selection,
  options: Pick<CallOptions, "threads">,
): void {
  checkOptions("retry", selection, options);
  const given = [
    selection.vars !== undefined && "--vars",
    selection.fullRefresh && "--full-refresh",
    selection.failFast && "--fail-fast",
    selection.indirectSelection && "--indirect-selection",
    (selection.changed || selection.state || selection.stateFrom ||
      selection.defer) && "--changed/--state",
    ref.target && "--target (or DBT_TARGET)",
    options.threads !== undefined && "--threads",
  ].filter((x): x is string => typeof x === "string");
  if (given.length === 0) return;
  throw usage(
    `The cloud runtime's retry takes no ${
      given.join(", ")
    }: dbt Cloud retries the failed run with that run's own command, target and options`,
    "drop them, or run the command itself with them (e.g. floe-dbt build --full-refresh)",
  );
}

/** The project's last run: the newest run of the configured jobs. */
export async function lastRun(
  api: AdminClient,
  jobIds: CloudConfig["job_ids"],
  signal?: AbortSignal,
): Promise<{ run: Run; jobId: string } | undefined> {
  let newest: { run: Run; jobId: string } | undefined;
  for (const jobId of jobIdsOf(jobIds)) {
    const run = await api.newestRun(jobId, signal);
    if (run && (!newest || BigInt(run.id) > BigInt(newest.run.id))) {
      newest = { run, jobId };
    }
  }
  return newest;
}

/** Retry the project's last run on dbt Cloud (see the module doc). */
export async function retryLastRun(
  ctx: RetryContext,
  selection: Selection,
): Promise<RunResult> {
  const { api, config, options, emit } = ctx;
  const signal = waitSignal(options);
  signal?.throwIfAborted();
  const meta = (
    run: Run,
    jobId: string,
    adopted: boolean,
    extra: Record<string, unknown>,
  ) => ({
    ...runMetadata(
      "retry",
      run,
      { jobId, accountId: config.account_id },
      selection,
      undefined,
      adopted,
    ),
    ...extra,
  });
  const follow = async (
    first: Run,
    adopted: boolean,
    retryOf: string | null,
  ) => {
    const jobId = String(first.job_definition_id);
    return (await followRun(
      ctx,
      "retry",
      first,
      jobId,
      (run) =>
        meta(run, jobId, adopted, {
          retry: "retried",
          retry_of_run_id: retryOf,
          retried_run_id: run.id,
        }),
    )).result;
  };
  // A job runner restarting after a crash passes the run it journaled.
  if (options.resumeRunId) {
    emit(
      logEvent(
        "info",
        `dbt Cloud: reattaching to run ${options.resumeRunId} (a retry)`,
      ),
    );
    return await follow(
      await api.getRun(options.resumeRunId, signal),
      true,
      null,
    );
  }
  // A retry may have been sent before a crash: its run is the one after the
  // failed run that says it retries it; only when there is none is it sent.
  const resumed = RETRY_NONCE.exec(options.resumeTrigger?.nonce ?? "");
  if (resumed) {
    const jobId = resumed[1]!;
    const failedId = resumed[2]!;
    const after = await retryRunOf(api, jobId, failedId, signal);
    if (after) {
      ctx.logger(
        "info",
        `adopted dbt Cloud run ${after.id}, the retry of run ${failedId} sent before the agent restarted`,
      );
      return await follow(await api.getRun(after.id, signal), true, failedId);
    }
    return await sendRetry(ctx, jobId, failedId, follow);
  }
  const last = await lastRun(api, config.job_ids, signal);
  if (!last) {
    const ids = jobIdsOf(config.job_ids);
    throw usage(
      `The cloud runtime has no previous run to retry: dbt Cloud ${
        ids.length > 1 ? `jobs ${ids.join(", ")} have` : `job ${ids[0]} has`
      } no run`,
      "run the command first (floe-dbt run, or the job in dbt Cloud), then retry",
    );
  }
  const { run, jobId } = last;
  switch (run.status) {
    case RUN_STATUS.error:
      return await sendRetry(ctx, jobId, run.id, follow);
    case RUN_STATUS.success:
      return await nothingToRetry(
        ctx,
        run,
        jobId,
        (r) =>
          meta(r, jobId, false, {
            retry: "nothing to retry",
            retry_of_run_id: null,
            retried_run_id: null,
          }),
      );
    case RUN_STATUS.cancelled:
      throw usage(
        `The project's last dbt Cloud run ${run.id} (job ${jobId}) was cancelled${
          runMessage(run)
        }; dbt Cloud retries only a failed run`,
        `run the command again (floe-dbt run...) instead of retry; see ${
          run.href ?? "the run in dbt Cloud"
        }`,
      );
    default:
      throw usage(
        `The project's last dbt Cloud run ${run.id} (job ${jobId}) is still ${
          (run.status_humanized ?? `status ${run.status}`).toLowerCase()
        }: there is nothing to retry until it ends`,
        `wait for it (see ${
          run.href ?? "the run in dbt Cloud"
        }), then retry if it failed`,
      );
  }
}

/** The distinct configured job ids. */
function jobIdsOf(jobIds: CloudConfig["job_ids"]): string[] {
  return [
    ...new Set(Object.values(jobIds).filter((v): v is string => Boolean(v))),
  ];
}

/** Journal the retry's nonce, ask dbt Cloud to retry, follow the new run. */
async function sendRetry(
  ctx: RetryContext,
  jobId: string,
  failedId: string,
  follow: (
    first: Run,
    adopted: boolean,
    retryOf: string,
  ) => Promise<RunResult>,
): Promise<RunResult> {
  const { options } = ctx;
  ctx.emit(
    logEvent(
      "info",
      `dbt Cloud: retrying failed run ${failedId} of job ${jobId}`,
    ),
  );
  await options.onTrigger?.(`retry-${jobId}-${failedId}`);
  let sent: { run: Run; adopted: boolean };
  try {
    sent = await retryRun(
      ctx.api,
      jobId,
      failedId,
      waitSignal(options),
      options.detach,
    );
  } catch (e) {
    if (
      e instanceof FloeDbtError && e.details.http_status === 400
    ) {
      throw new FloeDbtError(e.code, e.message, {
        hint:
          "dbt Cloud retries only the newest run of a job when it failed (and the job's command supports retry); run the command again instead",
        details: e.details,
        cause: e,
      });
    }
    throw e;
  }
  return await follow(sent.run, sent.adopted, failedId);
}

/**
 * The last run succeeded: nothing is retried (dbt retry runs no node). The
 * result is built from that run's artifacts, read from a fresh cache entry
 * when it holds them, else downloaded into it; no node counts as run.
 */
async function nothingToRetry(
  ctx: RetryContext,
  run: Run,
  jobId: string,
  metadata: (run: Run) => Record<string, unknown>,
): Promise<RunResult> {
  const { api, cache, config, options } = ctx;
  const signal = waitSignal(options);
  ctx.emit(
    logEvent(
      "info",
      `dbt Cloud: the project's last run ${run.id} (job ${jobId}) succeeded: nothing to retry`,
    ),
  );
  const needed = ["run_results.json", "manifest.json"];
  let dir: string | undefined;
  if (cache && !options.noCache) {
    const paths = await Promise.all(needed.map((n) => cache.path(run.id, n)));
    if (paths.every(Boolean)) dir = dirname(paths[0]!);
  }
  if (!dir) {
    const files: Record<string, string> = {};
    for (const name of [...needed, "catalog.json"]) {
      const text = await api.runArtifact(run.id, name, signal);
      if (text !== undefined) files[name] = text;
    }
    if (!files["run_results.json"]) {
      throw new FloeDbtError(
        ERROR_CODES.remoteApi,
        `dbt Cloud has no run_results.json for run ${run.id}, the project's last run`,
        {
          hint:
            "the job may not save artifacts; see the run in dbt Cloud, or run the command again",
        },
      );
    }
    dir = await storeArtifacts(cache, run.id, files, {
      run_id: run.id,
      account_id: config.account_id,
      job_id: jobId,
    }, {
      projectDir: ctx.ref.projectDir,
      targetDir: join(ctx.ref.projectDir, "target"),
    });
  }
  ctx.stored?.(run.id, jobId);
  const result = await commandResultFrom("retry", dir, {
    ...metadata(run),
    cached: Boolean(cache),
    artifacts_dir: dir,
  }, true);
  // Nothing ran: no node counts, whatever the last run did.
  Object.assign(result, { models_run: 0, tests_run: 0, failures: 0 });
  Object.assign(result.metadata, {
    seeds_run: 0,
    snapshots_run: 0,
    skipped: 0,
    statuses: {},
  });
  result.execution_time_seconds = wallSeconds(ctx);
  return result;
}
