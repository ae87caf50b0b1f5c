/**
 * Waiting for a dbt Cloud run: poll with exponential backoff until it
 * finishes, waiting out outages until the deadline; past the deadline or on
 * a cancel, cancel the remote run and say whether that worked (E007/E008).
 *
 * @module
 */
import { deadlineError } from "../../src/contract/deadline.ts";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import type { AdminClient } from "./client.ts";
import { isTerminal, type Run } from "./schemas.ts";

/** Polling settings. */
export interface PollOptions {
  minIntervalMs: number;
  maxIntervalMs: number;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /**
   * Aborted (and part of `signal`): stop waiting and leave the run going,
   * never cancelling it (the agent is shutting down and reattaches later).
   */
  detach?: AbortSignal | undefined;
  onRun?: (run: Run) => void;
}

/** Poll until the run finishes; on timeout or abort cancel it and throw E007/E008. */
export async function waitForRun(
  api: AdminClient,
  runId: string,
  p: PollOptions,
): Promise<Run> {
  const clock = api.clock;
  const deadline = clock.now() + p.timeoutMs;
  let interval = p.minIntervalMs;
  while (true) {
    let run: Run;
    try {
      // Outages (network errors, 5xx, 429) are waited out until the deadline.
      run = await api.getRun(runId, p.signal, deadline);
    } catch (e) {
      if (p.detach?.aborted) throw p.detach.reason;
      if (e instanceof FloeDbtError && e.code === ERROR_CODES.cancelled) {
        throw await cancelled(api, runId, e);
      }
      if (e instanceof FloeDbtError && e.code === ERROR_CODES.timeout) {
        const note = await tryCancel(api, runId);
        throw new FloeDbtError(e.code, `${e.message}; ${note}`, {
          hint: e.hint ?? "",
          cause: e,
        });
      }
      throw e;
    }
    p.onRun?.(run);
    if (isTerminal(run)) return run;
    const left = deadline - clock.now();
    if (left <= 0) {
      const note = await tryCancel(api, runId);
      throw deadlineError(
        `dbt Cloud run ${runId}`,
        p.timeoutMs / 1000,
        note,
        "raise timeout_seconds (the job's, or dbt_runtime_config.cloud.timeout_seconds) or look at the run in dbt Cloud",
      );
    }
    try {
      await clock.sleep(Math.min(interval, left), p.signal);
    } catch (e) {
      if (p.detach?.aborted) throw p.detach.reason;
      throw await cancelled(api, runId, e);
    }
    interval = Math.min(interval * 2, p.maxIntervalMs);
  }
}

async function cancelled(
  api: AdminClient,
  runId: string,
  cause: unknown,
): Promise<FloeDbtError> {
  const note = await tryCancel(api, runId);
  return new FloeDbtError(
    ERROR_CODES.cancelled,
    `Cancelled while waiting for dbt Cloud run ${runId}; ${note}`,
    { hint: "the caller cancelled the operation", cause },
  );
}

async function tryCancel(api: AdminClient, runId: string): Promise<string> {
  try {
    const r = await api.cancel(runId);
    return `the remote run was cancelled (status ${
      r.status_humanized ?? r.status
    })`;
  } catch (e) {
    return `cancelling the remote run failed (${
      (e as Error).message
    }): cancel it in dbt Cloud`;
  }
}
