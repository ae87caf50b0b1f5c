/**
 * The history's per-node line: median, latest, and "slower than usual" only
 * past both margins and with enough earlier runs.
 *
 * @module
 */
import assert from "node:assert/strict";
import { nodeHistory, SLOWER_MARGIN } from "./history.ts";

Deno.test("history: a node's median and latest, gaps kept", () => {
  const h = nodeHistory("model.shop.orders", [1, null, 3, 2]);
  assert.equal(h.name, "orders");
  assert.equal(h.resource_type, "model");
  assert.deepEqual(h.durations, [1, null, 3, 2]);
  assert.equal(h.median, 2);
  assert.equal(h.latest, 2);
  assert.equal(h.slower, false);
  assert.equal(nodeHistory("model.shop.orders", [1, 2, null]).latest, null);
});

Deno.test("history: slower than usual needs both margins and two earlier runs", () => {
  const { ratio, seconds } = SLOWER_MARGIN;
  // Over both margins, three earlier runs: slower.
  assert.equal(
    nodeHistory("model.p.m", [2, 2, 2, 2 * ratio + 0.1]).slower,
    true,
  );
  // Over the ratio but not the seconds (a small model's noise): not slower.
  assert.equal(
    nodeHistory("model.p.m", [0.1, 0.1, 0.1, 0.1 + seconds - 0.01]).slower,
    false,
  );
  // Over the seconds but not the ratio (a long model's noise): not slower.
  assert.equal(nodeHistory("model.p.m", [60, 60, 60, 61]).slower, false);
  // One earlier run is not a usual.
  assert.equal(nodeHistory("model.p.m", [1, 10]).slower, false);
  // The median ignores the latest: one slow run among fast ones is flagged.
  assert.equal(nodeHistory("model.p.m", [1, 1, 30]).slower, true);
});
