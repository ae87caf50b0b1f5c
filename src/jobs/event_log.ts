/**
 * Each job's progress events, bounded in memory: every event is appended to
 * `<state-dir>/events/<job-id>.jsonl` (batched appends, no fsync per event)
 * and only the newest `memoryCap` of a running job stay in memory (never one
 * not yet on disk). An event's id is its position in the job's sequence (its
 * line number in the file), so replay from any id is complete and ids stay
 * stable across restarts. A job's memory is dropped when it ends; from then
 * on the file alone answers.
 *
 * @module
 */
import { join } from "node:path";
import type { ProgressEvent } from "../contract/schemas.ts";

/** An event with its id (position in the job's sequence). */
export type NumberedEvent = [id: number, event: ProgressEvent];

/** How the log is set up. */
export interface EventLogOptions {
  /** `<state-dir>/events`. */
  dir: string;
  /** Events of one running job kept in memory (default 200). */
  memoryCap?: number;
  /** Where write failures are reported. */
  log?: (
    level: "info" | "warn" | "error",
    message: string,
    fields?: Record<string, unknown>,
  ) => void;
}

/** Default in-memory events per running job. */
export const DEFAULT_MEMORY_CAP = 200;

/** Job ids used as file names (no dots, no separators). */
const JOB_ID = /^[A-Za-z0-9_-]{1,100}$/;

interface Live {
  /** Events [base, total) in memory. */
  events: ProgressEvent[];
  base: number;
  total: number;
  /** Lines [0, flushed) are on disk, complete. */
  flushed: number;
  pending: string[];
  file: Deno.FsFile | undefined;
  writing: Promise<void> | undefined;
  /** A write failed: nothing more is written for this job. */
  broken: boolean;
}

/** A snapshot of a job's events: the in-memory tail and where it starts. */
export interface EventWindow {
  /** Id of `events[0]`; ids below it are read from the file. */
  base: number;
  events: ProgressEvent[];
  /** False when the job's events are only on disk (it ended). */
  live: boolean;
}

const enc = new TextEncoder();

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

/** Progress events of every job: a capped tail in memory, all on disk. */
export class EventLog {
  readonly dir: string;
  readonly #cap: number;
  readonly #log: EventLogOptions["log"];
  readonly #live = new Map<string, Live>();
  #dirMade = false;

  constructor(o: EventLogOptions) {
    this.dir = o.dir;
    this.#cap = Math.max(1, o.memoryCap ?? DEFAULT_MEMORY_CAP);
    this.#log = o.log;
  }

  /** The events file of a job (undefined for an id that is no file name). */
  path(id: string): string | undefined {
    return JOB_ID.test(id) ? join(this.dir, `${id}.jsonl`) : undefined;
  }

