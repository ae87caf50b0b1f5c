/**
 * Jobs of the daemon's embedded runner: the request (validated the same way
 * for HTTP and CLI) and the job record (journaled, served by the API).
 *
 * @module
 */
import { z } from "zod";
import { RuntimeNameSchema } from "../config.ts";
import { LintResultSchema, RunResultSchema } from "../schemas.ts";

const selectors = z.union([z.string(), z.array(z.string())]).transform((v) =>
  (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(/\s+/)).filter(Boolean)
);

/** `POST /v1/jobs` body. */
export const JobRequestSchema = z.strictObject({
  command: z.enum(["compile", "run", "test", "seed", "build", "lint"]),
  project_dir: z.string().min(1),
  profiles_dir: z.string().min(1).optional(),
  target: z.string().min(1).optional(),
  select: selectors.optional(),
  exclude: selectors.optional(),
  full_refresh: z.boolean().optional(),
  fix: z.boolean().optional(),
  runtime: RuntimeNameSchema.optional(),
});
/** A job request after validation. */
export type JobRequest = z.infer<typeof JobRequestSchema>;

/** Job states. */
export const JobStatusSchema = z.enum([
  "queued",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "interrupted",
]);
/** Job states. */
export type JobStatus = z.infer<typeof JobStatusSchema>;

/** A job as journaled and served. */
export const JobSchema = z.object({
  id: z.string(),
  status: JobStatusSchema,
  runtime: RuntimeNameSchema,
  request: JobRequestSchema,
  idempotency_key: z.string().nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  result: z.union([RunResultSchema, LintResultSchema]).nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  remote_run_id: z.string().nullable(),
  /** Pid of the agent that ran (or runs) the job. */
  agent_pid: z.number().int().nullable(),
  trace_id: z.string().nullable().optional(),
  /** The caller's W3C traceparent, kept so a resumed job keeps its parent. */
  traceparent: z.string().nullable().optional(),
});
/** A job as journaled and served. */
export type Job = z.infer<typeof JobSchema>;

/** True for states a job never leaves. */
export function isFinal(status: JobStatus): boolean {
  return status !== "queued" && status !== "running";
}
