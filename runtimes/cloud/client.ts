/**
 * dbt Cloud Admin API v2 client: trigger and retry (adopting the run after an
 * ambiguous failure instead of starting a second one), poll with exponential
 * backoff, cancel, list runs and raw artifacts. Every JSON answer is validated.
 *
 * @module
 */
import { deadlineError } from "../../src/deadline.ts";
import type { z } from "zod";
import { ERROR_CODES, FloeDbtError } from "../../src/errors.ts";
import { type Clock, Http, type HttpAnswer, type Logger } from "./http.ts";
import {
  describeIssue,
  isTerminal,
  type Run,
  RunEnvelopeSchema,
  RunListEnvelopeSchema,
} from "./schemas.ts";

/** Hosts dbt retires on 2026-11-01 (use the account's access URL instead). */
export const LEGACY_HOSTS = ["cloud.getdbt.com", "emea.dbt.com", "au.dbt.com"];

/** The account's access URL without `/api/v2` or a trailing slash. */
export function accessUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "").replace(/\/api\/v2$/, "");
}

/** Is `host` (a URL's hostname) a loopback name or address? */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h.endsWith(".localhost") || h === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Refuse a dbt Cloud URL that is not https (loopback http is allowed, for
 * tests and local proxies): the API token must never travel in clear text.
 */
export function checkHttps(url: string, key: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FloeDbtError(
      ERROR_CODES.configuration,
      `${key} is not a URL: ${JSON.stringify(url)}`,
      { hint: `set ${key} to the account's https access URL` },
    );
  }
  if (u.protocol === "https:") return;
  if (u.protocol === "http:" && isLoopback(u.hostname)) return;
  throw new FloeDbtError(
    ERROR_CODES.configuration,
    `${key} must use https (http only for loopback addresses): ${
      JSON.stringify(url)
    }`,
    {
      hint:
        `set ${key} to an https:// URL, e.g. https://ACCOUNT_PREFIX.us1.dbt.com; the API token is sent with every request`,
    },
  );
}

/** Settings of the client. */
export interface ClientOptions {
  baseUrl: string;
  accountId: string;
  /** Resolves the API token (again after a 401, for rotated secrets). */
  token: () => Promise<string>;
  tokenRef: string;
  requestTimeoutMs: number;
  clock: Clock;
  logger: Logger;
  random?: () => number;
  retries?: number;
  /** First retry backoff, ms (tests pass a small one). */
  backoffMs?: number;
}

/** The body of a trigger (Admin API TriggerRunRequestRequest). */
export interface TriggerBody {
  cause: string;
  steps_override?: string[];
  target_name_override?: string;
  threads_override?: number;
}

/** Runs per page when searching runs (the API's maximum). */
const PAGE = 100;
/** Pages searched for a trigger's run before giving up. */
const MAX_PAGES = 50;

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

/** Admin API v2 client for one account. */
export class AdminClient {
  readonly http: Http;
  readonly #root: string;
  readonly #o: ClientOptions;

  constructor(o: ClientOptions) {
    checkHttps(o.baseUrl, "base_url");
    this.#o = o;
    this.#root = `${accessUrl(o.baseUrl)}/api/v2/accounts/${o.accountId}`;
    this.http = new Http({ ...o });
  }

