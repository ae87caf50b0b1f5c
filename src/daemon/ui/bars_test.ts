/**
 * The page's pure parts: bars from progress events (on dbt's threads, or
 * packed into lanes without them; running until finished) and the reasons
 * a `--skip-unchanged` job gives for reused and rebuilt nodes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { barsOf, type NodeEvent, reasons } from "./browser/bars.ts";

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const start = (id: string, s: number, thread?: string): NodeEvent => ({
  type: "node_started",
  unique_id: `model.p.${id}`,
  name: id,
  resource_type: "model",
  ts: at(s),
  ...(thread ? { thread } : {}),
});
const finish = (id: string, s: number, status = "success"): NodeEvent => ({
  type: "node_finished",
  unique_id: `model.p.${id}`,
  name: id,
  resource_type: "model",
  status,
  execution_time: 1,
  ts: at(s),
});

Deno.test("bars: one per node on its dbt thread, threads in number order", () => {
  const { bars, lanes } = barsOf([
    { type: "job_started", ts: at(0) },
    start("a", 1, "Thread-2 (worker)"),
    start("b", 1, "Thread-10 (worker)"),
    finish("a", 2),
    start("c", 2, "Thread-2 (worker)"),
    finish("b", 3, "error"),
  ]);
  assert.deepEqual(lanes, ["Thread-2", "Thread-10"]);
  assert.deepEqual(
    bars.map((b) => [b.name, b.lane, b.status, b.end === null]),
    [["a", 0, "success", false], ["b", 1, "error", false], [
      "c",
      0,
      "running",
      true,
    ]],
  );
});

Deno.test("bars: without thread names, the first lane free when it started", () => {
  const { bars, lanes } = barsOf([
    start("a", 1),
    start("b", 1),
    finish("a", 3),
    start("c", 4),
    start("d", 4),
  ]);
  // b never finished: its lane stays taken; c reuses a's, d needs a third.
  assert.deepEqual(bars.map((b) => [b.name, b.lane]), [
    ["a", 0],
    ["b", 1],
    ["c", 0],
    ["d", 2],
  ]);
  assert.equal(lanes.length, 3);
});

Deno.test("bars: a finish without its start is drawn back from its duration", () => {
  const { bars } = barsOf([finish("a", 10)]);
  assert.equal(bars[0]!.end! - bars[0]!.start, 1000);
});

Deno.test("reused/rebuilt reasons: lists, objects and maps", () => {
  assert.deepEqual(reasons(["model.p.a"]), [["model.p.a", ""]]);
  assert.deepEqual(
    reasons([{ unique_id: "model.p.a", reason: "unchanged inputs" }]),
    [["model.p.a", "unchanged inputs"]],
  );
  assert.deepEqual(reasons({ "model.p.b": "code changed" }), [[
    "model.p.b",
    "code changed",
  ]]);
  assert.deepEqual(reasons(undefined), []);
  assert.deepEqual(reasons(3), []);
});
