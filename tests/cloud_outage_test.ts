import assert from "node:assert/strict";
import { FloeDbtError } from "../src/contract/errors.ts";
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from "../runtimes/cloud/http.ts";
import { cloudSetup, RUN_JOB } from "./cloud/setup.ts";
import type { FakeRun } from "./cloud/fake_server.ts";

const triggers = /\/jobs\/\d+\/run\/$/;
const polls = /\/runs\/\d+\/$/;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

Deno.test("a 30 s 503 storm while polling is waited out: the job succeeds, nothing is cancelled", async () => {
  await using s = await cloudSetup({ poll_interval_seconds: 1 });
  const stormEnd = s.time.clock.now() + 30_000;
  s.server.faults.push({
    route: "run",
    kind: "status",
    status: 503,
    active: () => s.time.clock.now() < stormEnd,
  });
  const r = await s.runtime.runModels(s.project);
  assert.equal(r.success, true);
  const failed = s.server.calls(polls, "GET").filter((c) => c.status === 503);
  assert.ok(failed.length >= 4, `${failed.length} polls failed in the storm`);
  assert.ok(sum(s.time.sleeps) >= 30_000, "waited through the storm");
  assert.equal(s.server.calls(triggers).length, 1);
  assert.equal(s.server.calls(/\/cancel\/$/).length, 0);
  assert.ok(
    s.logs.some((l) => /503 Service Unavailable.*; retry 4 in 16\.0 s/.test(l)),
  );
});

Deno.test("5xx, 429 and network errors while polling all count as transient", async () => {
  await using s = await cloudSetup({ request_timeout_seconds: 0.2 });
  for (const status of [500, 502, 504, 429]) {
    s.server.faults.push({ route: "run", kind: "status", status });
  }
  s.server.faults.push({ route: "run", kind: "hang", times: 2 });
  s.server.faults.push({ route: "run", kind: "status", status: 503, times: 3 });
  const r = await s.runtime.runModels(s.project);
  assert.equal(r.success, true);
  assert.equal(s.server.runs.size, 1);
});

