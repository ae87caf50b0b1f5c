/**
 * Starting dbt Cloud runs exactly once: trigger and retry adopt the run an
 * ambiguous failure (a lost answer, a timeout) may have made instead of
 * starting a second one, find a trigger's run by the nonce in its cause
 * (also after an agent restart), and cancel a run made while the call was
 * being cancelled.
 *
 * @module
 */
import { FloeDbtError } from "../../src/contract/errors.ts";
import type { CallOptions } from "../../src/contract/runtime.ts";
import type { AdminClient, TriggerBody } from "./client.ts";
import type { HttpAnswer, Logger } from "./http.ts";
import type { Run } from "./schemas.ts";

/** Runs per page when searching runs (the API's maximum). */
const PAGE = 100;
/** Pages searched for a trigger's run before giving up. */
const MAX_PAGES = 50;

/**
 * Trigger the run, its nonce journaled first (`onTrigger`); after a crash
 * mid-trigger (`resumeTrigger`) the run that trigger made is adopted, and
 * only when there is none is it sent (again with that nonce).
 */
export async function triggerOrAdopt(
  api: AdminClient,
  jobId: string,
  body: TriggerBody,
  nonce: string,
  options: CallOptions,
  signal: AbortSignal | undefined,
  logger: Logger,
): Promise<{ run: Run; adopted: boolean }> {
  const resume = options.resumeTrigger;
  if (resume) {
    const found = await findTriggered(
      api,
      jobId,
      body.cause,
      resume.sinceMs,
      signal,
    );
    if (found) {
      logger(
        "info",
        `adopted dbt Cloud run ${found.id}, triggered before the agent restarted`,
      );
      return { run: await api.getRun(found.id, signal), adopted: true };
    }
  }
  await options.onTrigger?.(nonce);
  return await triggerRun(api, jobId, body, signal, options.detach);
}

/**
 * Trigger a job run; `cause` must carry a unique nonce (see steps.ts
 * causeFor). An abort while the POST is in flight cancels the run it may
 * have made, unless `detach` is aborted (the caller finds it by its cause
 * after a restart).
 */
export async function triggerRun(
  api: AdminClient,
  jobId: string,
  body: TriggerBody,
  signal?: AbortSignal,
  detach?: AbortSignal,
): Promise<{ run: Run; adopted: boolean }> {
  const since = api.clock.now();
  let adopted = false;
  let a: HttpAnswer;
  try {
    a = await api.http.send({
      method: "POST",
      url: api.url(`jobs/${jobId}/run/`),
      body,
      signal,
      onAmbiguous: async () => {
        const found = await findTriggered(
          api,
          jobId,
          body.cause,
          since,
          signal,
        );
        if (!found) return undefined;
        adopted = true;
        api.logger(
          "warn",
          `adopted dbt Cloud run ${found.id} after an ambiguous trigger failure`,
        );
        return found.answer;
      },
    });
  } catch (e) {
    // Cancelled while the POST was in flight: the run may exist anyway.
    // Find it by its cause tag and cancel it, so nothing keeps running
    // unseen (best effort, without the aborted signal).
    if (signal?.aborted && !detach?.aborted) {
      await cancelStray(
        api,
        () => findTriggered(api, jobId, body.cause, since),
      );
    }
    throw e;
  }
  const run = api.parseRun(a, `POST jobs/${jobId}/run/`);
  return { run, adopted };
}

/**
 * Retry a failed run (POST .../runs/{id}/retry/, no body): dbt Cloud
 * enqueues a new run of the job that re-runs what failed or was skipped.
 * The retry's run is found only when it says so (see {@link isRetryOf}),
 * never by position: after an ambiguous failure it is adopted instead of
 * asking twice (also when the resent POST is refused because the first
 * one had made the run), and an abort while the POST is in flight cancels
 * it unless `detach` is aborted. A run someone else started meanwhile (a
 * schedule, CI) is never adopted or cancelled.
 */
