/**
 * Bounded history: which finished jobs the runner forgets. A finished job
 * goes when it is older than the retention (`serve --retention-hours`), and
 * the oldest finished ones go first once more than `maxFinished` are kept
 * (`serve --max-finished`, default 10,000), so memory, the journal and the
 * artifacts folder stay bounded however many jobs a daemon runs. Queued and
 * running jobs are never forgotten.
 *
 * @module
 */
import { join } from "node:path";
import { isFinal, type Job } from "./schemas.ts";

/** Default cap on finished jobs kept (`serve --max-finished`). */
export const DEFAULT_MAX_FINISHED = 10_000;

/** What to keep. */
export interface RetentionPolicy {
  /** Finished jobs older than this are forgotten. */
  retentionMs: number;
  /** Finished jobs kept at most (default {@link DEFAULT_MAX_FINISHED}). */
  maxFinished?: number | undefined;
  /** Now, in ms since the epoch. */
  now: number;
}

function endedAt(job: Job): number {
  return Date.parse(job.finished_at ?? job.created_at);
}

/**
 * The finished jobs to forget: every one past the retention age, then the
 * oldest (by when they ended, then by id) beyond `maxFinished`.
 */
export function jobsToForget(
  jobs: Iterable<Job>,
  policy: RetentionPolicy,
): Job[] {
  const cutoff = policy.now - policy.retentionMs;
  const max = policy.maxFinished ?? DEFAULT_MAX_FINISHED;
  const old: Job[] = [];
  const kept: { at: number; job: Job }[] = [];
  for (const job of jobs) {
    if (!isFinal(job.status)) continue;
    const at = endedAt(job);
    if (at < cutoff) old.push(job);
    else kept.push({ at, job });
  }
  if (kept.length <= max) return old;
  kept.sort((a, b) =>
    a.at - b.at || (a.job.id < b.job.id ? -1 : a.job.id > b.job.id ? 1 : 0)
  );
  return [...old, ...kept.slice(0, kept.length - max).map((k) => k.job)];
}

/**
 * The finished jobs a runner keeps, in the order they ended, so that what
 * is due to go is found from the oldest on: O(jobs forgotten), not O(jobs
 * kept), per call (a scan of every job per submit made a 10,000-job history
 * slow).
 */
export class FinishedJobs {
  readonly #jobs = new Map<string, Job>();

  /** Finished jobs kept now. */
  get size(): number {
    return this.#jobs.size;
  }

  /** Record jobs that ended, oldest first (at start: sorted by end time). */
  add(...jobs: Job[]): void {
    for (const job of jobs) {
      this.#jobs.delete(job.id);
      this.#jobs.set(job.id, job);
    }
  }

  /** Take out and return the jobs due to be forgotten now, oldest first. */
  due(policy: RetentionPolicy): Job[] {
    const cutoff = policy.now - policy.retentionMs;
    const max = policy.maxFinished ?? DEFAULT_MAX_FINISHED;
    const out: Job[] = [];
    for (const job of this.#jobs.values()) {
      if (this.#jobs.size - out.length <= max && endedAt(job) >= cutoff) break;
      out.push(job);
    }
    for (const job of out) this.#jobs.delete(job.id);
    return out;
  }
}

/** `jobs` sorted by when they ended (then by id), oldest first. */
export function byEnd(jobs: Job[]): Job[] {
  return jobs.map((job) => ({ at: endedAt(job), job })).sort((a, b) =>
    a.at - b.at || (a.job.id < b.job.id ? -1 : a.job.id > b.job.id ? 1 : 0)
  ).map((x) => x.job);
}

/** The jobs of `jobs` that `jobsToForget` keeps, in their order. */
export function jobsToKeep(jobs: Job[], policy: RetentionPolicy): Job[] {
  const gone = new Set(jobsToForget(jobs, policy).map((j) => j.id));
  return jobs.filter((j) => !gone.has(j.id));
}

/** Job ids the runner makes (UUIDs); anything else is never a path here. */
const JOB_ID = /^[A-Za-z0-9_-]{1,100}$/;

/** Remove forgotten jobs' artifact folders under `root` (errors ignored). */
export async function removeArtifacts(
  root: string,
  ids: Iterable<string>,
): Promise<void> {
  for (const id of ids) {
    if (!JOB_ID.test(id)) continue;
    const path = join(root, id);
    try {
      // A link is removed itself, never followed.
      const info = await Deno.lstat(path);
      await Deno.remove(path, { recursive: info.isDirectory });
    } catch {
      // gone already, or never kept
    }
  }
}
