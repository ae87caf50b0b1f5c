/**
 * Traces: a span per runtime operation and per job, exported by Deno's
 * built-in OpenTelemetry (`OTEL_DENO=true`), continuing the caller's trace
 * from `traceparent` (HTTP) or `TRACEPARENT` (CLI).
 *
 * @module
 */
export { ATTR, tracer, TRACER_NAME } from "./tracer.ts";
export { type JobSpan, startJobSpan } from "./job_span.ts";
export {
  contextFromTraceparent,
  formatTraceparent,
  parseTraceparent,
} from "./traceparent.ts";
export { tracedRuntime } from "../wrappers/traced.ts";
