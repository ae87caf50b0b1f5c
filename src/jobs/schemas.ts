/**
 * Jobs of the daemon's embedded runner: the request (validated the same way
 * for HTTP and CLI) and the job record (journaled, served by the API).
 *
 * @module
 */
import { z } from "zod";
import { RuntimeNameSchema } from "../config/config.ts";
import {
  DbtCommandSchema,
  IndirectSelectionSchema,
  LintResultSchema,
  RunResultSchema,
} from "../contract/schemas.ts";
import {
  checkVars,
  MAX_THREADS,
  parseVars,
  SELECTOR_NAME_ALLOWED,
  selectorNameProblem,
} from "../dbt/dbt_options.ts";
import {
  refusalMessage,
  selectorTokens,
  TARGET_ALLOWED,
  targetProblem,
  TEXT_ALLOWED,
  textProblem,
} from "../dbt/validate.ts";

/** Selectors as one string or a list; split on spaces, each token checked. */
function selectors(field: string) {
  return z.union([z.string(), z.array(z.string())]).transform((v, ctx) => {
    let refused = false;
    const tokens = selectorTokens(v, field, (message) => {
      refused = true;
      ctx.addIssue({ code: "custom", message });
    });
    return refused ? z.NEVER : tokens;
  });
}

/** A string refused when `problem` names a reason. */
function checked(
  field: string,
  problem: (v: string) => string | undefined,
  allowed: string,
) {
  return z.string().min(1).superRefine((v, ctx) => {
    const reason = problem(v);
    if (reason) {
      ctx.addIssue({
        code: "custom",
        message: refusalMessage(field, v, reason, allowed),
      });
    }
  });
}

/** `POST /v1/jobs` body. */
export const JobRequestSchema = z.strictObject({
  command: z.enum([...DbtCommandSchema.options, "lint"]),
  project_dir: checked("project_dir", textProblem, TEXT_ALLOWED),
  profiles_dir: checked("profiles_dir", textProblem, TEXT_ALLOWED).optional()
    .describe(
      "the directory holding profiles.yml, under the project roots (default: the project's own profiles.yml, else the daemon's --profiles-dir; never ~/.dbt: with neither the job is 400 FLOE-DBT-E003)",
    ),
  target: checked("target", targetProblem, TARGET_ALLOWED).optional(),
  select: selectors("select").optional(),
  exclude: selectors("exclude").optional(),
  full_refresh: z.boolean().optional(),
  /**
   * dbt `--vars`: a mapping, or YAML/JSON text of one (parsed here); capped
   * in depth and size. Whether it may hold Jinja is the daemon's policy
   * (src/jobs/policy.ts), checked at submit and again by the runtime.
   */
  vars: z.union([z.string(), z.record(z.string(), z.unknown())]).transform(
    (v, ctx) => {
      try {
        return typeof v === "string"
          ? parseVars(v, "vars", true)
          : checkVars(v, "vars", true);
      } catch (e) {
        ctx.addIssue({ code: "custom", message: (e as Error).message });
        return z.NEVER;
      }
    },
  ).pipe(z.record(z.string(), z.unknown())).optional().describe(
    "dbt --vars, as data: a mapping or YAML/JSON text of one; a Jinja delimiter ({{, {%, {#) in any key or text is refused (400 FLOE-DBT-E010 naming the key) unless the daemon runs with --allow-jinja-vars; at most 32 levels deep and 64 KiB as JSON",
  ),
  threads: z.number().int().min(1).max(MAX_THREADS).optional(),
  fail_fast: z.boolean().optional(),
  selector: checked("selector", selectorNameProblem, SELECTOR_NAME_ALLOWED)
    .optional(),
  indirect_selection: IndirectSelectionSchema.optional(),
  /** Only what changed since the kept state (or `state`), and downstream. */
  changed: z.boolean().optional(),
  /**
   * Reuse every model, seed, snapshot and test whose inputs (code, macros,
   * config, vars, upstream keys, sources' data versions) are the same as at
   * its last success on the target (run and build; local and fusion).
   */
  skip_unchanged: z.boolean().optional(),
  /**
   * Leave out the nodes downstream of a source whose dbt freshness is
   * `error` (reported in `metadata.skipped_stale`; run and build).
   */
  skip_stale_sources: z.boolean().optional(),
  /** A state directory inside the project (relative: to project_dir). */
  state: checked("state", textProblem, TEXT_ALLOWED).optional().describe(
    "a state directory (holding manifest.json) inside the project, relative to project_dir; outside it is 400 FLOE-DBT-E010",
  ),
  /** `cloud`: the state of the dbt Cloud job's newest successful run. */
  state_from: z.enum(["cloud"]).optional(),
  fix: z.boolean().optional(),
  runtime: RuntimeNameSchema.optional(),
  /**
   * Deadline of the dbt call, seconds (local and fusion; default: the
   * runtime's `timeout_seconds`). Past it the run is stopped and the job
   * fails with FLOE-DBT-E007.
   */
  timeout_seconds: z.number().positive().max(7 * 24 * 3600).optional(),
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
  error: z.object({
    code: z.string(),
    message: z.string(),
    /** What to do next, when the error says. */
    hint: z.string().optional(),
  }).nullable(),
  remote_run_id: z.string().nullable(),
  /**
   * The nonce of a remote trigger, journaled before the trigger is sent: a
   * restart after a crash mid-trigger finds that run by it (cloud).
   */
  remote_nonce: z.string().nullable().optional(),
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
