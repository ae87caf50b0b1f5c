/**
 * `GET /v1/project/history`: how long each model of one project took over
 * its recent jobs, read from the run_results.json the daemon kept for each
 * finished job (no database): per node its durations oldest first, their
 * median, the latest, and whether the latest is slower than the median of
 * the earlier ones by a margin. Read-only; it opens only the jobs' own
 * artifact folders, never the project.
 *
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import type { JobRunner } from "../jobs/runner.ts";
import { isFinal } from "../jobs/schemas.ts";

/** Jobs read unless `limit` says otherwise, and the most. */
export const HISTORY_DEFAULT_JOBS = 20;
/** The largest `limit`. */
export const HISTORY_MAX_JOBS = 100;
/** "Slower": latest over median × ratio and over median + seconds. */
export const SLOWER_MARGIN = { ratio: 1.5, seconds: 0.5 };
/** Earlier runs a node needs before it can be called slower. */
const MIN_EARLIER = 2;
/** A kept run_results.json over this is skipped (not parsed). */
const MAX_RUN_RESULTS_BYTES = 64 * 1024 * 1024;
/** Resource types whose durations are tracked. */
const TRACKED = new Set(["model", "seed", "snapshot"]);

/** One node's durations over the jobs, oldest first (null: not run then). */
export const NodeHistorySchema = z.object({
  unique_id: z.string(),
  name: z.string(),
  resource_type: z.string(),
  durations: z.array(z.number().nullable()),
  median: z.number().nullable(),
  latest: z.number().nullable(),
  /** The latest is slower than the earlier runs' median by the margin. */
  slower: z.boolean(),
});

/** One job of a history: a column of the durations. */
export const HistoryJobSchema = z.object({
  id: z.string(),
  command: z.string(),
  status: z.string(),
  created_at: z.string(),
});

/** How much slower than its median a node's latest run must be to count. */
export const SlowerMarginSchema = z.object({
  ratio: z.number(),
  seconds: z.number(),
});

/** `GET /v1/project/history`. */
export const ProjectHistorySchema = z.object({
  project_dir: z.string(),
  /** The jobs read, oldest first: the durations' columns. */
  jobs: z.array(HistoryJobSchema),
  nodes: z.array(NodeHistorySchema),
  margin: SlowerMarginSchema,
  /** Jobs of the project whose run_results.json was pruned or missing. */
  without_artifacts: z.number().int(),
});
/** `GET /v1/project/history`. */
export type ProjectHistory = z.infer<typeof ProjectHistorySchema>;

interface Timing {
  unique_id: string;
  seconds: number;
}

/** Parsed run_results of finished jobs (they never change), by job id. */
const cache = new Map<string, Timing[] | null>();
const CACHE_MAX = 128;

function median(values: number[]): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * One node's line: its median, its latest, and whether the latest is slower
 * than the median of the earlier runs by {@link SLOWER_MARGIN} (with at
 * least two earlier runs).
 */
export function nodeHistory(
  unique_id: string,
  durations: (number | null)[],
): z.infer<typeof NodeHistorySchema> {
  const known = durations.filter((d): d is number => d !== null);
  const latest = durations.at(-1) ?? null;
  const earlier = durations.slice(0, -1).filter((d): d is number => d !== null);
  const base = median(earlier);
  const slower = latest !== null && base !== null &&
    earlier.length >= MIN_EARLIER &&
    latest > base * SLOWER_MARGIN.ratio &&
    latest > base + SLOWER_MARGIN.seconds;
  const parts = unique_id.split(".");
  return {
    unique_id,
    name: parts.slice(2).join(".") || unique_id,
    resource_type: parts[0]!,
    durations,
    median: median(known),
    latest,
    slower,
  };
}

async function timings(
  runner: JobRunner,
  jobId: string,
): Promise<Timing[] | null> {
  if (cache.has(jobId)) return cache.get(jobId)!;
  const found = await runner.artifacts.find(jobId, "run_results");
  let out: Timing[] | null = null;
  if ("path" in found) {
    try {
      const size = (await Deno.stat(found.path)).size;
      if (size <= MAX_RUN_RESULTS_BYTES) {
        const doc = JSON.parse(await Deno.readTextFile(found.path));
        out = [];
        for (const r of Array.isArray(doc?.results) ? doc.results : []) {
          if (
            typeof r?.unique_id === "string" &&
            typeof r?.execution_time === "number"
          ) {
            out.push({ unique_id: r.unique_id, seconds: r.execution_time });
          }
        }
      }
    } catch {
      out = null;
    }
  }
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(jobId, out);
  return out;
}

/** The history of `projectDir` over its newest `limit` finished jobs. */
export async function projectHistory(
  runner: JobRunner,
  projectDir: string,
  limit: number,
): Promise<ProjectHistory> {
  const jobs = runner.list()
    .filter((j) =>
      j.request.project_dir === projectDir && isFinal(j.status) &&
      j.request.command !== "lint"
    )
    .sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  const read: { job: (typeof jobs)[number]; t: Timing[] }[] = [];
  let without = 0;
  for (const job of jobs) {
    if (read.length >= limit) break;
    const t = await timings(runner, job.id);
    if (t === null) without++;
    else read.push({ job, t });
  }
  read.reverse();
  const byNode = new Map<string, (number | null)[]>();
  read.forEach(({ t }, col) => {
    for (const { unique_id, seconds } of t) {
      if (!TRACKED.has(unique_id.split(".")[0]!)) continue;
      let row = byNode.get(unique_id);
      if (!row) byNode.set(unique_id, row = read.map(() => null));
      row[col] = seconds;
    }
  });
  const nodes = [...byNode].map(([id, durations]) => nodeHistory(id, durations))
    .sort((a, b) => (b.median ?? 0) - (a.median ?? 0));
  return {
    project_dir: projectDir,
    jobs: read.map(({ job }) => ({
      id: job.id,
      command: job.request.command,
      status: job.status,
      created_at: job.created_at,
    })),
    nodes,
    margin: SLOWER_MARGIN,
    without_artifacts: without,
  };
}

function bad(message: string, hint: string): FloeDbtError {
  return new FloeDbtError(ERROR_CODES.usage, message, { hint });
}

/** Add `GET /history` to the `/v1/project` routes. */
export function addHistoryRoute(app: Hono, runner: JobRunner): void {
  app.get("/history", async (c) => {
    const q = c.req.query();
    for (const k of Object.keys(q)) {
      if (k !== "project_dir" && k !== "limit") {
        throw bad(
          `Invalid query parameter '${k.slice(0, 80)}': unknown parameter`,
          "send project_dir, and optionally limit",
        );
      }
    }
    if (!q.project_dir) {
      throw bad(
        "Missing query parameter 'project_dir'",
        "send the project's path as its jobs record it (request.project_dir)",
      );
    }
    let limit = HISTORY_DEFAULT_JOBS;
    if (q.limit !== undefined) {
      limit = /^\d{1,4}$/.test(q.limit) ? Number(q.limit) : NaN;
      if (!(limit >= 1 && limit <= HISTORY_MAX_JOBS)) {
        throw bad(
          `Invalid limit '${q.limit.slice(0, 80)}'`,
          `use a whole number from 1 to ${HISTORY_MAX_JOBS} (default ${HISTORY_DEFAULT_JOBS})`,
        );
      }
    }
    return c.json(await projectHistory(runner, q.project_dir, limit));
  });
}
