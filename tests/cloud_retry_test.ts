import assert from "node:assert/strict";
import { dirname, join } from "./_path.ts";
import { runAgent } from "./_helpers.ts";
import { ERROR_CODES, FloeDbtError } from "../src/contract/errors.ts";
import { staticExecutor } from "./cloud/executors.ts";
import { ACCOUNT, cloudSetup, RUN_JOB } from "./cloud/setup.ts";

const isUsage = (re: RegExp) => (e: unknown) =>
  e instanceof FloeDbtError && e.code === ERROR_CODES.usage &&
  re.test(e.message);
const posts = /./;
const triggers = /\/jobs\/\d+\/run\/$/;
const retries = /\/runs\/\d+\/retry\/$/;
const lists = /\/accounts\/\d+\/runs\/$/;

/** The artifacts with the first model errored (what a failed run leaves). */
function failing(artifacts: Record<string, string>): Record<string, string> {
  const rr = JSON.parse(artifacts["run_results.json"]!) as {
    results: { unique_id: string; status: string; message?: string }[];
  };
  const i = rr.results.findIndex((r) => r.unique_id.startsWith("model."));
  rr.results[i] = {
    ...rr.results[i]!,
    status: "error",
    message: "Database Error: boom",
  };
  return { ...artifacts, "run_results.json": JSON.stringify(rr) };
}

Deno.test("after a failed run, retry POSTs one runs/{id}/retry/ for it, triggers nothing, and returns the retried run's result", async () => {
  await using s = await cloudSetup();
  s.server.executor = staticExecutor(failing(s.artifacts), false);
  const failed = await s.runtime.runModels(s.project);
  assert.equal(failed.success, false);
  const failedId = String(failed.metadata.run_id);
  assert.equal(s.server.runs.get(Number(failedId))!.status, 20);
  s.server.executor = staticExecutor(s.artifacts);
  const before = s.server.requests.length;
  const remote: string[] = [];
  const nonces: string[] = [];
  const r = await s.runtime.execute("retry", s.project, {}, {
    onRemoteRun: (id) => void remote.push(id),
    onTrigger: (n) => void nonces.push(n),
  });
  const sent = s.server.requests.slice(before);
  const postsSent = sent.filter((q) => q.method === "POST");
  assert.deepEqual(
    postsSent.map((q) => q.path),
    [`/api/v2/accounts/${ACCOUNT}/runs/${failedId}/retry/`],
    "exactly one POST: the retry of the failed run",
  );
  assert.equal(postsSent[0]!.body, null, "the retry takes no body");
  assert.equal(sent.filter((q) => triggers.test(q.path)).length, 0);
  const list = sent.filter((q) => lists.test(q.path));
  assert.equal(list.length, 1, "one list call finds the last run");
  assert.equal(list[0]!.query.job_definition_id, String(RUN_JOB));
  assert.equal(list[0]!.query.order_by, "-id");
  const retried = [...s.server.runs.values()].find((x) =>
    x.retryOf === Number(failedId)
  );
  assert.ok(retried, "the fake made a run retrying the failed one");
  assert.equal(s.server.runs.size, 2);
  assert.equal(r.success, true);
  assert.equal(r.failures, 0);
  assert.equal(r.models_run, 5);
  assert.equal(r.metadata.command, "retry");
  assert.equal(r.metadata.run_id, String(retried.id));
  assert.equal(r.metadata.retried_run_id, String(retried.id));
  assert.equal(r.metadata.retry_of_run_id, failedId);
  assert.equal(r.metadata.job_id, String(RUN_JOB));
  assert.equal(r.metadata.retry, "retried");
  assert.deepEqual(remote, [String(retried.id)], "journaled for a restart");
  assert.deepEqual(nonces, [`retry-${RUN_JOB}-${failedId}`]);
  // Followed like a trigger: polled to its end, artifacts into its entry.
  assert.equal(s.server.calls(/\/runs\/\d+\/$/, "GET").length, 6);
  assert.equal(
    dirname(r.run_results_path),
    join(s.project.projectDir, ".floe", "dbt-cloud-cache", String(retried.id)),
  );
  assert.equal(
    await Deno.readTextFile(r.run_results_path),
    s.artifacts["run_results.json"],
  );
});

