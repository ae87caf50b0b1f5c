import assert from "node:assert/strict";
import { ERROR_CODES, FloeDbtError } from "../src/contract/errors.ts";
import { staticExecutor } from "./cloud/executors.ts";
import { ACCOUNT, cloudSetup, RUN_JOB } from "./cloud/setup.ts";

const retries = /\/runs\/\d+\/retry\/$/;
const cancels = /\/runs\/\d+\/cancel\/$/;

/** A setup whose last run failed (its id), the executor healed again. */
async function afterFailure(config: Record<string, unknown> = {}) {
  const s = await cloudSetup(config);
  s.server.executor = staticExecutor({}, false);
  // No run_results.json: the failed run is an E002, still a run of the job.
  await assert.rejects(() => s.runtime.runModels(s.project));
  const failedId = [...s.server.runs.keys()].at(-1)!;
  assert.equal(s.server.runs.get(failedId)!.status, 20);
  s.server.executor = staticExecutor(s.artifacts);
  return { s, failedId: String(failedId) };
}

Deno.test("an ambiguous retry failure adopts the retry's run instead of asking twice", async () => {
  const { s, failedId } = await afterFailure();
  await using _ = s;
  s.server.faults.push({ route: "retry", kind: "lose_response", status: 502 });
  const r = await s.runtime.execute("retry", s.project);
  assert.equal(s.server.calls(retries, "POST").length, 1, "one retry sent");
  assert.equal(s.server.runs.size, 2, "one new run");
  assert.equal(r.success, true);
  assert.equal(r.metadata.retry_of_run_id, failedId);
  assert.equal(r.metadata.adopted_after_ambiguous_trigger, true);
  const list = s.server.calls(/\/runs\/$/, "GET").at(-1)!;
  assert.equal(list.query.id__gt, failedId, "found as the run after it");
});

Deno.test("after a restart, a journaled retry run is followed and a journaled retry nonce adopts its run: no second POST", async () => {
  const { s, failedId } = await afterFailure();
  await using _ = s;
  // The agent sent the retry, then died before journaling the run id.
  const answer = await fetch(
    `${s.server.url}/api/v2/accounts/${ACCOUNT}/runs/${failedId}/retry/`,
    { method: "POST", headers: { authorization: `Bearer ${s.token}` } },
  );
  const made = (await answer.json()).data.id as number;
  const before = s.server.calls(retries, "POST").length;
  const adopted = await s.runtime.execute("retry", s.project, {}, {
    resumeTrigger: {
      nonce: `retry-${RUN_JOB}-${failedId}`,
      sinceMs: Date.now(),
    },
  });
  assert.equal(s.server.calls(retries, "POST").length, before, "no POST");
  assert.equal(adopted.metadata.run_id, String(made));
  assert.equal(adopted.metadata.retry_of_run_id, failedId);
  assert.equal(adopted.metadata.adopted_after_ambiguous_trigger, true);
  // The run id was journaled: it is followed as it is.
  const followed = await s.runtime.execute("retry", s.project, {}, {
    resumeRunId: String(made),
  });
  assert.equal(s.server.calls(retries, "POST").length, before, "no POST");
  assert.equal(s.server.calls(/\/runs\/$/, "GET").length, 1, "no search");
  assert.equal(followed.metadata.run_id, String(made));
  assert.equal(followed.success, true);
});

Deno.test("a journaled retry nonce with no run after the failed one sends the retry", async () => {
  const { s, failedId } = await afterFailure();
  await using _ = s;
  const r = await s.runtime.execute("retry", s.project, {}, {
    resumeTrigger: {
      nonce: `retry-${RUN_JOB}-${failedId}`,
      sinceMs: Date.now(),
    },
  });
  assert.deepEqual(
    s.server.calls(retries, "POST").map((q) => q.path),
    [`/api/v2/accounts/${ACCOUNT}/runs/${failedId}/retry/`],
  );
  assert.equal(r.metadata.adopted_after_ambiguous_trigger, false);
  assert.equal(r.success, true);
});

Deno.test("cancelling a retry cancels its run in dbt Cloud", async () => {
  const { s } = await afterFailure();
  await using _ = s;
  const ac = new AbortController();
  await assert.rejects(
    () =>
      s.runtime.execute("retry", s.project, {}, {
        signal: ac.signal,
        onEvent: (e) => {
          if (e.type === "log" && /: Starting/.test(e.message)) ac.abort();
        },
      }),
    (e: unknown) =>
      e instanceof FloeDbtError && e.code === ERROR_CODES.cancelled,
  );
  const run = [...s.server.runs.values()].at(-1)!;
  assert.ok(run.retryOf, "the retry's run");
  assert.equal(run.status, 30);
  assert.equal(s.server.calls(cancels, "POST").length, 1);
});

Deno.test("dbt Cloud refusing the retry (400) is E009 with its message and a hint", async () => {
  const { s, failedId } = await afterFailure();
  await using _ = s;
  // A newer run of the job appears between the list call and the POST.
  s.server.faults.push({
    route: "retry",
    kind: "status",
    status: 400,
    userMessage: "Only the latest run of a job can be retried.",
  });
  await assert.rejects(
    () => s.runtime.execute("retry", s.project),
    (e: unknown) =>
      e instanceof FloeDbtError && e.code === ERROR_CODES.remoteApi &&
      /400 Bad Request: POST .*\/runs\/\d+\/retry\/: Only the latest/.test(
        e.message,
      ) && /retries only the newest run of a job/.test(e.hint ?? ""),
  );
  assert.equal(s.server.runs.size, 1, `no run after ${failedId}`);
});

Deno.test("a run someone else started after the failed one is never taken for the retry: not adopted after an ambiguous failure", async () => {
  const { s, failedId } = await afterFailure();
  await using _ = s;
  let scheduled: number | undefined;
  // The POST never reaches dbt Cloud (502 from a proxy) while the
  // scheduler starts a run of the job: the resent retry is then refused.
  s.server.faults.push({
    route: "retry",
    kind: "status",
    status: 502,
    onFire: () => {
      scheduled = s.server.schedule(Number(RUN_JOB)).id;
    },
  });
  await assert.rejects(
    () => s.runtime.execute("retry", s.project),
    (e: unknown) =>
      e instanceof FloeDbtError && e.code === ERROR_CODES.remoteApi &&
      /Only the latest run/.test(e.message),
  );
  assert.ok(scheduled, "the scheduler's run exists");
  assert.equal(s.server.calls(retries, "POST").length, 2, "sent, then resent");
  assert.equal(s.server.calls(cancels, "POST").length, 0, "nothing cancelled");
  assert.notEqual(s.server.runs.get(scheduled!)!.status, 30);
  assert.equal(
    s.server.runs.size,
    2,
    `only the scheduler's run after ${failedId}`,
  );
});

Deno.test("an abort while the retry POST is in flight cancels no run someone else started", async () => {
  const { s } = await afterFailure();
  await using _ = s;
  const ac = new AbortController();
  let scheduled: number | undefined;
  s.server.faults.push({
    route: "retry",
    kind: "hang",
    onFire: () => {
      scheduled = s.server.schedule(Number(RUN_JOB)).id;
      ac.abort();
    },
  });
  await assert.rejects(
    () => s.runtime.execute("retry", s.project, {}, { signal: ac.signal }),
    (e: unknown) =>
      e instanceof FloeDbtError && e.code === ERROR_CODES.cancelled,
  );
  assert.ok(scheduled);
  assert.equal(s.server.calls(cancels, "POST").length, 0, "nothing cancelled");
  assert.notEqual(s.server.runs.get(scheduled!)!.status, 30);
});
