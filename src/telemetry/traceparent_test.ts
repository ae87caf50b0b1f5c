import assert from "node:assert/strict";
import { trace } from "@opentelemetry/api";
import {
  contextFromTraceparent,
  formatTraceparent,
  parseTraceparent,
} from "./traceparent.ts";

const TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

Deno.test("parseTraceparent() reads a W3C traceparent as a remote span context", () => {
  const sc = parseTraceparent(TP);
  assert.deepEqual(sc, {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    traceFlags: 1,
    isRemote: true,
  });
  assert.equal(formatTraceparent(sc!), TP);
  const ctx = contextFromTraceparent(TP);
  assert.equal(
    trace.getSpanContext(ctx)?.traceId,
    "0af7651916cd43dd8448eb211c80319c",
  );
});

Deno.test("parseTraceparent() ignores malformed or all-zero values", () => {
  for (
    const bad of [
      undefined,
      "",
      "garbage",
      "00-00000000000000000000000000000000-b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
      "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      `${TP}-extra`,
      "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01",
    ]
  ) {
    assert.equal(parseTraceparent(bad), undefined, String(bad));
    assert.equal(trace.getSpanContext(contextFromTraceparent(bad)), undefined);
  }
  // A future version may append fields.
  assert.ok(parseTraceparent(`01-${TP.slice(3)}-more`));
});
