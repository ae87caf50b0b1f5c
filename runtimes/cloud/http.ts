/**
 * HTTP transport of the dbt Cloud client: timeouts on every request, retries
 * with exponential backoff and jitter, Retry-After, and a hook for requests
 * that are not idempotent (an ambiguous failure asks before retrying).
 *
 * @module
 */
import { ERROR_CODES, FloeDbtError } from "../../src/errors.ts";
import { ErrorEnvelopeSchema } from "./schemas.ts";

/** Injectable time: tests pass a fake so backoff never waits for real. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Wait `ms`; rejects with the signal's reason when it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/** Receives warnings and debug notes (never the token). */
export type Logger = (
  level: "debug" | "info" | "warn",
  message: string,
) => void;

/** Settings of the transport. */
export interface HttpOptions {
  token: string;
  tokenRef: string;
  accountId: string;
  requestTimeoutMs: number;
  clock: Clock;
  logger: Logger;
  /** Retries after the first attempt (seed: 3, waiting 2 s, 4 s, 8 s). */
  retries?: number;
  /** First backoff, ms (doubles each retry). */
  backoffMs?: number;
  /** 0..1; jitter adds up to a quarter of the delay. Tests pass () => 0. */
  random?: () => number;
}

/** One HTTP answer, body read. */
export interface HttpAnswer {
  status: number;
  text: string;
  headers: Headers;
}

/** Per-request settings. */
export interface RequestInit2 {
  method: "GET" | "POST";
  url: string;
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** Statuses that are an answer, not an error (404 for artifacts). */
  accept?: number[];
  /** For non-idempotent requests: called after an ambiguous failure. A value means "adopted: stop". */
  onAmbiguous?: () => Promise<HttpAnswer | undefined>;
}

const NOT_PROCESSED = new Set([429, 503]);
const REASON: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Transport to the Admin and Discovery APIs. */
export class Http {
  readonly #o: Required<HttpOptions>;
  /** Requests sent (attempts), for metadata. */
  attempts = 0;

  constructor(options: HttpOptions) {
    this.#o = { retries: 3, backoffMs: 2000, random: Math.random, ...options };
  }

  /** Send with retries; throws FloeDbtError E009/E008. */
  async send(init: RequestInit2): Promise<HttpAnswer> {
    const what = `${init.method} ${new URL(init.url).pathname}`;
    let last = "";
    for (let attempt = 0; attempt <= this.#o.retries; attempt++) {
      const r = await this.#once(init, what);
      let retryAfterMs: number | undefined;
      if ("answer" in r) {
        const a = r.answer;
        if (
          (a.status >= 200 && a.status < 300) || init.accept?.includes(a.status)
        ) {
          return a;
        }
        last = `${a.status} ${REASON[a.status] ?? "error"}${
          userMessage(a.text)
        }`;
        if (!(a.status === 429 || a.status >= 500)) throw this.#fatal(what, a);
        retryAfterMs = parseRetryAfter(
          a.headers.get("retry-after"),
          this.#o.clock,
        );
        // 429 and 503 surely were not processed; other 5xx may have been.
        if (!NOT_PROCESSED.has(a.status) && init.onAmbiguous) {
          const adopted = await init.onAmbiguous();
          if (adopted) return adopted;
        }
      } else {
        last = r.error;
        if (r.ambiguous && init.onAmbiguous) {
          const adopted = await init.onAmbiguous();
          if (adopted) return adopted;
        }
      }
      if (attempt === this.#o.retries) break;
      const backoff = this.#o.backoffMs * 2 ** attempt;
      const delay = Math.max(
        retryAfterMs ?? 0,
        backoff + Math.floor(this.#o.random() * backoff / 4),
      );
      this.#o.logger(
        "info",
        `dbt Cloud ${what}: ${last}; retry ${
          attempt + 1
        }/${this.#o.retries} in ${(delay / 1000).toFixed(1)} s`,
      );
      try {
        await this.#o.clock.sleep(delay, init.signal);
      } catch (e) {
        throw cancelled(what, e);
      }
    }
    throw new FloeDbtError(
      ERROR_CODES.remoteApi,
      `dbt Cloud API ${what} failed after ${
        this.#o.retries + 1
      } attempts: ${last}`,
      {
        hint:
          "dbt Cloud is unreachable, rate-limited or degraded: check the base_url, https://status.getdbt.com, and retry later",
      },
    );
  }

  async #once(
    init: RequestInit2,
    what: string,
  ): Promise<{ answer: HttpAnswer } | { error: string; ambiguous: boolean }> {
    init.signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(this.#o.requestTimeoutMs);
    const signal = init.signal
      ? AbortSignal.any([init.signal, timeout])
      : timeout;
    this.attempts++;
    try {
      const res = await fetch(init.url, {
        method: init.method,
        headers: {
          Authorization: `Token ${this.#o.token}`,
          Accept: "application/json",
          ...(init.body !== undefined
            ? { "Content-Type": "application/json" }
            : {}),
        },
        body: init.body !== undefined ? JSON.stringify(init.body) : null,
        signal,
      });
      const text = await res.text();
      return { answer: { status: res.status, text, headers: res.headers } };
    } catch (e) {
      if (init.signal?.aborted) throw cancelled(what, e);
      if (timeout.aborted) {
        return {
          error: `no answer within request_timeout_seconds (${
            this.#o.requestTimeoutMs / 1000
          } s)`,
          ambiguous: true,
        };
      }
      const msg = errorText(e);
      const refused =
        /connection refused|ConnectionRefused|dns error|failed to lookup/i.test(
          msg,
        );
      return { error: `network error: ${msg}`, ambiguous: !refused };
    }
  }

  #fatal(what: string, a: HttpAnswer): FloeDbtError {
    const reason = REASON[a.status] ?? "error";
    const um = userMessage(a.text);
    const hint = a.status === 401
      ? `check api_token_ref '${this.#o.tokenRef}': the token is missing, expired or revoked`
      : a.status === 403
      ? `the token of api_token_ref '${this.#o.tokenRef}' lacks permission on account ${this.#o.accountId} (a service token needs Job Admin or Job Runner)`
      : a.status === 404
      ? "check account_id, job_ids and base_url (the account's access URL)"
      : "dbt Cloud rejected the request; see its message";
    return new FloeDbtError(
      ERROR_CODES.remoteApi,
      `dbt Cloud API ${a.status} ${reason}: ${what}${um}`,
      { hint, details: { http_status: a.status } },
    );
  }
}

function cancelled(what: string, cause: unknown): FloeDbtError {
  return new FloeDbtError(
    ERROR_CODES.cancelled,
    `dbt Cloud request ${what} was cancelled`,
    {
      hint: "the caller cancelled the operation",
      cause,
    },
  );
}

function errorText(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 3 && cur; i++) {
    if (cur instanceof Error) parts.push(cur.message);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(": ") || String(e);
}

/** ` (user_message)` from an error envelope, or "". */
function userMessage(text: string): string {
  try {
    const parsed = ErrorEnvelopeSchema.safeParse(JSON.parse(text));
    const m = parsed.success ? parsed.data.status?.user_message : undefined;
    return m ? `: ${m}` : "";
  } catch {
    return "";
  }
}

/** Retry-After as delta-seconds or an HTTP date, in ms. */
export function parseRetryAfter(
  value: string | null,
  clock: Clock,
): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - clock.now());
}