Deno.test("an outage past the run's deadline ends E007 and cancels the remote run", async () => {
  await using s = await cloudSetup({ timeout_seconds: 120 });
  s.server.faults.push({
    route: "run",
    kind: "status",
    status: 503,
    active: () => true,
  });
  await assert.rejects(() => s.runtime.runModels(s.project), (e: unknown) => {
    assert.ok(e instanceof FloeDbtError && e.code === "FLOE-DBT-E007");
    assert.match(e.message, /kept failing until the run's deadline: 503/);
    assert.match(e.message, /remote run was cancelled/);
    return true;
  });
  assert.ok(sum(s.time.sleeps) <= 120_000, "never waits past the deadline");
  assert.equal([...s.server.runs.values()][0]!.status, 30);
});

Deno.test("Retry-After 10^10 is capped at 5 minutes, and at the time left", async () => {
  await using s = await cloudSetup({ timeout_seconds: 3600 });
  s.server.faults.push({
    route: "run",
    kind: "status",
    status: 429,
    retryAfter: "10000000000",
  });
  const r = await s.runtime.runModels(s.project);
  assert.equal(r.success, true);
  assert.equal(Math.max(...s.time.sleeps), MAX_RETRY_AFTER_MS);

  await using t = await cloudSetup({ timeout_seconds: 90 });
  t.server.faults.push({
    route: "run",
    kind: "status",
    status: 503,
    retryAfter: "10000000000",
    times: 1,
  });
  t.server.faults.push({
    route: "run",
    kind: "status",
    status: 503,
    retryAfter: new Date(Date.now() + 10 ** 10).toUTCString(),
    active: () => true,
  });
  await assert.rejects(() => t.runtime.runModels(t.project), /deadline/);
  assert.ok(Math.max(...t.time.sleeps) <= 90_000, String(t.time.sleeps));
  assert.ok(sum(t.time.sleeps) <= 90_000);
});

Deno.test("parseRetryAfter reads seconds and HTTP dates, refuses the rest", () => {
  const clock = { now: () => Date.parse("2026-01-01T00:00:00Z") } as never;
  assert.equal(parseRetryAfter("10", clock), 10_000);
  assert.equal(parseRetryAfter(" 1.5 ", clock), 1500);
  assert.equal(parseRetryAfter("10000000000", clock), 10 ** 13);
  assert.equal(
    parseRetryAfter("Thu, 01 Jan 2026 00:01:00 GMT", clock),
    60_000,
  );
  assert.equal(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", clock), 0);
  for (const bad of [null, "", "soon", "-5", "1e10", "12abc"]) {
    assert.equal(parseRetryAfter(bad, clock), undefined, String(bad));
  }
  assert.ok(Number.isFinite(parseRetryAfter("9".repeat(400), clock)!));
});

Deno.test("a 401 after the token was rotated re-reads the secret once and goes on", async () => {
  await using s = await cloudSetup();
  const rotated = `dbtc_ROTATED_${crypto.randomUUID().replaceAll("-", "")}`;
  let n = 0;
  const r = await s.runtime.runModels(s.project, {}, {
    onEvent: (e) => {
      // Mid-run: dbt Cloud rotates the token and the secret file follows.
      if (e.type === "log" && /Starting/.test(e.message) && n++ === 0) {
        s.server.token = rotated;
        Deno.env.set(`FLOE_SECRET_${s.ref.toUpperCase()}`, rotated);
      }
    },
  });
  assert.equal(r.success, true);
  const unauthorized = s.server.requests.filter((q) => q.status === 401);
  assert.equal(unauthorized.length, 1);
  assert.equal(unauthorized[0]!.auth, `Bearer ${s.token}`);
  assert.equal(s.server.requests.at(-1)!.auth, `Bearer ${rotated}`);
  assert.ok(
    s.logs.some((l) => /resolves to a new token; retrying once/.test(l)),
  );
  assert.ok(!s.logs.join("\n").includes(rotated), "the token is never logged");
});

Deno.test("a 401 with an unchanged secret fails at once with E009 (one re-read, no retry loop)", async () => {
  await using s = await cloudSetup();
  s.server.token = "dbtc_revoked_elsewhere";
  await assert.rejects(
    () => s.runtime.runModels(s.project),
    (e: unknown) =>
      e instanceof FloeDbtError && e.code === "FLOE-DBT-E009" &&
      /401 Unauthorized/.test(e.message),
  );
  assert.equal(s.server.requests.length, 1);
  assert.deepEqual(s.time.sleeps, []);
});

function otherRun(id: number, created: Date): FakeRun {
  return {
    id,
    job: RUN_JOB,
    status: 10,
    cause: `someone else ${id}`,
    steps: null,
    created,
    artifacts: {},
    message: null,
  };
}

Deno.test("adoption finds a lost trigger's run beyond the first page of runs", async () => {
  await using s = await cloudSetup();
  // 150 runs created after ours (a busy job): ours is on the second page.
  const later = new Date(Date.now() + 60_000);
  for (let i = 0; i < 150; i++) {
    s.server.runs.set(90_000_000_000 + i, otherRun(90_000_000_000 + i, later));
  }
  s.server.faults.push({
    route: "trigger",
    kind: "lose_response",
    status: 502,
  });
  const r = await s.runtime.runModels(s.project);
  assert.equal(r.metadata.adopted_after_ambiguous_trigger, true);
  assert.equal(s.server.calls(triggers).length, 1, "never triggered twice");
  const lists = s.server.calls(/\/runs\/$/, "GET");
  assert.deepEqual(lists.map((l) => l.query.offset), ["0", "100"]);
  assert.ok(lists.every((l) => l.query.order_by === "-created_at"));
  assert.ok(Number(r.metadata.run_id) < 90_000_000_000);
});

Deno.test("adoption stops paging once runs are older than the trigger", async () => {
  await using s = await cloudSetup();
  const old = new Date(Date.now() - 3_600_000);
  for (let i = 0; i < 300; i++) {
    s.server.runs.set(1000 + i, otherRun(1000 + i, old));
  }
  // The run is never created (503 before processing is not ambiguous; a
  // 500 is): the search finds nothing and the trigger is retried.
  s.server.faults.push({ route: "trigger", kind: "status", status: 500 });
  const r = await s.runtime.runModels(s.project);
  assert.equal(r.metadata.adopted_after_ambiguous_trigger, false);
  const lists = s.server.calls(/\/runs\/$/, "GET");
  assert.deepEqual(lists.map((l) => l.query.offset), ["0"]);
  assert.equal(s.server.calls(triggers).length, 2);
});
