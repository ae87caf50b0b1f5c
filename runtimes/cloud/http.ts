/**
 * HTTP transport of the dbt Cloud client: bearer authentication (the token
 * re-resolved once after a 401), timeouts on every request, retries with
 * exponential backoff and jitter (a count, or until a deadline for polling),
 * Retry-After capped at min(5 min, time left), redirects followed only within
 * the same origin (the Authorization header never leaves it), and a hook for
 * requests that are not idempotent (an ambiguous failure asks before retrying).
 *
 * @module
 */
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import {
  decodeChunks,
  MAX_ARTIFACT_BYTES_ENV,
  maxArtifactBytes,
} from "../../src/os/safe_fs.ts";
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
      // setTimeout fires at once past 2^31-1 ms: never ask it for more.
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.min(Math.max(0, ms), MAX_TIMER_MS));
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/** The longest wait setTimeout accepts (2^31-1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The longest Retry-After honoured (5 minutes). */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** Receives warnings and debug notes (never the token). */
export type Logger = (
  level: "debug" | "info" | "warn",
  message: string,
) => void;

/** Settings of the transport. */
export interface HttpOptions {
  /** Resolves the API token; called again (once) after a 401. */
  token: () => Promise<string>;
  tokenRef: string;
  accountId: string;
  requestTimeoutMs: number;
  clock: Clock;
  logger: Logger;
  /** Retries after the first attempt (seed: 3, waiting 2 s, 4 s, 8 s). */
  retries?: number;
  /** First backoff, ms (doubles each retry). */
  backoffMs?: number;
  /** Longest backoff between retries, ms (Retry-After may ask for more). */
  maxBackoffMs?: number;
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
  /**
   * Retry transient failures (network errors, 5xx, 429) until this time
   * (ms since the epoch) instead of a fixed count: polling a run survives
   * an outage as long as the run's own deadline allows.
   */
  until?: number | undefined;
}

