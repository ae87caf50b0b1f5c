/**
 * The job journal: append-only JSON lines, each a full snapshot of one job,
 * fsync'd before the caller continues (so a 202 is only sent for a job that
 * is on disk). Replaying keeps the last snapshot per id. Compaction rewrites
 * the file (write, fsync, rename) on start.
 *
 * @module
 */
import { join } from "node:path";
import { type Job, JobSchema } from "./schemas.ts";

/** An append-only, fsync'd journal of job snapshots. */
export class Journal {
  readonly path: string;
  #file: Deno.FsFile | undefined;
  #queue: Promise<void> = Promise.resolve();

  constructor(stateDir: string) {
    this.path = join(stateDir, "jobs.jsonl");
  }

  /** Read every job (last snapshot wins); corrupt lines are skipped. */
  async load(): Promise<{ jobs: Job[]; skipped: number }> {
    let text = "";
    try {
      text = await Deno.readTextFile(this.path);
    } catch {
      return { jobs: [], skipped: 0 };
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
    });
    try {
      await f.write(
        new TextEncoder().encode(
          jobs.map((j) => JSON.stringify(j) + "\n").join(""),
        ),
      );
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, this.path);
  }

  /** Append one snapshot and fsync; calls are serialized. */
  append(job: Job): Promise<void> {
    const line = new TextEncoder().encode(JSON.stringify(job) + "\n");
    const next = this.#queue.then(async () => {
      this.#file ??= await Deno.open(this.path, { append: true, create: true });
      await this.#file.write(line);
      await this.#file.sync();
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Close the file. */
  async close(): Promise<void> {
    await this.#queue;
    this.#file?.close();
    this.#file = undefined;
  }
}
