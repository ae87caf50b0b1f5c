import assert from "node:assert/strict";
import { loadSpec, validateRecorded } from "./cloud/openapi.ts";
import type { FakeDbtCloud, Recorded } from "./cloud/fake_server.ts";
import { ACCOUNT, cloudSetup, RUN_JOB } from "./cloud/setup.ts";
import { staticExecutor } from "./cloud/executors.ts";

async function specErrors(server: FakeDbtCloud): Promise<string[]> {
  const doc = await loadSpec();
  return server.requests
    .filter((r) => r.path.startsWith("/api/v2/"))
    .flatMap((r) => validateRecorded(doc, r));
}

Deno.test("every request the client makes, and every answer of the fake, follows the Admin API v2 document", async () => {
  await using s = await cloudSetup({ job_ids: { run: RUN_JOB, test: 102 } });
  s.server.jobs.set(102, ["dbt test"]);
  await s.runtime.runModels(s.project);
  await s.runtime.runModels(
    { ...s.project, target: "prod" },
    { select: ["stg_orders+"], exclude: ["customers"], fullRefresh: true },
    { threads: 8 },
  );
  await s.runtime.testModels(s.project);
  await s.runtime.getManifest(s.project, { noCache: true });
  await s.runtime.getRunResults(s.project);
  // An ambiguous trigger (adoption search), a cancelled run, a timeout.
  s.server.faults.push({
    route: "trigger",
    kind: "lose_response",
    status: 502,
  });
  await s.runtime.runModels(s.project);
  const ac = new AbortController();
  await s.runtime.runModels(s.project, {}, {
    signal: ac.signal,
    onEvent: (e) => {
      if (e.type === "log" && /Starting/.test(e.message)) ac.abort();
    },
  }).catch(() => {});
  // A failed run retried (POST runs/{id}/retry/), then nothing to retry.
  s.server.executor = staticExecutor({}, false);
  await assert.rejects(() => s.runtime.runModels(s.project));
  s.server.executor = staticExecutor(s.artifacts);
  await s.runtime.execute("retry", s.project);
  await s.runtime.execute("retry", s.project);
  assert.equal(s.server.calls(/\/runs\/\d+\/retry\/$/, "POST").length, 1);
  const kinds = new Set(
    s.server.requests.map((r) => `${r.method} ${r.path.replace(/\d+/g, "N")}`),
  );
  assert.ok(kinds.size >= 6, [...kinds].join("\n"));
  assert.deepEqual(await specErrors(s.server), []);
  assert.ok(
    s.server.requests.every((r) => r.auth === `Bearer ${s.token}`),
    "bearer authentication on every request",
  );
});

Deno.test("the spec validator catches what the document forbids", async () => {
  const doc = await loadSpec();
  const base: Recorded = {
    method: "POST",
    path: "/api/v2/accounts/42/jobs/101/run/",
    query: {},
    body: { cause: "x" },
    auth: "Bearer abc",
  };
  assert.deepEqual(validateRecorded(doc, base), []);
  const bad = (r: Partial<Recorded>) =>
    validateRecorded(doc, { ...base, ...r });
  assert.match(bad({ auth: "Token abc" }).join(), /not 'Bearer <token>'/);
  assert.match(bad({ body: null }).join(), /request body required/);
  assert.match(bad({ body: {} }).join(), /cause: required field missing/);
  assert.match(
    bad({ body: { cause: "x", target: "prod" } }).join(),
    /target: not a field of the schema/,
  );
  assert.match(
    bad({ body: { cause: "x", threads_override: "8" } }).join(),
    /threads_override: string where integer expected/,
  );
  assert.match(bad({ method: "GET" }).join(), /GET not allowed/);
  const retry = "/api/v2/accounts/42/runs/70000000001/retry/";
  assert.deepEqual(bad({ path: retry, body: null }), []);
  assert.match(
    bad({ path: retry, body: { cause: "x" } }).join(),
    /takes no request body/,
  );
  assert.match(
    bad({ path: "/api/v2/accounts/42/runs/70000000001/retry/x/", body: null })
      .join(),
    /no such path/,
  );
  assert.match(
    bad({ path: "/api/v2/accounts/42/jobs/101/go/" }).join(),
    /no such path/,
  );
  assert.match(
    bad({
      method: "GET",
      path: "/api/v2/accounts/42/runs/",
      body: null,
      query: { sort: "id" },
    }).join(),
    /query parameter sort not in the spec/,
  );
  assert.match(
    bad({
      method: "GET",
      path: "/api/v2/accounts/42/runs/",
      body: null,
      query: { limit: "ten" },
    }).join(),
    /limit=ten mistyped/,
  );
  assert.match(
    bad({
      method: "GET",
      path: "/api/v2/accounts/42/runs/1/",
      body: null,
      status: 200,
      response: { status: { code: 200, is_success: true }, data: { id: 1 } },
    }).join(),
    /user_message: required field missing.*created_at: required field missing/,
  );
});

Deno.test("the fake retries only a job's newest run that failed: otherwise a 400 error envelope", async () => {
  await using s = await cloudSetup();
  const ok = await s.runtime.runModels(s.project);
  const retry = (id: unknown) =>
    fetch(`${s.server.url}/api/v2/accounts/${ACCOUNT}/runs/${id}/retry/`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.token}` },
    });
  const notFailed = await retry(ok.metadata.run_id);
  assert.equal(notFailed.status, 400);
  const body = await notFailed.json();
  assert.deepEqual(body, {
    status: {
      code: 400,
      is_success: false,
      user_message: "Only a failed run can be retried.",
      developer_message: "RETRY_NOT_FAILED_RUN",
    },
    data: null,
  });
  s.server.executor = staticExecutor({}, false);
  await assert.rejects(() => s.runtime.runModels(s.project));
  const failedId = [...s.server.runs.keys()].at(-1)!;
  await assert.rejects(() => s.runtime.runModels(s.project));
  const notLatest = await retry(failedId);
  assert.equal(notLatest.status, 400);
  assert.equal(
    (await notLatest.json()).status.developer_message,
    "RETRY_NOT_LATEST_RUN",
  );
  assert.equal((await retry(99)).status, 404);
  const runs = s.server.runs.size;
  const made = await retry([...s.server.runs.keys()].at(-1)!);
  assert.equal(made.status, 200);
  const data = (await made.json()).data;
  assert.equal(data.job_definition_id, RUN_JOB);
  assert.equal(data.status, 1);
  assert.equal(s.server.runs.size, runs + 1, "a new run was enqueued");
  assert.deepEqual(await specErrors(s.server), []);
});