Deno.test("after a successful run, retry sends no POST and succeeds with nothing to retry, from the cache", async () => {
  await using s = await cloudSetup();
  const ok = await s.runtime.runModels(s.project);
  const before = s.server.requests.length;
  const events: string[] = [];
  const r = await s.runtime.execute("retry", s.project, {}, {
    onEvent: (e) => events.push(e.type === "log" ? e.message : e.type),
  });
  const sent = s.server.requests.slice(before);
  assert.deepEqual(
    sent.filter((q) => q.method === "POST").map((q) => q.path),
    [],
    "nothing triggered, nothing retried",
  );
  assert.deepEqual(
    sent.map((q) => q.path),
    [`/api/v2/accounts/${ACCOUNT}/runs/`],
    "one list call; the artifacts come from the cache",
  );
  assert.equal(s.server.runs.size, 1);
  assert.equal(r.success, true);
  assert.equal(r.metadata.retry, "nothing to retry");
  assert.equal(r.metadata.retried_run_id, null);
  assert.equal(r.metadata.retry_of_run_id, null);
  assert.equal(r.metadata.run_id, ok.metadata.run_id);
  assert.equal(r.models_run, 0, "no node ran");
  assert.equal(r.tests_run, 0);
  assert.equal(r.run_results_path, ok.run_results_path);
  assert.ok(events.some((m) => /nothing to retry/.test(m)), events.join());
  assert.ok(!events.includes("node_started"), "no node events");

  // --no-cache reads that run's artifacts again, still without a POST.
  const mark = s.server.requests.length;
  const fresh = await s.runtime.execute("retry", s.project, {}, {
    noCache: true,
  });
  const again = s.server.requests.slice(mark);
  assert.equal(again.filter((q) => q.method === "POST").length, 0);
  assert.ok(
    again.some((q) =>
      q.path.endsWith(`/runs/${ok.metadata.run_id}/artifacts/run_results.json`)
    ),
  );
  assert.equal(fresh.metadata.retry, "nothing to retry");
});

Deno.test("a selection or an option with retry is refused with E010 before any request", async () => {
  await using s = await cloudSetup();
  s.server.executor = staticExecutor(failing(s.artifacts), false);
  await s.runtime.runModels(s.project);
  const before = s.server.requests.length;
  await assert.rejects(
    () => s.runtime.execute("retry", s.project, { select: ["stg_orders"] }),
    isUsage(/dbt retry takes no selection/),
  );
  await assert.rejects(
    () => s.runtime.execute("retry", s.project, { exclude: ["customers"] }),
    isUsage(/dbt retry takes no selection/),
  );
  for (
    const [selection, ref, options, flag] of [
      [{ fullRefresh: true }, s.project, {}, "--full-refresh"],
      [{ vars: { a: 1 } }, s.project, {}, "--vars"],
      [{ failFast: true }, s.project, {}, "--fail-fast"],
      [{}, { ...s.project, target: "prod" }, {}, "--target"],
      [{}, s.project, { threads: 4 }, "--threads"],
    ] as const
  ) {
    await assert.rejects(
      () => s.runtime.execute("retry", ref, selection, options),
      isUsage(new RegExp(`retry takes no ${flag}`)),
      flag,
    );
  }
  assert.equal(s.server.requests.length, before, "nothing reached dbt Cloud");
  // --vars stays refused on cloud for the other commands.
  await assert.rejects(
    () => s.runtime.execute("run", s.project, { vars: { a: 1 } }),
    isUsage(/cloud runtime cannot pass --vars/),
  );
  assert.equal(s.server.requests.length, before);
});

Deno.test("a job with no run is a clear E010 and nothing is sent but the list call", async () => {
  await using s = await cloudSetup();
  await assert.rejects(
    () => s.runtime.execute("retry", s.project),
    (e: unknown) =>
      isUsage(/no previous run to retry: dbt Cloud job 101 has no run/)(e) &&
      /run the command first/.test((e as FloeDbtError).hint ?? ""),
  );
  assert.deepEqual(
    s.server.requests.map((q) => `${q.method} ${q.path}`),
    [`GET /api/v2/accounts/${ACCOUNT}/runs/`],
  );
});

