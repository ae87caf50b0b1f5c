/**
 * A job's progress as Server-Sent Events, pulled by the client: events are
 * numbered by their position in the job (`id:`), so a client that reconnects
 * with `Last-Event-ID` gets only what it missed; a comment line every 15 s
 * keeps proxies from closing an idle stream; a client that stops reading is
 * dropped once its backlog passes a cap; shutdown ends every stream at once.
 * Events older than the job's in-memory tail are read from its events file
 * as the client pulls (see src/jobs/event_log.ts), so replay is complete.
 * {@link StreamCaps} bounds how many streams are open, per job and in all.
 *
 * @module
 */
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import type { ProgressEvent } from "../contract/schemas.ts";

/** What the stream reads from: replay plus a live subscription. */
export interface SseSource {
  /** Events from id `base` (default 0) on, in memory. */
  replay: ProgressEvent[];
  base?: number;
  /** Events with ids in [from, base), read lazily (from the events file). */
  older?(from: number): AsyncIterator<[number, ProgressEvent]>;
  done: boolean;
  unsubscribe(): void;
}

/** How to build one stream. */
export interface SseOptions {
  /** Subscribe to the job; `push(null)` ends the stream. */
  subscribe(push: (event: ProgressEvent | null) => void): SseSource;
  /** The `Last-Event-ID` the client sent, or -1. */
  lastEventId: number;
  /** Streams to end on shutdown register here while open. */
  streams: Set<() => void>;
  heartbeatMs?: number;
  /** Backlog (events not yet read) past which a client is dropped. */
  maxBacklog?: number;
  /** Called once when the stream ends, however it ends. */
  onClose?: () => void;
}

/** How many event streams may be open. */
export interface StreamLimits {
  perJob: number;
  total: number;
}

/** Default stream caps: 64 per job, 1024 in all. */
export const DEFAULT_STREAM_LIMITS: StreamLimits = { perJob: 64, total: 1024 };

/** Counts open event streams; refuses one past a cap. */
export class StreamCaps {
  readonly limits: StreamLimits;
  readonly #perJob = new Map<string, number>();
  #total = 0;

  constructor(limits: Partial<StreamLimits> = {}) {
    this.limits = { ...DEFAULT_STREAM_LIMITS, ...limits };
  }

  /** Streams open now. */
  get open(): number {
    return this.#total;
  }

  /**
   * Take a place for one stream of `jobId`; returns its release (idempotent).
   * Throws 429 past the per-job cap, 503 past the total, both with Retry-After.
   */
  acquire(jobId: string): () => void {
    const mine = this.#perJob.get(jobId) ?? 0;
    if (mine >= this.limits.perJob) {
      throw new FloeDbtError(
        ERROR_CODES.unavailable,
        `Too many event streams for job '${jobId}': ${mine} open (at most ${this.limits.perJob} per job)`,
        {
          hint:
            "close a stream of this job first, or poll GET /v1/jobs/{id} instead",
          details: { http_status: 429, retry_after: 5 },
        },
      );
    }
    if (this.#total >= this.limits.total) {
      throw new FloeDbtError(
        ERROR_CODES.unavailable,
        `Too many event streams: ${this.#total} open (at most ${this.limits.total}; serve --max-streams)`,
        {
          hint: "retry later, or poll GET /v1/jobs/{id} instead",
          details: { http_status: 503, retry_after: 5 },
        },
      );
    }
    this.#perJob.set(jobId, mine + 1);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#perJob.get(jobId) ?? 1) - 1;
      if (left > 0) this.#perJob.set(jobId, left);
      else this.#perJob.delete(jobId);
    };
  }
}

/** Parse a `Last-Event-ID` header: a non-negative integer, else -1. */
export function lastEventIdOf(header: string | undefined): number {
  return header && /^\d{1,9}$/.test(header.trim()) ? Number(header.trim()) : -1;
}

/** The SSE body for one subscriber. */
export function sseStream(o: SseOptions): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  const queue: string[] = [];
  let ended = false;
  let n = 0;
  let wake: (() => void) | undefined;
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  let source: SseSource | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let older: AsyncIterator<[number, ProgressEvent]> | undefined;
  let closed = false;

  const cleanup = () => {
    clearInterval(timer);
    source?.unsubscribe();
    o.streams.delete(abort);
    void older?.return?.()?.catch?.(() => {});
    older = undefined;
    wake?.();
    if (!closed) {
      closed = true;
      o.onClose?.();
    }
  };
  function abort() {
    if (ended) return;
    ended = true;
    cleanup();
    try {
      ctrl.error(new Error("the agent is shutting down"));
    } catch {
      // already closed
    }
  }
  const push = (e: ProgressEvent | null) => {
    if (ended) return;
    if (e === null) {
      queue.push("");
    } else {
      const id = n++;
      if (id <= o.lastEventId) return;
      queue.push(
        `id: ${id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`,
      );
    }
    if (queue.length > (o.maxBacklog ?? 10_000)) abort();
    wake?.();
  };

  return new ReadableStream<Uint8Array>({
    start(c) {
      ctrl = c;
      o.streams.add(abort);
      source = o.subscribe(push);
      const base = source.base ?? 0;
      n = base;
      if (source.older && o.lastEventId + 1 < base) {
        older = source.older(Math.max(0, o.lastEventId + 1));
      }
      for (const e of source.replay) push(e);
      if (source.done) push(null);
      timer = setInterval(() => {
        if (!queue.length) queue.push(": heartbeat\n\n");
        wake?.();
      }, o.heartbeatMs ?? 15_000);
      Deno.unrefTimer(timer);
    },
    async pull(c) {
      // The file's part first, read as the client pulls.
      while (older && !ended) {
        const r = await older.next().catch(() => ({ done: true as const }));
        if (r.done || ended) {
          older = undefined;
          break;
        }
        const [id, e] = r.value as [number, ProgressEvent];
        c.enqueue(
          enc.encode(
            `id: ${id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`,
          ),
        );
        return;
      }
      while (!queue.length && !ended) {
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      if (ended) return;
      const chunk = queue.shift()!;
      if (chunk === "") {
        ended = true;
        cleanup();
        c.close();
        return;
      }
      c.enqueue(enc.encode(chunk));
    },
    cancel() {
      ended = true;
      cleanup();
    },
  });
}
