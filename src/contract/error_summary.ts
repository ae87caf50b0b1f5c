/**
 * What a failure looks like outside the job: OpenLineage's `errorMessage`
 * facet and an OpenTelemetry span's status carry dbt's error class and the
 * failing node, never dbt's text. That text can hold data values (a failed
 * cast quotes the value), SQL lines and file contents, and lineage and
 * tracing backends are read by many more people than the job's caller. The
 * full text stays in the job's own result and error.
 *
 * @module
 */
import { ERROR_CODES } from "./errors.ts";

const MEANING: Record<string, string> = {
  [ERROR_CODES.compilation]: "compilation failed",
  [ERROR_CODES.execution]: "execution failed",
  [ERROR_CODES.configuration]: "configuration error",
  [ERROR_CODES.lint]: "lint failed",
  [ERROR_CODES.fusionNotFound]: "dbt Fusion not found",
  [ERROR_CODES.adapterUnavailable]: "adapter unavailable",
  [ERROR_CODES.timeout]: "timed out",
  [ERROR_CODES.cancelled]: "cancelled",
  [ERROR_CODES.remoteApi]: "remote API error",
  [ERROR_CODES.usage]: "usage error",
  [ERROR_CODES.forbidden]: "forbidden",
  [ERROR_CODES.notFound]: "not found",
  [ERROR_CODES.unavailable]: "unavailable",
};

/** Node kinds dbt names in its error headlines ("... Error in model x"). */
const HEADLINE =
  /\b([A-Z][A-Za-z]*(?: [A-Z][A-Za-z]*)* Error|[A-Z][A-Za-z]*Error)\s+in\s+(model|test|seed|snapshot|source|analysis|operation|macro|unit_test|exposure|metric|semantic_model|saved_query|sql_operation)\s+([A-Za-z0-9_.]+)/;
const CLASS_ONLY =
  /^\s*([A-Z][A-Za-z]*(?: [A-Z][A-Za-z]*)* Error|[A-Z][A-Za-z]*Error)\b/;

/** dbt's error class and node from its text ("Compilation Error in model x"). */
export function dbtHeadline(
  text: string,
): { cls?: string; node?: string } {
  const m = text.match(HEADLINE);
  if (m) return { cls: m[1]!, node: `${m[2]} ${m[3]}` };
  const c = text.match(CLASS_ONLY);
  return c ? { cls: c[1]! } : {};
}

/**
 * A thrown error, told safely: its code, what it means, dbt's exception
 * class and the node it names. E.g. `FLOE-DBT-E001 compilation failed
 * (CompilationError) in model orders`.
 */
export function thrownSummary(e: unknown): string {
  const err = e as {
    code?: unknown;
    details?: Record<string, unknown>;
    message?: unknown;
    name?: unknown;
  } | null;
  const code = typeof err?.code === "string" ? err.code : undefined;
  const message = typeof err?.message === "string" ? err.message : "";
  const head = dbtHeadline(message);
  const exception = typeof err?.details?.dbt_exception === "string"
    ? err.details.dbt_exception
    : head.cls;
  if (!code) {
    return typeof err?.name === "string"
      ? `internal error (${err.name})`
      : "error";
  }
  return `${code} ${MEANING[code] ?? "error"}${
    exception ? ` (${exception})` : ""
  }${head.node ? ` in ${head.node}` : ""}`;
}

/** One failed node of a result, as run_results.json reports it. */
export interface NodeError {
  unique_id: string | null;
  status?: string | null;
  message: string | null;
}

/**
 * A result's failed nodes, told safely: one line each, the node, its status
 * and dbt's error class (`model.p.orders: error (Database Error)`).
 */
export function nodeErrorsSummary(
  errors: readonly NodeError[] | undefined,
  fallback: string,
): string {
  const lines = (errors ?? []).map((x) => {
    const cls = x.message ? dbtHeadline(x.message).cls : undefined;
    return `${x.unique_id ?? "dbt"}: ${x.status ?? "failed"}${
      cls ? ` (${cls})` : ""
    }`;
  });
  return lines.join("\n") || fallback;
}
