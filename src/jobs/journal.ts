/**
 * The job journal: append-only JSON lines, each a full snapshot of one job,
 * fsync'd before the caller continues (so a 202 is only sent for a job that
 * is on disk). Replaying keeps the last snapshot per id. Compaction rewrites
 * the file (write, fsync, rename) on start.
 *
 * @module
 */
import { join } from "node:path";
import { ERROR_CODES, FloeDbtError } from "../errors.ts";
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

/** An append-only, fsync'd journal of job snapshots. */
export class Journal {
  readonly path: string;
  #file: Deno.FsFile | undefined;
  #queue: Promise<void> = Promise.resolve();
  /** The file may end in a partial line (a crash or a failed write). */
  #torn = false;

  constructor(stateDir: string) {
    this.path = join(stateDir, "jobs.jsonl");
  }

  /**
   * Read every job (last snapshot wins); corrupt lines (a torn tail after a
   * crash) are skipped and counted. Only a missing journal counts as empty:
   * one that cannot be read is an error (E003), never overwritten.
   */
  async load(): Promise<{ jobs: Job[]; skipped: number }> {
    let text = "";
    try {
      text = await Deno.readTextFile(this.path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return { jobs: [], skipped: 0 };
      throw new FloeDbtError(
        ERROR_CODES.configuration,
        `Cannot read the job journal '${this.path}': ${(e as Error).message}`,
        {
          hint:
            "give the agent read and write access to its state directory (--state-dir), or move the file aside",
        },
      );
    }
    const byId = new Map<string, Job>();
    let skipped = 0;
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const job = JobSchema.parse(JSON.parse(line));
        byId.set(job.id, job);
      } catch {
        skipped++; // a torn last line after a crash
      }
    }
    return { jobs: [...byId.values()], skipped };
  }

  /** Rewrite the journal with exactly these jobs, atomically. */
  async compact(jobs: Job[]): Promise<void> {
    await Deno.mkdir(join(this.path, ".."), { recursive: true });
    const tmp = `${this.path}.${Deno.pid}.tmp`;
    const f = await Deno.open(tmp, {
      write: true,
      create: true,
      truncate: true,
      mode: 0o600,
    });
    try {
      await writeAll(
        f,
        new TextEncoder().encode(
          jobs.map((j) => JSON.stringify(j) + "\n").join(""),
        ),
      );
      await f.sync();
    } catch (e) {
      f.close();
      await Deno.remove(tmp).catch(() => {});
      throw journalError(this.path, "rewrite", e);
    }
    f.close();
    await Deno.rename(tmp, this.path);
  }

  /**
   * Append one snapshot, whole, and fsync; calls are serialized. A failed
   * write rejects (E013) and the next append starts on a fresh line, so a
   * partial line never swallows the next snapshot.
   */
  append(job: Job): Promise<void> {
    const line = new TextEncoder().encode(JSON.stringify(job) + "\n");
    const next = this.#queue.then(async () => {
      try {
        if (!this.#file) {
          this.#file = await Deno.open(this.path, {
            append: true,
            create: true,
            mode: 0o600,
          });
          this.#torn = (await Deno.stat(this.path)).size > 0 &&
            !(await this.#endsWithNewline());
        }
        if (this.#torn) {
          await writeAll(this.#file, new TextEncoder().encode("\n"));
          this.#torn = false;
        }
        await writeAll(this.#file, line);
        await this.#file.sync();
      } catch (e) {
        this.#torn = true;
        throw journalError(this.path, "append to", e);
      }
    });
    this.#queue = next.catch(() => {});
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