  /** Events held in memory now, over all jobs (for tests and metrics). */
  get inMemory(): number {
    let n = 0;
    for (const l of this.#live.values()) n += l.events.length;
    return n;
  }

  /** Jobs whose events are held in memory now. */
  get liveJobs(): number {
    return this.#live.size;
  }

  /**
   * Get ready to append a job's events: counts what its file already holds
   * (a job resumed after a restart continues the numbering) and cuts a torn
   * last line left by a crash.
   */
  async open(id: string): Promise<void> {
    if (this.#live.has(id)) return;
    let total = 0;
    const path = this.path(id);
    if (path) {
      await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
      try {
        const bytes = await Deno.readFile(path);
        let end = 0;
        for (let i = 0; i < bytes.length; i++) {
          if (bytes[i] === 10) {
            total++;
            end = i + 1;
          }
        }
        if (end < bytes.length) await Deno.truncate(path, end);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    if (this.#live.has(id)) return;
    this.#live.set(id, {
      events: [],
      base: total,
      total,
      flushed: total,
      pending: [],
      file: undefined,
      writing: undefined,
      broken: !path,
    });
  }

  /** Get ready for a new job's events (it has no file yet: nothing to read). */
  create(id: string): void {
    if (this.#live.has(id)) return;
    this.#live.set(id, {
      events: [],
      base: 0,
      total: 0,
      flushed: 0,
      pending: [],
      file: undefined,
      writing: undefined,
      broken: !this.path(id),
    });
  }

  /** Append one event; returns its id. The write happens in the background. */
  append(id: string, event: ProgressEvent): number {
    let l = this.#live.get(id);
    if (!l) {
      // Not opened (should not happen): number from 0, write nothing.
      l = {
        events: [],
        base: 0,
        total: 0,
        flushed: 0,
        pending: [],
        file: undefined,
        writing: undefined,
        broken: true,
      };
      this.#live.set(id, l);
    }
    const n = l.total++;
    l.events.push(event);
    if (l.broken) l.flushed = l.total;
    else {
      l.pending.push(JSON.stringify(event) + "\n");
      l.writing ??= this.#drain(id, l);
    }
    this.#trim(l);
    return n;
  }

  /** Keep at most the cap in memory, never an event not yet on disk. */
  #trim(l: Live): void {
    const drop = Math.min(l.events.length - this.#cap, l.flushed - l.base);
    if (drop > 0) {
      l.events.splice(0, drop);
      l.base += drop;
    }
  }

  async #drain(id: string, l: Live): Promise<void> {
    try {
      while (l.pending.length && !l.broken) {
        const batch = l.pending.splice(0);
        try {
          if (!l.file && !this.#dirMade) {
            await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
            this.#dirMade = true;
          }
          l.file ??= await Deno.open(this.path(id)!, {
            append: true,
            create: true,
            mode: 0o600,
          });
          await writeAll(l.file, enc.encode(batch.join("")));
          l.flushed += batch.length;
        } catch (e) {
          l.broken = true;
          l.pending = [];
          l.flushed = l.total;
          this.#log?.("error", "writing job events failed", {
            job_id: id,
            error: e instanceof Error ? e.message : String(e),
          });
        }
        this.#trim(l);
      }
    } finally {
      l.writing = undefined;
    }
  }

  /** Everything written so far is on disk (not fsynced) when this resolves. */
  async flush(id: string): Promise<void> {
    const l = this.#live.get(id);
    while (l?.writing) await l.writing;
  }

  /** The job ended: flush, close its file, drop its events from memory. */
  async end(id: string): Promise<void> {
    const l = this.#live.get(id);
    if (!l) return;
    await this.flush(id);
    try {
      l.file?.close();
    } catch {
      // already closed
    }
    l.file = undefined;
    if (this.#live.get(id) === l) this.#live.delete(id);
  }

  /** End every job's log (at shutdown). */
  async endAll(): Promise<void> {
    await Promise.all([...this.#live.keys()].map((id) => this.end(id)));
  }

  /** The in-memory tail now (a copy), or an empty window for an ended job. */
  window(id: string): EventWindow {
    const l = this.#live.get(id);
    return l
      ? { base: l.base, events: [...l.events], live: true }
      : { base: Number.MAX_SAFE_INTEGER, events: [], live: false };
  }

  /**
   * Events with ids in [from, to) from the job's file (lines that do not
   * parse keep their id and are skipped; a missing file is empty).
   */
  async *readFile(
    id: string,
    from = 0,
    to = Number.MAX_SAFE_INTEGER,
  ): AsyncGenerator<NumberedEvent> {
    const path = this.path(id);
    if (!path || from >= to) return;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch {
      return;
    }
    const reader = file.readable.pipeThrough(new TextDecoderStream())
      .getReader();
    let buf = "";
    let n = 0;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const pos = n++;
          if (pos >= to) return;
          if (pos < from) continue;
          let event: ProgressEvent;
          try {
            event = JSON.parse(line);
          } catch {
            continue;
          }
          yield [pos, event];
        }
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }

  /**
   * Every event from id `from` on, as far as known now: the file for what
   * left memory, then the in-memory tail.
   */
  async *read(id: string, from = 0): AsyncGenerator<NumberedEvent> {
    const w = this.window(id);
    yield* this.readFile(id, from, w.base);
    for (let i = Math.max(0, from - w.base); i < w.events.length; i++) {
      yield [w.base + i, w.events[i]!];
    }
  }

  /** Forget a job: its memory and its file. */
  async remove(id: string): Promise<void> {
    await this.end(id);
    const path = this.path(id);
    if (path) await Deno.remove(path).catch(() => {});
  }

  /** Remove the files of jobs `keep` says no to; returns how many. */
  async sweep(keep: (id: string) => boolean): Promise<number> {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(this.dir));
    } catch {
      return 0;
    }
    let removed = 0;
    for (const e of entries) {
      const m = e.name.match(/^(.+)\.jsonl$/);
      if (!m || !JOB_ID.test(m[1]!) || !e.isFile) continue;
      // Asked at removal time: a job created meanwhile keeps its file.
      if (keep(m[1]!) || this.#live.has(m[1]!)) continue;
      await Deno.remove(join(this.dir, e.name)).catch(() => {});
      removed++;
    }
    return removed;
  }
}
