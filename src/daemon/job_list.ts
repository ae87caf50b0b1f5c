/**
 * `GET /v1/jobs` pages: newest first, `limit` per page, an opaque `cursor`
 * (base64url of the last item's created_at and id) that stays right when
 * jobs are added meanwhile (new jobs sort before it), `status` and
 * `project_dir` filters, and job summaries without their results. A page
 * also ends once its jobs reach {@link MAX_PAGE_BYTES} of JSON (at least one
 * job per page), with a `next_cursor` as usual, so large request vars cannot
 * make a page huge.
 *
 * @module
 */
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import { type Job, type JobStatus, JobStatusSchema } from "../jobs/schemas.ts";
import type { JobSummary } from "./api_schemas.ts";

/** Jobs per page unless `limit` says otherwise. */
export const DEFAULT_PAGE_LIMIT = 100;
/** The largest `limit`. */
export const MAX_PAGE_LIMIT = 1000;
/** A page stops taking jobs once their JSON reaches this many bytes. */
export const MAX_PAGE_BYTES = 1024 * 1024;

/** A page of the job list. */
export interface JobPage {
  jobs: JobSummary[];
  /** Pass as `cursor` for the next page; null on the last one. */
  next_cursor: string | null;
}

interface Position {
  c: string;
  i: string;
}

function bad(message: string, hint: string): FloeDbtError {
  return new FloeDbtError(ERROR_CODES.usage, message, { hint });
}

function encodeCursor(job: Job): string {
  const bytes = new TextEncoder().encode(
    JSON.stringify({ c: job.created_at, i: job.id }),
  );
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-")
    .replaceAll("/", "_").replace(/=+$/, "");
}

function decodeCursor(cursor: string): Position {
  try {
    if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) throw new Error();
    const b64 = cursor.replaceAll("-", "+").replaceAll("_", "/");
    const text = new TextDecoder().decode(
      Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)),
    );
    const p = JSON.parse(text);
    if (typeof p?.c !== "string" || typeof p?.i !== "string") throw new Error();
    return { c: p.c, i: p.i };
  } catch {
    throw bad(
      `Invalid cursor '${cursor.slice(0, 80)}'`,
      "pass the next_cursor of an earlier page unchanged, or leave cursor out for the first page",
    );
  }
}

/** Newest first; equal times by id, so the order is total. */
function before(a: Position, b: Position): boolean {
  return a.c > b.c || (a.c === b.c && a.i > b.i);
}

/** The query parameters, checked: 400 (E010) naming the bad value. */
export function pageQuery(q: {
  limit?: string | undefined;
  cursor?: string | undefined;
  status?: string | undefined;
  project_dir?: string | undefined;
}): {
  limit: number;
  after?: Position;
  status?: JobStatus;
  project_dir?: string;
} {
  let limit = DEFAULT_PAGE_LIMIT;
  if (q.limit !== undefined) {
    limit = /^\d{1,5}$/.test(q.limit) ? Number(q.limit) : NaN;
    if (!(limit >= 1 && limit <= MAX_PAGE_LIMIT)) {
      throw bad(
        `Invalid limit '${q.limit.slice(0, 80)}'`,
        `use a whole number from 1 to ${MAX_PAGE_LIMIT} (default ${DEFAULT_PAGE_LIMIT})`,
      );
    }
  }
  let status: JobStatus | undefined;
  if (q.status !== undefined) {
    const s = JobStatusSchema.safeParse(q.status);
    if (!s.success) {
      throw bad(
        `Invalid status '${q.status.slice(0, 80)}'`,
        `use one of ${JobStatusSchema.options.join(", ")}`,
      );
    }
    status = s.data;
  }
  return {
    limit,
    ...(q.cursor !== undefined ? { after: decodeCursor(q.cursor) } : {}),
    ...(status ? { status } : {}),
    ...(q.project_dir ? { project_dir: q.project_dir } : {}),
  };
}

/** A job without its result (the list's item). */
export function summaryOf(job: Job): JobSummary {
  const { result: _r, ...rest } = job;
  return rest;
}

/** One page of `jobs` (any order) for the checked query. */
export function jobPage(
  jobs: Iterable<Job>,
  q: ReturnType<typeof pageQuery>,
  maxBytes = MAX_PAGE_BYTES,
): JobPage {
  const picked: Job[] = [];
  for (const j of jobs) {
    if (q.status && j.status !== q.status) continue;
    if (q.project_dir && j.request.project_dir !== q.project_dir) continue;
    if (q.after && !before(q.after, { c: j.created_at, i: j.id })) continue;
    picked.push(j);
  }
  picked.sort((a, b) =>
    before({ c: a.created_at, i: a.id }, { c: b.created_at, i: b.id }) ? -1 : 1
  );
  const page: JobSummary[] = [];
  let bytes = 0;
  const encoder = new TextEncoder();
  for (const j of picked) {
    if (page.length >= q.limit) break;
    const summary = summaryOf(j);
    const size = encoder.encode(JSON.stringify(summary)).length + 1;
    if (page.length > 0 && bytes + size > maxBytes) break;
    page.push(summary);
    bytes += size;
  }
  const more = picked.length > page.length;
  return {
    jobs: page,
    next_cursor: more ? encodeCursor(picked[page.length - 1]!) : null,
  };
}
