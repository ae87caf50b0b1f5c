/**
 * The load test, shortened: a real daemon on loopback, 20 clients submitting
 * real compiles and reading for 15 s. Asserts counts only (nothing lost,
 * every accepted job ended, complete SSE streams), never latencies; the full
 * 60 s run with its figures is `deno task load`.
 */
import assert from "node:assert/strict";
import { runLoad } from "../scripts/load.ts";

Deno.test(
  "load: 20 clients for 15 s lose no job; every accepted job ends; every stream is complete",
  { sanitizeResources: false, sanitizeOps: false },
  async () => {
    const s = await runLoad({ durationSeconds: 15, clients: 20 });
    console.log(JSON.stringify(s));
    assert.ok(s.accepted > 0, "jobs were accepted");
    assert.equal(s.lost, 0, "no accepted job lost");
    assert.equal(s.completed, s.accepted, "every accepted job ended");
    assert.equal(s.succeeded, s.accepted, "every compile succeeded");
    assert.equal(s.errors, 0, "no 5xx, no failed request");
    assert.equal(s.refused_429, 0, "one job per client stays under max_queued");
    assert.equal(s.sse_streams, s.accepted, "one stream per job");
    assert.equal(
      s.sse_gaps,
      0,
      "each stream numbered 0, 1, 2... to job_finished",
    );
    assert.ok(s.requests > s.accepted * 2, "reads interleaved with submits");
    assert.ok(s.peak_rss_mib > 0, "the daemon's peak RSS was read");
  },
);