/** Same-origin redirects followed per request. */
const MAX_REDIRECTS = 5;

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
  #token: Promise<string> | undefined;
  /** Requests sent (attempts), for metadata. */
  attempts = 0;

  constructor(options: HttpOptions) {
    this.#o = {
      retries: 3,
      backoffMs: 2000,
      maxBackoffMs: 60_000,
      random: Math.random,
      ...options,
    };
  }

  #currentToken(): Promise<string> {
    this.#token ??= this.#o.token();
    this.#token.catch(() => (this.#token = undefined));
    return this.#token;
  }

  /** Send with retries; throws FloeDbtError E009/E008 (E007 past `until`). */
  async send(init: RequestInit2): Promise<HttpAnswer> {
    const what = `${init.method} ${new URL(init.url).pathname}`;
    const clock = this.#o.clock;
    let last = "";
    let reauthorized = false;
    for (let attempt = 0;; attempt++) {
      const r = await this.#once(init, what);
      let retryAfterMs: number | undefined;
      if ("answer" in r) {
        const a = r.answer;
        if (
          (a.status >= 200 && a.status < 300) || init.accept?.includes(a.status)
        ) {
          return a;
        }
        if (a.status === 401 && !reauthorized && await this.#rotated()) {
          // The secret changed (a rotated token file): one more try with it.
          reauthorized = true;
          attempt--;
          continue;
        }
        last = `${a.status} ${REASON[a.status] ?? "error"}${
          userMessage(a.text)
        }`;
        if (!(a.status === 429 || a.status >= 500)) throw this.#fatal(what, a);
        retryAfterMs = parseRetryAfter(a.headers.get("retry-after"), clock);
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
      const left = init.until === undefined
        ? Number.POSITIVE_INFINITY
        : init.until - clock.now();
      if (init.until === undefined ? attempt >= this.#o.retries : left <= 0) {
        break;
      }
      const backoff = Math.min(
        this.#o.backoffMs * 2 ** Math.min(attempt, 30),
        this.#o.maxBackoffMs,
      );
      const delay = Math.min(
        Math.max(
          retryAfterMs === undefined
            ? 0
            : Math.min(retryAfterMs, MAX_RETRY_AFTER_MS),
          backoff + Math.floor(this.#o.random() * backoff / 4),
        ),
        left,
        MAX_TIMER_MS,
      );
      this.#o.logger(
        "info",
        `dbt Cloud ${what}: ${last}; retry ${attempt + 1}${
          init.until === undefined ? `/${this.#o.retries}` : ""
        } in ${(delay / 1000).toFixed(1)} s`,
      );
      try {
        await clock.sleep(delay, init.signal);
      } catch (e) {
        throw cancelled(what, e);
      }
    }
    if (init.until !== undefined) {
      throw new FloeDbtError(
        ERROR_CODES.timeout,
        `dbt Cloud API ${what} kept failing until the run's deadline: ${last}`,
        {
          hint:
            "dbt Cloud was unreachable, rate-limited or degraded for the whole timeout_seconds: check https://status.getdbt.com and the run in dbt Cloud",
        },
      );
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

  /** Re-read the secret after a 401; true when it changed. */
  async #rotated(): Promise<boolean> {
    const before = await this.#currentToken().catch(() => undefined);
    this.#token = undefined;
    try {
      const now = await this.#currentToken();
      if (now === before) return false;
      this.#o.logger(
        "info",
        `dbt Cloud answered 401: api_token_ref '${this.#o.tokenRef}' resolves to a new token; retrying once with it`,
      );
      return true;
    } catch {
      return false;
    }
  }

  async #once(
    init: RequestInit2,
    what: string,
  ): Promise<{ answer: HttpAnswer } | { error: string; ambiguous: boolean }> {
    init.signal?.throwIfAborted();
    const token = await this.#currentToken();
    const timeout = AbortSignal.timeout(this.#o.requestTimeoutMs);
    const signal = init.signal
      ? AbortSignal.any([init.signal, timeout])
      : timeout;
    this.attempts++;
    try {
      let url = init.url;
      for (let hop = 0;; hop++) {
        const res = await fetch(url, {
          method: init.method,
          headers: {
            Authorization: `Bearer ${token}`,
            Accept: "application/json",
            ...(init.body !== undefined
              ? { "Content-Type": "application/json" }
              : {}),
          },
          body: init.body !== undefined ? JSON.stringify(init.body) : null,
          signal,
          // Never let fetch follow a redirect: it would carry Authorization.
          redirect: "manual",
        });
        if (res.status >= 300 && res.status < 400) {
          await res.body?.cancel();
          url = this.#redirect(url, res, what, hop);
          continue;
        }
        const text = await cappedText(res, what);
        return { answer: { status: res.status, text, headers: res.headers } };
      }
    } catch (e) {
      if (e instanceof FloeDbtError) throw e;
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

  /** The next URL of a same-origin redirect; anything else is E009. */
  #redirect(from: string, res: Response, what: string, hop: number): string {
    const location = res.headers.get("location");
    let to: URL | undefined;
    try {
      to = location ? new URL(location, from) : undefined;
    } catch {
      to = undefined;
    }
    const origin = new URL(from).origin;
    if (!to || to.origin !== origin || hop >= MAX_REDIRECTS) {
      const where = to ? `'${to.host}'` : JSON.stringify(location ?? "");
      throw new FloeDbtError(
        ERROR_CODES.remoteApi,
        `dbt Cloud API ${what} answered ${res.status} redirecting to ${where}: ${
          hop >= MAX_REDIRECTS
            ? `more than ${MAX_REDIRECTS} redirects`
            : "redirects leaving the access URL's origin are refused, so the API token is never sent there"
        }`,
        {
          hint:
            "set base_url to the account's access URL itself (the host dbt Cloud redirects to, if you trust it)",
          details: { http_status: res.status },
        },
      );
    }
    return to.toString();
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

/**
 * Retry-After as delta-seconds or an HTTP date, in ms; undefined when absent
 * or unreadable. Never negative; huge values stay finite (callers cap them).
 */
export function parseRetryAfter(
  value: string | null,
  clock: Clock,
): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) {
    const ms = Number(v) * 1000;
    return Number.isFinite(ms) ? ms : Number.MAX_SAFE_INTEGER;
  }
  if (!/[A-Za-z]/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - clock.now());
}

/**
 * An answer's body as text, at most the artifact size cap
 * (FLOE_DBT_MAX_ARTIFACT_BYTES): an artifact download never fills memory.
 */
async function cappedText(res: Response, what: string): Promise<string> {
  const max = maxArtifactBytes();
  const tooBig = (size: string) =>
    new FloeDbtError(
      ERROR_CODES.remoteApi,
      `dbt Cloud's answer to ${what} is ${size} bytes, over the ${max}-byte limit`,
      {
        hint:
          `raise the limit with ${MAX_ARTIFACT_BYTES_ENV} if the artifact is really that large`,
        details: { limit: max },
      },
    );
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > max) {
    await res.body?.cancel();
    throw tooBig(String(declared));
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel();
      throw tooBig(`more than ${max}`);
    }
    chunks.push(value);
  }
  return decodeChunks(chunks);
}
