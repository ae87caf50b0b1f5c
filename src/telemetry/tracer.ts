/**
 * The agent's tracer and span attribute names. `@opentelemetry/api` only:
 * with `OTEL_DENO=true` Deno's built-in OpenTelemetry exports the spans over
 * OTLP (`OTEL_EXPORTER_OTLP_*`); without it every span is a no-op.
 *
 * @module
 */
import { trace, type Tracer } from "@opentelemetry/api";

/** Instrumentation scope name of every floe-dbt span. */
export const TRACER_NAME = "floe-dbt";

/** The agent's tracer. */
export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME, "0.1.0");
}

/** Span attribute names (one place, so tests and docs agree). */
export const ATTR = {
  runtime: "floe_dbt.runtime",
  command: "floe_dbt.command",
  project: "floe_dbt.project",
  target: "floe_dbt.target",
  select: "floe_dbt.select",
  exclude: "floe_dbt.exclude",
  success: "floe_dbt.success",
  modelsRun: "floe_dbt.models_run",
  testsRun: "floe_dbt.tests_run",
  failures: "floe_dbt.failures",
  errorCode: "floe_dbt.error_code",
  fallback: "floe_dbt.fallback",
  lintErrors: "floe_dbt.lint.errors",
  lintWarnings: "floe_dbt.lint.warnings",
  jobId: "floe_dbt.job.id",
  jobStatus: "floe_dbt.job.status",
} as const;