export async function retryRun(
  api: AdminClient,
  jobId: string,
  runId: string,
  signal?: AbortSignal,
  detach?: AbortSignal,
): Promise<{ run: Run; adopted: boolean }> {
  const path = `runs/${runId}/retry/`;
  const find = async (s?: AbortSignal) => {
    const run = await retryRunOf(api, jobId, runId, s);
    return run ? { id: run.id, run } : undefined;
  };
  const adopt = (found: { id: string }) => {
    api.logger(
      "warn",
      `adopted dbt Cloud run ${found.id} after an ambiguous retry failure`,
    );
  };
  let adopted = false;
  let ambiguous = false;
  let a: HttpAnswer;
  try {
    a = await api.http.send({
      method: "POST",
      url: api.url(path),
      signal,
      onAmbiguous: async () => {
        ambiguous = true;
        const found = await find(signal);
        if (!found) return undefined;
        adopted = true;
        adopt(found);
        return adoptedAnswer(found.run);
      },
    });
  } catch (e) {
    if (signal?.aborted && !detach?.aborted) {
      await cancelStray(api, () => find());
    } else if (
      ambiguous && e instanceof FloeDbtError &&
      e.details.http_status === 400
    ) {
      // The resent POST was refused: the first one may have made the run
      // after all (it is then the job's newest, so no other can be retried).
      const found = await find(signal).catch(() => undefined);
      if (found) {
        adopt(found);
        return { run: found.run, adopted: true };
      }
    }
    throw e;
  }
  return {
    run: api.parseRun(a, `POST ${path}`),
    adopted,
  };
}

async function cancelStray(
  api: AdminClient,
  find: () => Promise<{ id: string } | undefined>,
): Promise<void> {
  try {
    const found = await find();
    if (!found) return;
    await api.cancel(found.id);
    api.logger(
      "warn",
      `cancelled dbt Cloud run ${found.id}, triggered while the call was being cancelled`,
    );
  } catch (e) {
    api.logger(
      "warn",
      `could not check for a run triggered during cancellation: ${
        e instanceof Error ? e.message : String(e)
      }`,
    );
  }
}

/**
 * The run of `jobId` whose cause matches, created since `sinceMs` (with
 * 5 minutes of clock skew): runs newest-created first, page by page, back
 * to that time, so a busy job's trigger is found beyond the first page.
 */
export async function findTriggered(
  api: AdminClient,
  jobId: string,
  cause: string,
  sinceMs: number,
  signal?: AbortSignal,
): Promise<{ id: string; answer: HttpAnswer } | undefined> {
  const oldest = sinceMs - 5 * 60_000;
  let run: Run | undefined;
  for (let page = 0; page < MAX_PAGES && !run; page++) {
    const runs = await api.runs({
      job_definition_id: jobId,
      include_related: "trigger",
      order_by: "-created_at",
      limit: String(PAGE),
      offset: String(page * PAGE),
    }, signal);
    run = runs.find((r) => r.trigger?.cause === cause);
    const last = runs.at(-1)?.created_at;
    const older = last !== undefined && parseDbtTime(last) < oldest;
    if (runs.length < PAGE || older) break;
  }
  if (!run) return undefined;
  return { id: run.id, answer: adoptedAnswer(run) };
}

/** Runs after a failed one searched for its retry. */
const RETRY_SEARCH_LIMIT = 20;

/**
 * The run that retries run `runId`: among the job's runs created after it
 * (`id__gt`, oldest first, with their triggers), the first one that says it
 * is a retry of it; undefined when none does.
 */
export async function retryRunOf(
  api: AdminClient,
  jobId: string,
  runId: string,
  signal?: AbortSignal,
): Promise<Run | undefined> {
  const runs = await api.runs({
    job_definition_id: jobId,
    id__gt: runId,
    order_by: "id",
    limit: String(RETRY_SEARCH_LIMIT),
    include_related: "trigger",
  }, signal);
  return runs.find((r) => isRetryOf(r, runId));
}

/**
 * Whether `run` is dbt Cloud's retry of run `runId`: its `retrying_run_id`
 * names it, or (where dbt Cloud leaves that out) its trigger's
 * `cause_category` is `rerun`.
 */
export function isRetryOf(run: Run, runId: string): boolean {
  if (run.retrying_run_id != null) return run.retrying_run_id === runId;
  return run.trigger?.cause_category === "rerun";
}

/** A run found by a search, as the answer of the request it stands for. */
function adoptedAnswer(run: Run): HttpAnswer {
  const text = JSON.stringify({
    status: {
      code: 200,
      is_success: true,
      user_message: "Adopted",
      developer_message: "",
    },
    data: run,
  });
  return { status: 200, text, headers: new Headers() };
}

/** Parse dbt Cloud's `2021-11-26 16:48:41.431645+00:00` (ms since epoch; NaN if bad). */
export function parseDbtTime(text: string): number {
  const m = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$/
    .exec(text.trim());
  if (!m) return Number.NaN;
  const frac = m[3] ? m[3].slice(0, 4) : "";
  return Date.parse(`${m[1]}T${m[2]}${frac}${m[4] ?? "Z"}`);
}
