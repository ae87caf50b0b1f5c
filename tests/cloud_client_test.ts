import assert from "node:assert/strict";
import { FloeDbtError } from "../src/contract/errors.ts";
import { parseDbtTime } from "../runtimes/cloud/adoption.ts";
import { ACCOUNT, cloudSetup, RUN_JOB } from "./cloud/setup.ts";

const isCode = (code: string) => (e: unknown) =>
  e instanceof FloeDbtError && e.code === code;
const triggers = /\/jobs\/\d+\/run\/$/;

Deno.test("execute() triggers the job, polls 1->2->3->10 with exponential backoff, and counts run_results", async () => {
  await using s = await cloudSetup({
    poll_interval_seconds: 5,
    max_poll_interval_seconds: 7,
  });
  const r = await s.runtime.runModels(s.project);
  assert.equal(r.success, true);
  assert.equal(r.models_run, 5);
  assert.equal(r.tests_run, 14);
  assert.equal(s.server.calls(triggers, "POST").length, 1);
  const t = s.server.calls(triggers)[0]!;
  assert.equal(t.path, `/api/v2/accounts/${ACCOUNT}/jobs/${RUN_JOB}/run/`);
  assert.equal(
    (t.body as { steps_override?: unknown }).steps_override,
    undefined,
    "own job: no override",
  );
  assert.match(
    (t.body as { cause: string }).cause,
    /^floe-dbt: dbt run \[floe:/,
  );
  const polls = s.server.calls(/\/runs\/\d+\/$/, "GET");
  assert.equal(polls.length, 3);
  assert.equal(polls[0]!.query.include_related, "run_steps,job");
  assert.deepEqual(s.time.sleeps, [5000, 7000]);
  assert.ok(
    Number(r.metadata.run_id) > 2 ** 32,
    "run id beyond 32 bits kept exact",
  );
  assert.equal(r.metadata.status_humanized, "Success");
  assert.equal(r.metadata.account_id, String(ACCOUNT));
});

Deno.test("execute() with a selection sends steps_override; seed falls back to the run job", async () => {
  await using s = await cloudSetup();
  await s.runtime.execute("seed", s.project, {
    select: ["raw_orders"],
    fullRefresh: true,
  });
  const body = s.server.calls(triggers)[0]!.body as {
    steps_override: string[];
  };
  assert.deepEqual(body.steps_override, [
    "dbt seed --select raw_orders --full-refresh",
  ]);
});

Deno.test("GETs retry on 500/502/503/504 with 2 s, 4 s, 8 s backoff, then give up with E009", async () => {
  await using s = await cloudSetup();
  const run = await s.runtime.execute("run", s.project).then((r) =>
    String(r.metadata.run_id)
  );
  s.time.sleeps.length = 0;
  for (const status of [500, 503, 504]) {
    s.server.faults.push({ route: "run_artifact", kind: "status", status });
  }
  const before = s.server.calls(/\/artifacts\//).length;
  const rr = await s.runtime.getRunResults(s.project, { noCache: true });
  assert.ok(Array.isArray(rr.results));
  assert.deepEqual(s.time.sleeps, [2000, 4000, 8000]);
  assert.equal(s.server.calls(/\/artifacts\//).length - before, 4);
  s.server.faults.push({
    route: "run_artifact",
    kind: "status",
    status: 503,
    times: 10,
  });
  await assert.rejects(
    () => s.runtime.getRunResults(s.project, { noCache: true }),
    (e: unknown) =>
      isCode("FLOE-DBT-E009")(e) &&
      /after 4 attempts: 503 Service Unavailable: Service unavailable/.test(
        (e as Error).message,
      ),
  );
  assert.match(run, /^[1-9][0-9]*$/, "the run's dbt Cloud id");
});

Deno.test("429 honours Retry-After (seconds) and backs off without it", async () => {
  await using s = await cloudSetup();
  s.server.faults.push({
    route: "trigger",
    kind: "status",
    status: 429,
    retryAfter: "30",
  });
  s.server.faults.push({ route: "trigger", kind: "status", status: 429 });
  await s.runtime.runModels(s.project);
  assert.deepEqual(s.time.sleeps.slice(0, 2), [30000, 4000]);
  assert.equal(s.server.calls(triggers).length, 3);
  assert.equal(s.server.runs.size, 1, "429 was not processed: one run");
});

Deno.test("401 and 404 are not retried and quote dbt Cloud's user_message", async () => {
  await using s = await cloudSetup();
  s.server.faults.push({ route: "trigger", kind: "status", status: 401 });
  await assert.rejects(() => s.runtime.runModels(s.project), (e: unknown) => {
    assert.ok(isCode("FLOE-DBT-E009")(e));
    const err = e as FloeDbtError;
    assert.match(
      err.message,
      /^dbt Cloud API 401 Unauthorized: POST .*: Invalid token\.$/,
    );
    assert.match(err.hint!, new RegExp(`check api_token_ref '${s.ref}'`));
    return true;
  });
  assert.equal(s.server.calls(triggers).length, 1);
  s.server.jobs.delete(RUN_JOB);
  await assert.rejects(
    () => s.runtime.runModels(s.project),
    /404 Not Found: .*Job not found/,
  );
  assert.equal(s.server.calls(triggers).length, 2);
  assert.deepEqual(s.time.sleeps, []);
});

Deno.test("a lost trigger response (502, 504, or a hang past the request timeout) adopts the created run", async () => {
  for (const fault of [{ status: 502 }, { status: 504 }, {}]) {
    await using s = await cloudSetup({ request_timeout_seconds: 0.2 });
    s.server.faults.push({ route: "trigger", kind: "lose_response", ...fault });
    const r = await s.runtime.runModels(s.project);
    assert.equal(
      s.server.runs.size,
      1,
      `exactly one run after ${JSON.stringify(fault)}`,
    );
    assert.equal(s.server.calls(triggers).length, 1);
    assert.equal(r.metadata.adopted_after_ambiguous_trigger, true);
    const list = s.server.calls(/\/runs\/$/, "GET")[0]!;
    assert.equal(list.query.job_definition_id, String(RUN_JOB));
    assert.equal(list.query.order_by, "-created_at");
  }
});

Deno.test("a 502 before the run exists is retried after an empty adoption check", async () => {
  await using s = await cloudSetup();
  s.server.faults.push({ route: "trigger", kind: "status", status: 502 });
  const r = await s.runtime.runModels(s.project);
  assert.equal(s.server.runs.size, 1);
  assert.equal(s.server.calls(triggers).length, 2);
  assert.equal(r.metadata.adopted_after_ambiguous_trigger, false);
});

Deno.test("timeout_seconds cancels the remote run and throws E007", async () => {
  await using s = await cloudSetup({
    timeout_seconds: 6,
    poll_interval_seconds: 5,
  });
  s.server.holdRunning = true;
  const original = s.server.runs;
  const p = s.runtime.runModels(s.project);
  await assert.rejects(
    p,
    (e: unknown) =>
      isCode("FLOE-DBT-E007")(e) &&
      /remote run was cancelled/.test((e as Error).message),
  );
  assert.equal(s.server.calls(/\/cancel\/$/, "POST").length, 1);
  assert.equal([...original.values()][0]!.status, 30);
});

Deno.test("aborting the call cancels the remote run and throws E008", async () => {
  await using s = await cloudSetup();
  const ac = new AbortController();
  const r = s.runtime.runModels(s.project, {}, {
    signal: ac.signal,
    onEvent: (e) => {
      if (e.type === "log" && /Starting/.test(e.message)) ac.abort();
    },
  });
  await assert.rejects(
    r,
    (e: unknown) =>
      isCode("FLOE-DBT-E008")(e) &&
      /remote run was cancelled/.test((e as Error).message),
  );
  assert.equal([...s.server.runs.values()][0]!.status, 30);
});

Deno.test("malformed JSON and a wrong shape are clear E009 errors", async () => {
  await using s = await cloudSetup();
  s.server.faults.push({ route: "trigger", kind: "malformed" });
  await assert.rejects(
    () => s.runtime.runModels(s.project),
    /answered 200 with invalid JSON/,
  );
  s.server.faults.push({ route: "trigger", kind: "status", status: 200 });
  await assert.rejects(
    () => s.runtime.runModels(s.project),
    (e: unknown) =>
      isCode("FLOE-DBT-E009")(e) &&
      /unexpected shape: field 'data'/.test((e as Error).message),
  );
});

Deno.test("base_url ending in /api/v2 works; legacy hosts warn through the logger", async () => {
  await using t = await cloudSetup({}, "/api/v2/");
  const r = await t.runtime.runModels(t.project);
  assert.equal(r.success, true);
  assert.equal(
    t.server.calls(triggers)[0]!.path,
    `/api/v2/accounts/${ACCOUNT}/jobs/${RUN_JOB}/run/`,
  );
  await using u = await cloudSetup({ base_url: "https://cloud.getdbt.com" });
  assert.match(
    u.logs.join("\n"),
    /legacy dbt Cloud host 'cloud.getdbt.com'.*2026-11-01/,
  );
  assert.equal(
    u.runtime.getRuntimeMetadata().discovery_url,
    "https://metadata.cloud.getdbt.com/graphql",
  );
});

Deno.test("Discovery: applied models follow the cursor; URL derived from the access URL", async () => {
  await using s = await cloudSetup({
    environment_id: 7,
    discovery_url: "https://placeholder.invalid/graphql",
  });
  await using d = await cloudSetup({ environment_id: 7 });
  assert.equal(d.runtime.discoveryUrl(), null);
  await using p = await cloudSetup({ base_url: "https://ab123.us1.dbt.com" });
  assert.equal(
    p.runtime.discoveryUrl(),
    "https://ab123.metadata.us1.dbt.com/graphql",
  );
  await using g = await cloudSetup({ environment_id: 7 });
  const rt = new (s.runtime
    .constructor as typeof import("../runtimes/cloud/mod.ts").CloudRuntime)(
    {
      ...s.runtime.config,
      api_token_ref: g.ref,
      discovery_url: `${g.server.url}/graphql`,
    },
  );
  g.server.appliedModels = Array.from(
    { length: 1203 },
    (_, i) => ({ uniqueId: `model.p.m${i}`, name: `m${i}`, status: "success" }),
  );
  const models = await rt.appliedModels();
  assert.equal(models.length, 1203);
  const gql = g.server.calls(/\/graphql$/);
  assert.equal(gql.length, 3);
  assert.equal(
    (gql[0]!.body as { variables: { environmentId: number } }).variables
      .environmentId,
    7,
  );
});

Deno.test("parseDbtTime reads dbt Cloud's timestamps", () => {
  assert.equal(
    parseDbtTime("2021-11-26 16:48:41.431645+00:00"),
    Date.parse("2021-11-26T16:48:41.431Z"),
  );
  assert.ok(Number.isNaN(parseDbtTime("yesterday")));
});

Deno.test("aborting while the trigger POST is in flight cancels the run it created anyway", async () => {
  await using s = await cloudSetup({ request_timeout_seconds: 30 });
  // The server creates the run but never answers the POST.
  s.server.faults.push({ route: "trigger", kind: "lose_response" });
  const ac = new AbortController();
  const p = s.runtime.runModels(s.project, {}, { signal: ac.signal });
  while (s.server.runs.size === 0) await new Promise((r) => setTimeout(r, 10));
  ac.abort();
  await assert.rejects(p, isCode("FLOE-DBT-E008"));
  assert.equal(s.server.calls(/\/cancel\/$/, "POST").length, 1);
  assert.equal([...s.server.runs.values()][0]!.status, 30);
});

Deno.test("a call's own timeoutSeconds wins over the config's timeout_seconds", async () => {
  await using s = await cloudSetup({
    timeout_seconds: 3600,
    poll_interval_seconds: 5,
  });
  s.server.holdRunning = true;
  await assert.rejects(
    s.runtime.runModels(s.project, {}, { timeoutSeconds: 6 }),
    (e: unknown) =>
      isCode("FLOE-DBT-E007")(e) &&
      /within its deadline of 6 s/.test((e as Error).message),
  );
  assert.equal(s.server.calls(/\/cancel\/$/, "POST").length, 1);
});
