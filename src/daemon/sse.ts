/**
 * A job's progress as Server-Sent Events, pulled by the client: events are
 * numbered by their position in the job (`id:`), so a client that reconnects
 * with `Last-Event-ID` gets only what it missed; a comment line every 15 s
 * keeps proxies from closing an idle stream; a client that stops reading is
 * dropped once its backlog passes a cap; shutdown ends every stream at once.
 *
 * @module
 */
import type { ProgressEvent } from "../schemas.ts";

/** What the stream reads from: replay plus a live subscription. */
export interface SseSource {
  replay: ProgressEvent[];
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

  const cleanup = () => {
    clearInterval(timer);
    source?.unsubscribe();
    o.streams.delete(abort);
    wake?.();
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
      for (const e of source.replay) push(e);
      if (source.done) push(null);
      timer = setInterval(() => {
        if (!queue.length) queue.push(": heartbeat\n\n");
        wake?.();
      }, o.heartbeatMs ?? 15_000);
      Deno.unrefTimer(timer);
    },
    async pull(c) {
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
