/**
 * The job journal: append-only JSON lines, each a full snapshot of one job,
 * fsync'd before the caller continues (so a 202 is only sent for a job that
 * is on disk). Replaying keeps the last snapshot per id. Compaction rewrites
 * the file (write, fsync, rename) on start, and while running whenever the
 * file grows past twice the size of the jobs it still holds (and 64 KiB):
 * forgotten jobs (see retention.ts) leave the file then, not at a restart.
 *
 * @module
 */
import { join } from "node:path";
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import { type Job, JobSchema } from "./schemas.ts";

/** Write all of `bytes` (a write may be short). */
async function writeAll(f: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await f.write(bytes.subarray(done));
}

function journalError(path: string, what: string, e: unknown): FloeDbtError {
  return new FloeDbtError(
    ERROR_CODES.unavailable,
    `Cannot ${what} the job journal '${path}': ${
      e instanceof Error ? e.message : String(e)
    }`,
    {
      hint:
        "free disk space or fix the state directory's permissions (--state-dir), then retry",
      cause: e,
    },
  );
}

/** The file is rewritten once it is this many times its live size... */
const COMPACT_FACTOR = 2;
/** ...and at least this large. */
const COMPACT_MIN_BYTES = 64 * 1024;

/** How the journal reports compactions. */
export interface JournalOptions {
  log?: (
    level: "info" | "warn" | "error",
    message: string,
    fields?: Record<string, unknown>,
  ) => void;
}

/** An append-only, fsync'd journal of job snapshots. */
export class Journal {
  readonly path: string;
  #file: Deno.FsFile | undefined;
  #queue: Promise<void> = Promise.resolve();
  /** The file may end in a partial line (a crash or a failed write). */
  #torn = false;
  readonly #o: JournalOptions;
  /** The jobs the file must keep (the runner's own objects), by id. */
  readonly #live = new Map<string, { job: Job; bytes: number }>();
  #liveBytes = 0;
  /** The file's size (known once opened or rewritten). */
  #fileBytes = 0;

  constructor(stateDir: string, o: JournalOptions = {}) {
    this.path = join(stateDir, "jobs.jsonl");
    this.#o = o;
  }

  /** Bytes of the journal file now, and of the snapshots it must keep. */
  get sizes(): { file: number; live: number } {
    return { file: this.#fileBytes, live: this.#liveBytes };
  }

  #track(job: Job, bytes: number): void {
    const prev = this.#live.get(job.id);
    this.#liveBytes += bytes - (prev?.bytes ?? 0);
    this.#live.set(job.id, { job, bytes });
  }

  /** The job is forgotten: the next compaction leaves it out. */
  forget(id: string): void {
    const prev = this.#live.get(id);
    if (!prev) return;
    this.#liveBytes -= prev.bytes;
    this.#live.delete(id);
  }

