/**
 * zod schemas for the dbt Cloud Admin API v2 and Discovery API responses the
 * cloud runtime reads. Only the fields used are declared; others pass through.
 *
 * @module
 */
import { z } from "zod";

/** Run ids exceed 2^32; JSON numbers up to 2^53 are exact in JS. Kept as strings. */
const id = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)])
  .transform(String);

/** The `status` block of every Admin API envelope. */
export const ApiStatusSchema = z.object({
  code: z.number().int(),
  is_success: z.boolean(),
  user_message: z.string().nullable().optional(),
  developer_message: z.string().nullable().optional(),
});

/** `{"status": {...}, "data": ...}` around a payload schema. */
export function envelope<T extends z.ZodType>(data: T) {
  return z.object({ status: ApiStatusSchema, data });
}

/** Run status codes: 1 queued, 2 starting, 3 running, 10 success, 20 error, 30 cancelled. */
export const RUN_STATUS = {
  queued: 1,
  starting: 2,
  running: 3,
  success: 10,
  error: 20,
  cancelled: 30,
} as const;

/** A run (GET .../runs/{id}/, POST .../jobs/{id}/run/, list items). */
export const RunSchema = z.object({
  id,
  account_id: id,
  job_definition_id: id,
  status: z.union([
    z.literal(1),
    z.literal(2),
    z.literal(3),
    z.literal(10),
    z.literal(20),
    z.literal(30),
  ]),
  status_humanized: z.string().optional(),
  status_message: z.string().nullable().optional(),
  href: z.string().optional(),
  created_at: z.string().optional(),
  started_at: z.string().nullable().optional(),
  finished_at: z.string().nullable().optional(),
  is_complete: z.boolean().optional(),
  /** On a retry's run: the failed run it retries. */
  retrying_run_id: id.nullable().optional(),
  trigger: z.object({
    cause: z.string().nullable().optional(),
    /** CauseCategoryEnum: `rerun` for a retry's run. */
    cause_category: z.string().nullable().optional(),
    steps_override: z.array(z.string()).nullable().optional(),
  }).passthrough().nullable().optional(),
  run_steps: z.array(
    z.object({
      name: z.string().optional(),
      status: z.number().optional(),
      status_humanized: z.string().optional(),
    }).passthrough(),
  ).nullable().optional(),
}).passthrough();
/** A dbt Cloud run. */
export type Run = z.infer<typeof RunSchema>;

/** Envelope of one run. */
export const RunEnvelopeSchema = envelope(RunSchema);
/** Envelope of a run list (GET .../runs/). */
export const RunListEnvelopeSchema = envelope(z.array(RunSchema));

/** Is a run finished (success, error or cancelled)? */
export function isTerminal(run: Run): boolean {
  return run.status >= RUN_STATUS.success;
}

/** The error envelope dbt Cloud sends with 4xx/5xx (loosely: any may be missing). */
export const ErrorEnvelopeSchema = z.object({
  status: z.object({
    code: z.number().optional(),
    user_message: z.string().nullable().optional(),
    developer_message: z.string().nullable().optional(),
  }).passthrough().optional(),
}).passthrough();

/** One applied model of the Discovery API. */
export const AppliedModelSchema = z.object({
  uniqueId: z.string(),
  name: z.string().nullable().optional(),
  executionInfo: z.object({
    lastRunStatus: z.string().nullable().optional(),
    lastRunError: z.string().nullable().optional(),
    executeCompletedAt: z.string().nullable().optional(),
    executionTime: z.number().nullable().optional(),
  }).nullable().optional(),
});
/** One applied model of the Discovery API. */
export type AppliedModel = z.infer<typeof AppliedModelSchema>;

/** The Discovery API answer to the applied-models query. */
export const AppliedModelsResponseSchema = z.object({
  data: z.object({
    environment: z.object({
      applied: z.object({
        models: z.object({
          pageInfo: z.object({
            endCursor: z.string().nullable(),
            hasNextPage: z.boolean(),
          }),
          edges: z.array(z.object({ node: AppliedModelSchema })),
        }),
      }),
    }).nullable(),
  }).nullable(),
  errors: z.array(z.object({ message: z.string() })).optional(),
});

/** Describe the first zod issue: `data.status: expected number`. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "unknown shape error";
  const path = issue.path.map(String).join(".") || "(root)";
  return `field '${path}': ${issue.message}`;
}