  #url(path: string, query: Record<string, string> = {}): string {
    const u = new URL(`${this.#root}/${path}`);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    return u.toString();
  }

  #parse<T extends z.ZodType>(
    a: HttpAnswer,
    schema: T,
    what: string,
  ): z.infer<T> {
    let json: unknown;
    try {
      json = JSON.parse(a.text);
    } catch {
      throw new FloeDbtError(
        ERROR_CODES.remoteApi,
        `dbt Cloud API ${what} answered ${a.status} with invalid JSON: ${
          JSON.stringify(a.text.slice(0, 80))
        }`,
        {
          hint:
            "a proxy or an outage may have answered instead of dbt Cloud; check base_url and retry",
        },
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new FloeDbtError(
        ERROR_CODES.remoteApi,
        `dbt Cloud API ${what} answered in an unexpected shape: ${
          describeIssue(parsed.error)
        }`,
        {
          hint:
            "the Admin API v2 may have changed; report it with this message",
        },
      );
    }
    return parsed.data;
  }

  /**
   * Trigger a job run; `cause` must carry a unique nonce (see steps.ts
   * causeFor). An abort while the POST is in flight cancels the run it may
   * have made, unless `detach` is aborted (the caller finds it by its cause
   * after a restart).
   */
  async trigger(
    jobId: string,
    body: TriggerBody,
    signal?: AbortSignal,
    detach?: AbortSignal,
  ): Promise<{ run: Run; adopted: boolean }> {
    const since = this.#o.clock.now();
    let adopted = false;
    let a: HttpAnswer;
    try {
      a = await this.http.send({
        method: "POST",
        url: this.#url(`jobs/${jobId}/run/`),
        body,
        signal,
        onAmbiguous: async () => {
          const found = await this.findTriggered(
            jobId,
            body.cause,
            since,
            signal,
          );
          if (!found) return undefined;
          adopted = true;
          this.#o.logger(
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
        await this.#cancelStray(() =>
          this.findTriggered(jobId, body.cause, since)
        );
      }
      throw e;
    }
    const run =
      this.#parse(a, RunEnvelopeSchema, `POST jobs/${jobId}/run/`).data;
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
  async retry(
    jobId: string,
    runId: string,
    signal?: AbortSignal,
    detach?: AbortSignal,
  ): Promise<{ run: Run; adopted: boolean }> {
    const path = `runs/${runId}/retry/`;
    const find = async (s?: AbortSignal) => {
      const run = await this.retryRunOf(jobId, runId, s);
      return run ? { id: run.id, run } : undefined;
    };
    const adopt = (found: { id: string }) => {
      this.#o.logger(
        "warn",
        `adopted dbt Cloud run ${found.id} after an ambiguous retry failure`,
      );
    };
    let adopted = false;
    let ambiguous = false;
    let a: HttpAnswer;
    try {
      a = await this.http.send({
        method: "POST",
        url: this.#url(path),
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
        await this.#cancelStray(() => find());
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
      run: this.#parse(a, RunEnvelopeSchema, `POST ${path}`).data,
      adopted,
    };
  }

  async #cancelStray(
    find: () => Promise<{ id: string } | undefined>,
  ): Promise<void> {
    try {
      const found = await find();
      if (!found) return;
      await this.cancel(found.id);
      this.#o.logger(
        "warn",
        `cancelled dbt Cloud run ${found.id}, triggered while the call was being cancelled`,
      );
    } catch (e) {
      this.#o.logger(
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
  async findTriggered(
    jobId: string,
    cause: string,
    sinceMs: number,
    signal?: AbortSignal,
  ): Promise<{ id: string; answer: HttpAnswer } | undefined> {
    const oldest = sinceMs - 5 * 60_000;
    let run: Run | undefined;
    for (let page = 0; page < MAX_PAGES && !run; page++) {
      const runs = await this.#runs({
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

  async #runs(
    query: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Run[]> {
    const a = await this.http.send({
      method: "GET",
      url: this.#url("runs/", query),
      signal,
    });
    return this.#parse(a, RunListEnvelopeSchema, "GET runs/").data;
  }

  /** The newest runs of a job (GET .../runs/?job_definition_id=..&order_by=-id). */
  async listRuns(
    jobId: string,
    limit = 20,
    signal?: AbortSignal,
  ): Promise<Run[]> {
    return await this.#runs({
      job_definition_id: jobId,
      order_by: "-id",
      limit: String(limit),
    }, signal);
  }

  /** The job's newest run, whatever its status (one list call), or undefined. */
  async newestRun(
    jobId: string,
    signal?: AbortSignal,
  ): Promise<Run | undefined> {
    return (await this.listRuns(jobId, 1, signal))[0];
  }

  /**
   * The run that retries run `runId`: among the job's runs created after it
   * (`id__gt`, oldest first, with their triggers), the first one that says it
   * is a retry of it; undefined when none does.
   */
  async retryRunOf(
    jobId: string,
    runId: string,
    signal?: AbortSignal,
  ): Promise<Run | undefined> {
    const runs = await this.#runs({
      job_definition_id: jobId,
      id__gt: runId,
      order_by: "id",
      limit: String(RETRY_SEARCH_LIMIT),
      include_related: "trigger",
    }, signal);
    return runs.find((r) => isRetryOf(r, runId));
  }

  /** The job's newest successful run (one list call), or undefined. */
  async latestSuccess(
    jobId: string,
    signal?: AbortSignal,
  ): Promise<Run | undefined> {
    const runs = await this.#runs({
      job_definition_id: jobId,
      status: "10",
      order_by: "-id",
      limit: "1",
    }, signal);
    return runs[0];
  }

  /** One run with its steps and job; transient failures retried until `until`. */
  async getRun(
    runId: string,
    signal?: AbortSignal,
    until?: number,
  ): Promise<Run> {
    const a = await this.http.send({
      method: "GET",
      url: this.#url(`runs/${runId}/`, { include_related: "run_steps,job" }),
      signal,
      until,
    });
    return this.#parse(a, RunEnvelopeSchema, `GET runs/${runId}/`).data;
  }

  /** Cancel a run (POST .../runs/{id}/cancel/). */
  async cancel(runId: string): Promise<Run> {
    const a = await this.http.send({
      method: "POST",
      url: this.#url(`runs/${runId}/cancel/`),
    });
    return this.#parse(a, RunEnvelopeSchema, `POST runs/${runId}/cancel/`).data;
  }

  /** A run's raw artifact, or undefined when dbt Cloud has none (404). */
  async runArtifact(
    runId: string,
    path: string,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    return await this.#artifact(`runs/${runId}/artifacts/${path}`, signal);
  }

  /** The job's latest artifact, or undefined (404). */
  async jobArtifact(
    jobId: string,
    path: string,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    return await this.#artifact(`jobs/${jobId}/artifacts/${path}`, signal);
  }

  async #artifact(
    path: string,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const a = await this.http.send({
      method: "GET",
      url: this.#url(path),
      signal,
      accept: [404],
    });
    return a.status === 404 ? undefined : a.text;
  }

  /** Poll until the run finishes; on timeout or abort cancel it and throw E007/E008. */
  async waitForRun(runId: string, p: PollOptions): Promise<Run> {
    const clock = this.#o.clock;
    const deadline = clock.now() + p.timeoutMs;
    let interval = p.minIntervalMs;
    while (true) {
      let run: Run;
      try {
        // Outages (network errors, 5xx, 429) are waited out until the deadline.
        run = await this.getRun(runId, p.signal, deadline);
      } catch (e) {
        if (p.detach?.aborted) throw p.detach.reason;
        if (e instanceof FloeDbtError && e.code === ERROR_CODES.cancelled) {
          throw await this.#cancelled(runId, e);
        }
        if (e instanceof FloeDbtError && e.code === ERROR_CODES.timeout) {
          const note = await this.#tryCancel(runId);
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
        const note = await this.#tryCancel(runId);
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
        throw await this.#cancelled(runId, e);
      }
      interval = Math.min(interval * 2, p.maxIntervalMs);
    }
  }

  async #cancelled(runId: string, cause: unknown): Promise<FloeDbtError> {
    const note = await this.#tryCancel(runId);
    return new FloeDbtError(
      ERROR_CODES.cancelled,
      `Cancelled while waiting for dbt Cloud run ${runId}; ${note}`,
      { hint: "the caller cancelled the operation", cause },
    );
  }

  async #tryCancel(runId: string): Promise<string> {
    try {
      const r = await this.cancel(runId);
      return `the remote run was cancelled (status ${
        r.status_humanized ?? r.status
      })`;
    } catch (e) {
      return `cancelling the remote run failed (${
        (e as Error).message
      }): cancel it in dbt Cloud`;
    }
  }
}

/** Runs after a failed one searched for its retry. */
const RETRY_SEARCH_LIMIT = 20;

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
