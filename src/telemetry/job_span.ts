/**
 * The `floe_dbt.job` span of a daemon job: child of the caller's trace when
 * the job was submitted with a `traceparent`, parent of the runtime span.
 *
 * @module
 */
import {
  type Context,
  isSpanContextValid,
  type Span,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { ATTR, tracer } from "./tracer.ts";
import { contextFromTraceparent } from "./traceparent.ts";

/** A started job span. */
export interface JobSpan {
  /** The context to run the job's runtime call in. */
  context: Context;
  /** The trace id, or null when tracing is off and no parent was given. */
  traceId: string | null;
  span: Span;
  /** End the span with the job's final status and error code. */
  end(status: string, errorCode?: string | null): void;
}

/**
 * Start a job span. Its parent is the job's stored `traceparent` only (never
 * the active context, which may be the HTTP request that queued the job).
 */
export function startJobSpan(job: {
  id: string;
  runtime: string;
  request: { command: string; project_dir: string; target?: string };
  traceparent?: string | null;
}): JobSpan {
  const parent = contextFromTraceparent(job.traceparent);
  const span = tracer().startSpan("floe_dbt.job", {
    attributes: {
      [ATTR.jobId]: job.id,
      [ATTR.runtime]: job.runtime,
      [ATTR.command]: job.request.command,
      [ATTR.project]: job.request.project_dir,
      ...(job.request.target ? { [ATTR.target]: job.request.target } : {}),
    },
  }, parent);
  const sc = span.spanContext();
  return {
    context: trace.setSpan(parent, span),
    traceId: isSpanContextValid(sc) ? sc.traceId : null,
    span,
    end(status, errorCode) {
      span.setAttribute(ATTR.jobStatus, status);
      if (errorCode) span.setAttribute(ATTR.errorCode, errorCode);
      if (status !== "succeeded") {
        span.setStatus({ code: SpanStatusCode.ERROR, message: status });
      }
      span.end();
    },
  };
}
