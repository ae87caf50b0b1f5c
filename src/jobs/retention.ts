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
  const kept: Job[] = [];
  for (const job of jobs) {
    if (!isFinal(job.status)) continue;
    (endedAt(job) < cutoff ? old : kept).push(job);
  }
  if (kept.length <= max) return old;
  kept.sort((a, b) =>
    endedAt(a) - endedAt(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
  return [...old, ...kept.slice(0, kept.length - max)];
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
