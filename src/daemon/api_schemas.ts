/**
 * The daemon's response shapes that are not already contract types: zod
 * schemas, so the OpenAPI document and the handlers share one source.
 *
 * @module
 */
import { z } from "zod";
import { JobSchema } from "../jobs/schemas.ts";

/** Every error body: a stable code, what was wrong, what to do. */
export const ErrorSchema = z.object({
  code: z.string().regex(/^FLOE-DBT-E\d{3}$/),
  message: z.string(),
  hint: z.string().optional(),
});

/** `GET /healthz`. */
export const HealthSchema = z.object({ status: z.literal("ok") });

/** `GET /readyz`: readiness only, nothing about the machine. */
export const ReadySchema = z.object({ ready: z.boolean() });

/** One runtime as `GET /v1/runtimes/{name}` describes it. */
export const RuntimeSchema = z.object({
  name: z.enum(["local", "fusion", "cloud"]),
  default: z.boolean(),
  available: z.boolean().optional(),
  reason: z.string().nullable().optional(),
  supports_parallel_execution: z.boolean().optional(),
  supports_sql_linting: z.boolean().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** `GET /v1/runtimes`. */
export const RuntimeListSchema = z.object({ runtimes: z.array(RuntimeSchema) });

/** A job in the list: everything but its result (`GET /v1/jobs/{id}` has it). */
export const JobSummarySchema = JobSchema.omit({ result: true });
/** A job in the list. */
export type JobSummary = z.infer<typeof JobSummarySchema>;

/** `GET /v1/jobs`: one page, newest first. */
export const JobListSchema = z.object({
  jobs: z.array(JobSummarySchema),
  /** The `cursor` for the next page; null on the last page. */
  next_cursor: z.string().nullable(),
});

/** `GET /v1/version`. */
export const VersionSchema = z.object({
  agent_version: z.string(),
  floe_api_version: z.string(),
  runtimes: z.array(z.string()),
  default_runtime: z.string(),
});

/** A dbt artifact (manifest.json, run_results.json, catalog.json): dbt's own schema. */
export const DbtArtifactSchema = z.record(z.string(), z.unknown());
