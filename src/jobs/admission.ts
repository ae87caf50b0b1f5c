/**
 * Which submits become jobs: an Idempotency-Key gives back its first job
 * (422 when reused for a different request, also while that job's journal
 * line is still being written), and a full queue refuses (429 with
 * Retry-After). The runner asks before it creates a job and tells after.
 *
 * @module
 */
import type { RuntimeName } from "../config/config.ts";
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import type { Job, JobRequest } from "./schemas.ts";

/** Default queue bound (`serve --max-queued`). */
export const DEFAULT_MAX_QUEUED = 1000;
/** What a refused submit tells the caller to wait, in seconds. */
const QUEUE_FULL_RETRY_AFTER_S = 5;

/** JSON with object keys sorted, so equal values give equal text. */
export function canonical(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(
          Object.entries(v).filter(([, x]) => x !== undefined).sort((
            [a],
            [b],
          ) => a < b ? -1 : a > b ? 1 : 0),
        )
        : v,
  );
}

/** What an Idempotency-Key stands for: the validated request and its runtime. */
function requestKey(request: JobRequest, runtime: RuntimeName): string {
  return canonical({ request, runtime });
}

/** Idempotency keys and the queue bound of one runner. */
export class Admission {
  readonly #maxQueued: number;
  /** Idempotency key -> job id. */
  readonly #keys = new Map<string, string>();
  /** Journal writes in flight, by idempotency key. */
  readonly #writing = new Map<string, Promise<void>>();
  /** Submits between the queue check and the job entering the runner. */
  #creating = 0;

  constructor(maxQueued = DEFAULT_MAX_QUEUED) {
    this.#maxQueued = maxQueued;
  }

  /**
   * The journal write in flight for `key`, if any: await it before
   * {@link existing}, and only then (an await with nothing to wait for would
   * let two submits with one key both pass the check).
   */
  writing(key: string): Promise<void> | undefined {
    return this.#writing.get(key);
  }

  /**
   * The job a key already stands for (undefined: a new one may be made).
   * Synchronous, as is everything from here to {@link creating}: two submits
   * with one key make one job. Throws 422 when the key was used for a
   * different request.
   */
  existing(
    key: string,
    request: JobRequest,
    runtime: RuntimeName,
    find: (id: string) => Job | undefined,
  ): Job | undefined {
    const job = find(this.#keys.get(key) ?? "");
    if (!job) return undefined;
    if (
      requestKey(job.request, job.runtime) !== requestKey(request, runtime)
    ) {
      throw new FloeDbtError(
        ERROR_CODES.usage,
        `Idempotency-Key '${key}' was already used for a different request (job ${job.id})`,
        {
          hint:
            "use a new key for a new request; resend exactly the same body to get the first job back",
          details: { http_status: 422 },
        },
      );
    }
    return job;
  }

  /** Refuse a submit when `maxQueued` jobs already wait (429, Retry-After). */
  checkQueue(jobs: Iterable<Job>): void {
    let queued = this.#creating;
    for (const j of jobs) if (j.status === "queued") queued++;
    if (queued < this.#maxQueued) return;
    throw new FloeDbtError(
      ERROR_CODES.unavailable,
      `The queue is full: ${queued} jobs wait to run (max_queued ${this.#maxQueued})`,
      {
        hint:
          `retry after ${QUEUE_FULL_RETRY_AFTER_S} seconds (Retry-After), or start the daemon with a larger --max-queued`,
        details: { http_status: 429, retry_after: QUEUE_FULL_RETRY_AFTER_S },
      },
    );
  }

  /**
   * Count a job being written (its journal line `written`) until it is;
   * call it right after {@link existing} and {@link checkQueue}, with no
   * await between them.
   */
  async creating(key: string | undefined, written: Promise<void>) {
    if (key) this.#writing.set(key, written);
    this.#creating++;
    try {
      await written;
    } finally {
      this.#creating--;
      if (key) this.#writing.delete(key);
    }
  }

  /** A job now stands for `key`. */
  remember(key: string | null | undefined, id: string): void {
    if (key) this.#keys.set(key, id);
  }

  /** A forgotten job's key is free again. */
  forget(key: string | null | undefined): void {
    if (key) this.#keys.delete(key);
  }
}
