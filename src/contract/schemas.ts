/**
 * The data contract: zod schemas are the single source of the types. The JSON
 * form keeps the seeds' snake_case field names so a Python orchestrator can load
 * it straight into the seed's Pydantic models (DBTRunResult, LintResult).
 *
 * @module
 */
import { z } from "zod";

/** Version of the floe runtime API this agent implements. */
export const FLOE_API_VERSION = "1.0";

/** Result of a dbt command (seed DBTRunResult). */
export const RunResultSchema = z.object({
  success: z.boolean(),
  manifest_path: z.string(),
  run_results_path: z.string(),
  catalog_path: z.string().nullable(),
  execution_time_seconds: z.number().nonnegative(),
  models_run: z.number().int().nonnegative(),
  tests_run: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
  metadata: z.record(z.string(), z.unknown()),
});
/** Result of a dbt command (seed DBTRunResult). */
export type RunResult = z.infer<typeof RunResultSchema>;

/** Lint severity (seed LintSeverity). */
export const LintSeveritySchema = z.enum(["error", "warning", "info"]);
/** Lint severity (seed LintSeverity). */
export type LintSeverity = z.infer<typeof LintSeveritySchema>;

/** One lint finding (seed LintIssue). */
export const LintIssueSchema = z.object({
  file_path: z.string(),
  line: z.number().int().nonnegative(),
  column: z.number().int().nonnegative(),
  severity: LintSeveritySchema,
  rule_code: z.string(),
  message: z.string(),
});
/** One lint finding (seed LintIssue). */
export type LintIssue = z.infer<typeof LintIssueSchema>;

/** Project-wide lint result (seed LintResult / ProjectLintResult). */
export const LintResultSchema = z.object({
  total_issues: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  warnings: z.number().int().nonnegative(),
  infos: z.number().int().nonnegative(),
  issues: z.array(LintIssueSchema),
  passed: z.boolean(),
});
/** Project-wide lint result (seed LintResult / ProjectLintResult). */
export type LintResult = z.infer<typeof LintResultSchema>;

/** Build a LintResult from issues, with counts and `passed` derived. */
export function lintResultOf(issues: LintIssue[]): LintResult {
  const count = (s: LintSeverity) =>
    issues.filter((i) => i.severity === s).length;
  const errors = count("error");
  return {
    total_issues: issues.length,
    errors,
    warnings: count("warning"),
    infos: count("info"),
    issues,
    passed: errors === 0,
  };
}

/**
 * The dbt commands the agent runs. Two-word dbt commands are spelled with a
 * dash here (`docs-generate` is `dbt docs generate`, `source-freshness` is
 * `dbt source freshness`); see {@link dbtCommandWords}.
 */
export const DbtCommandSchema = z.enum([
  "compile",
  "run",
  "test",
  "seed",
  "build",
  "snapshot",
  "docs-generate",
  "retry",
  "source-freshness",
]);
/** The dbt commands the agent runs. */
export type DbtCommand = z.infer<typeof DbtCommandSchema>;

/** dbt's own words for a command: `docs-generate` -> `["docs", "generate"]`. */
export function dbtCommandWords(command: DbtCommand): string[] {
  return command.split("-");
}

/** Commands where `--full-refresh` applies (dbt-core and Fusion take it). */
export const FULL_REFRESH_COMMANDS: readonly DbtCommand[] = [
  "run",
  "seed",
  "build",
];

/** dbt's `--indirect-selection` modes. */
export const IndirectSelectionSchema = z.enum([
  "eager",
  "cautious",
  "buildable",
  "empty",
]);
/** dbt's `--indirect-selection` modes. */
export type IndirectSelection = z.infer<typeof IndirectSelectionSchema>;

/**
 * Progress events, one versioned schema for every runtime (v1). The CLI's
 * progress output, `--log-format json` and the daemon's SSE stream use it.
 */
export const ProgressEventSchema = z.discriminatedUnion("type", [
  z.object({
    v: z.literal(1),
    type: z.literal("job_started"),
    command: z.string(),
    runtime: z.string(),
    ts: z.string(),
  }),
  z.object({
    v: z.literal(1),
    type: z.literal("node_started"),
    unique_id: z.string(),
    resource_type: z.string(),
    name: z.string(),
    index: z.number().int().nullable(),
    total: z.number().int().nullable(),
    /** The dbt thread running the node, when the runtime reports it. */
    thread: z.string().optional(),
    ts: z.string(),
  }),
  z.object({
    v: z.literal(1),
    type: z.literal("node_finished"),
    unique_id: z.string(),
    resource_type: z.string(),
    name: z.string(),
    status: z.string(),
    execution_time: z.number().nullable(),
    message: z.string().nullable(),
    index: z.number().int().nullable(),
    total: z.number().int().nullable(),
    /** The dbt thread running the node, when the runtime reports it. */
    thread: z.string().optional(),
    ts: z.string(),
  }),
  z.object({
    v: z.literal(1),
    type: z.literal("log"),
    level: z.enum(["debug", "info", "warn", "error"]),
    message: z.string(),
    ts: z.string(),
  }),
  z.object({
    v: z.literal(1),
    type: z.literal("job_finished"),
    success: z.boolean(),
    ts: z.string(),
  }),
]);
/** A progress event (schema v1). */
export type ProgressEvent = z.infer<typeof ProgressEventSchema>;

/** A `log` progress event, stamped now. */
export function logEvent(
  level: "debug" | "info" | "warn" | "error",
  message: string,
): ProgressEvent {
  return { v: 1, type: "log", level, message, ts: new Date().toISOString() };
}