Deno.test("a last run still going or cancelled is E010 and nothing is retried", async () => {
  await using s = await cloudSetup();
  const run = {
    id: 90_000_000_001,
    job: RUN_JOB,
    status: 3 as const,
    cause: "scheduled",
    steps: null,
    created: new Date(),
    artifacts: {},
    message: null,
  };
  s.server.runs.set(run.id, run);
  await assert.rejects(
    () => s.runtime.execute("retry", s.project),
    isUsage(/last dbt Cloud run 90000000001 \(job 101\) is still running/),
  );
  run.status = 30 as never;
  await assert.rejects(
    () => s.runtime.execute("retry", s.project),
    isUsage(/run 90000000001 \(job 101\) was cancelled/),
  );
  assert.equal(s.server.calls(posts, "POST").length, 0);
});

Deno.test("the last run is the newest of the configured jobs: a failed build is the one retried", async () => {
  await using s = await cloudSetup({ job_ids: { run: RUN_JOB, build: 103 } });
  s.server.jobs.set(103, ["dbt build"]);
  await s.runtime.runModels(s.project);
  s.server.executor = staticExecutor(failing(s.artifacts), false);
  const failed = await s.runtime.execute("build", s.project);
  s.server.executor = staticExecutor(s.artifacts);
  const r = await s.runtime.execute("retry", s.project);
  assert.deepEqual(
    s.server.calls(retries, "POST").map((q) => q.path),
    [`/api/v2/accounts/${ACCOUNT}/runs/${failed.metadata.run_id}/retry/`],
  );
  assert.equal(r.metadata.job_id, "103");
  assert.equal(r.metadata.retry_of_run_id, failed.metadata.run_id);
  assert.equal(r.success, true);
});

Deno.test("a retried run that fails again is a failed result, not an error", async () => {
  await using s = await cloudSetup();
  s.server.executor = staticExecutor(failing(s.artifacts), false);
  const failed = await s.runtime.runModels(s.project);
  const r = await s.runtime.execute("retry", s.project);
  assert.equal(r.success, false);
  assert.equal(r.failures, 1);
  assert.equal(r.metadata.retry_of_run_id, failed.metadata.run_id);
  assert.equal(s.server.calls(retries, "POST").length, 1);
});

Deno.test("floe-dbt retry on the cloud runtime: the failed run retried (exit 0), a selection refused (exit 2)", async () => {
  await using s = await cloudSetup();
  const dir = s.project.projectDir;
  await Deno.writeTextFile(
    join(dir, "manifest.yaml"),
    `plugins:\n  dbt_runtime: cloud\n  dbt_runtime_config:\n    cloud:\n      account_id: ${ACCOUNT}\n      api_token_ref: ${s.ref}\n      base_url: ${s.server.url}\n      job_ids: { run: ${RUN_JOB} }\n      poll_interval_seconds: 0.01\n      max_poll_interval_seconds: 0.02\n`,
  );
  s.server.executor = staticExecutor(failing(s.artifacts), false);
  const failed = await s.runtime.runModels(s.project);
  s.server.executor = staticExecutor(s.artifacts);
  const env = { [`FLOE_SECRET_${s.ref.toUpperCase()}`]: s.token };
  const refused = await runAgent(
    ["retry", "--project-dir", dir, "--json", "-s", "stg_orders"],
    { cwd: dir, env },
  );
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stdout + refused.stderr, /FLOE-DBT-E010/);
  assert.equal(s.server.calls(retries, "POST").length, 0);
  const r = await runAgent(["retry", "--project-dir", dir, "--json"], {
    cwd: dir,
    env,
  });
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.success, true);
  assert.equal(result.metadata.retry_of_run_id, failed.metadata.run_id);
  assert.equal(s.server.calls(retries, "POST").length, 1);
  assert.equal(s.server.calls(triggers, "POST").length, 1, "the first run's");
});
