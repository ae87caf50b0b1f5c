/**
 * dbt Cloud Admin API v2 client, HTTP only: the account's endpoints (runs,
 * a run, cancel, artifacts) and their answers, every JSON answer validated.
 * Starting runs exactly once is adoption.ts; waiting for one, polling.ts;
 * which URLs are allowed, url_policy.ts.
 *
 * @module
 */
import type { z } from "zod";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import { type Clock, Http, type HttpAnswer, type Logger } from "./http.ts";
import {
  describeIssue,
  type Run,
  RunEnvelopeSchema,
  RunListEnvelopeSchema,
} from "./schemas.ts";
import { accessUrl, checkHttps } from "./url_policy.ts";

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

/** Admin API v2 client for one account. */
export class AdminClient {
  readonly http: Http;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly #root: string;

  constructor(o: ClientOptions) {
    checkHttps(o.baseUrl, "base_url");
    this.clock = o.clock;
    this.logger = o.logger;
    this.#root = `${accessUrl(o.baseUrl)}/api/v2/accounts/${o.accountId}`;
    this.http = new Http({ ...o });
  }

  /** The URL of an account endpoint, e.g. `runs/42/`, with its query. */
  url(path: string, query: Record<string, string> = {}): string {
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

  /** A run answer's run (a trigger's, a retry's, a cancel's). */
  parseRun(a: HttpAnswer, what: string): Run {
    return this.#parse(a, RunEnvelopeSchema, what).data;
  }

  /** One page of the account's runs (GET .../runs/ with this query). */
  async runs(
    query: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Run[]> {
    const a = await this.http.send({
      method: "GET",
      url: this.url("runs/", query),
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
    return await this.runs({
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

  /** The job's newest successful run (one list call), or undefined. */
  async latestSuccess(
    jobId: string,
    signal?: AbortSignal,
  ): Promise<Run | undefined> {
    const runs = await this.runs({
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
      url: this.url(`runs/${runId}/`, { include_related: "run_steps,job" }),
      signal,
      until,
    });
    return this.#parse(a, RunEnvelopeSchema, `GET runs/${runId}/`).data;
  }

  /** Cancel a run (POST .../runs/{id}/cancel/). */
  async cancel(runId: string): Promise<Run> {
    const a = await this.http.send({
      method: "POST",
      url: this.url(`runs/${runId}/cancel/`),
    });
    return this.#parse(a, RunEnvelopeSchema, `POST runs/${runId}/cancel/`).data;
  }

  /**
   * A run's raw artifact, or undefined when dbt Cloud has none (404): the
   * last step's, or step `step`'s (1-based, the run step's `index`).
   */
  async runArtifact(
    runId: string,
    path: string,
    signal?: AbortSignal,
    step?: number,
  ): Promise<string | undefined> {
    return await this.#artifact(
      `runs/${runId}/artifacts/${path}`,
      signal,
      step === undefined ? undefined : { step: String(step) },
    );
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
    query?: Record<string, string>,
  ): Promise<string | undefined> {
    const a = await this.http.send({
      method: "GET",
      url: this.url(path, query),
      signal,
      accept: [404],
    });
    return a.status === 404 ? undefined : a.text;
  }
}
