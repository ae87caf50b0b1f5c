/**
 * W3C Trace Context (`traceparent`) parsing: `@opentelemetry/api` ships no
 * propagator implementation and we use no SDK, so this is the small part of
 * it the agent needs (version-traceid-spanid-flags).
 *
 * @module
 */
import {
  type Context,
  isSpanContextValid,
  ROOT_CONTEXT,
  type SpanContext,
  trace,
} from "@opentelemetry/api";

const TRACEPARENT =
  /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Parse a `traceparent` value into a remote span context; undefined when it
 * is malformed (as the W3C spec says: ignore it and start a new trace).
 */
export function parseTraceparent(
  value: string | null | undefined,
): SpanContext | undefined {
  const m = value?.trim().toLowerCase().match(TRACEPARENT);
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  // Version ff is invalid; version 00 allows nothing after the flags.
  if (version === "ff" || (version === "00" && rest)) return undefined;
  const sc: SpanContext = {
    traceId: traceId!,
    spanId: spanId!,
    traceFlags: parseInt(flags!, 16) & 1,
    isRemote: true,
  };
  return isSpanContextValid(sc) ? sc : undefined;
}

/** The `traceparent` value of a span context (version 00). */
export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${
    (sc.traceFlags & 0xff).toString(16).padStart(2, "0")
  }`;
}

/**
 * A context whose parent is the remote span named by `traceparent`, or the
 * root context when it is absent or malformed.
 */
export function contextFromTraceparent(
  value: string | null | undefined,
  base: Context = ROOT_CONTEXT,
): Context {
  const sc = parseTraceparent(value);
  return sc ? trace.setSpanContext(base, sc) : base;
}