  /**
   * Read every job (last snapshot wins); corrupt lines (a torn tail after a
   * crash) are skipped and counted. Only a missing journal counts as empty:
   * one that cannot be read is an error (E003), never overwritten.
   */
  async load(): Promise<{ jobs: Job[]; skipped: number }> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.path, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return { jobs: [], skipped: 0 };
      throw this.#unreadable(e);
    }
    const byId = new Map<string, Job>();
    let skipped = 0;
    const take = (line: string) => {
      if (!line.trim()) return;
      try {
        const job = JobSchema.parse(JSON.parse(line));
        byId.set(job.id, job);
      } catch {
        skipped++; // a torn last line after a crash
      }
    };
    // Line by line: a large journal is never one string in memory.
    const decoder = new TextDecoder();
    let rest = "";
    try {
      for await (const chunk of file.readable) {
        const lines = (rest + decoder.decode(chunk, { stream: true }))
          .split("\n");
        rest = lines.pop()!;
        lines.forEach(take);
      }
    } catch (e) {
      throw this.#unreadable(e);
    }
    take(rest + decoder.decode());
    return { jobs: [...byId.values()], skipped };
  }

  #unreadable(e: unknown): FloeDbtError {
    return new FloeDbtError(
      ERROR_CODES.configuration,
      `Cannot read the job journal '${this.path}': ${(e as Error).message}`,
      {
        hint:
          "give the agent read and write access to its state directory (--state-dir), or move the file aside",
      },
    );
  }

  /**
   * Rewrite the journal with exactly these jobs, atomically; appends wait.
   * The journal keeps them (the same objects) for later compactions.
   */
  compact(jobs: Job[]): Promise<void> {
    const next = this.#queue.then(() => this.#rewrite(jobs));
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Rewrite with the live jobs when the file has grown past its bound. */
  async #compactIfLarge(): Promise<void> {
    const limit = Math.max(
      COMPACT_MIN_BYTES,
      COMPACT_FACTOR * this.#liveBytes,
    );
    if (this.#fileBytes <= limit) return;
    const before = this.#fileBytes;
    try {
      await this.#rewrite([...this.#live.values()].map((e) => e.job));
    } catch (e) {
      // The appended line is on disk; the next append tries again.
      this.#o.log?.("warn", "compacting the job journal failed", {
        error: e instanceof Error ? e.message : String(e),
      });
      return;
    }
    this.#o.log?.("info", "compacted the job journal", {
      bytes_before: before,
      bytes_after: this.#fileBytes,
      jobs: this.#live.size,
    });
  }

  async #rewrite(jobs: Job[]): Promise<void> {
    // The append handle points at the old file: closed, reopened later.
    this.#file?.close();
    this.#file = undefined;
    this.#live.clear();
    this.#liveBytes = 0;
    const lines = jobs.map((j) => {
      const line = JSON.stringify(j) + "\n";
      this.#track(j, line.length);
      return line;
    });
    const bytes = new TextEncoder().encode(lines.join(""));
    await Deno.mkdir(join(this.path, ".."), { recursive: true });
    const tmp = `${this.path}.${Deno.pid}.tmp`;
    const f = await Deno.open(tmp, {
      write: true,
      create: true,
      truncate: true,
      mode: 0o600,
    });
    try {
      await writeAll(f, bytes);
      await f.sync();
    } catch (e) {
      f.close();
      await Deno.remove(tmp).catch(() => {});
      throw journalError(this.path, "rewrite", e);
    }
    f.close();
    await Deno.rename(tmp, this.path);
    this.#fileBytes = bytes.length;
    this.#torn = false;
  }

  /**
   * Append one snapshot, whole, and fsync; calls are serialized. A failed
   * write rejects (E013) and the next append starts on a fresh line, so a
   * partial line never swallows the next snapshot.
   */
  append(job: Job): Promise<void> {
    const line = new TextEncoder().encode(JSON.stringify(job) + "\n");
    this.#track(job, line.length);
    const next = this.#queue.then(async () => {
      try {
        if (!this.#file) {
          this.#file = await Deno.open(this.path, {
            append: true,
            create: true,
            mode: 0o600,
          });
          this.#fileBytes = (await Deno.stat(this.path)).size;
          this.#torn = this.#fileBytes > 0 &&
            !(await this.#endsWithNewline());
        }
        if (this.#torn) {
          await writeAll(this.#file, new TextEncoder().encode("\n"));
          this.#fileBytes++;
          this.#torn = false;
        }
        await writeAll(this.#file, line);
        this.#fileBytes += line.length;
        await this.#file.sync();
      } catch (e) {
        this.#torn = true;
        throw journalError(this.path, "append to", e);
      }
    });
    // Compaction (when due) runs after this append, not before its caller
    // goes on; later appends wait for it.
    this.#queue = next.then(() => this.#compactIfLarge(), () => {});
    return next;
  }

  async #endsWithNewline(): Promise<boolean> {
    const f = await Deno.open(this.path, { read: true });
    try {
      await f.seek(-1, Deno.SeekMode.End);
      const b = new Uint8Array(1);
      return (await f.read(b)) === 1 && b[0] === 10;
    } finally {
      f.close();
    }
  }

  /** Close the file. */
  async close(): Promise<void> {
    await this.#queue;
    this.#file?.close();
    this.#file = undefined;
  }
}
