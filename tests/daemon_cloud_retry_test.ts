import assert from "node:assert/strict";
import type { Job } from "../src/jobs/schemas.ts";
import { startDaemonProcess, until } from "./_daemon.ts";
import { cloudDaemonWorld, RUN_JOB } from "./cloud/daemon_world.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "daemon + cloud: a retry job journals its retry and, after kill -9, reattaches to the retry's run; exactly one retry POST",
  opts,
  async () => {
    await using w = await cloudDaemonWorld("daemon-cloud-retry");
    const failedId = 80_000_000_001;
    w.server.runs.set(failedId, {
      id: failedId,
      job: RUN_JOB,
      status: 20,
      cause: "scheduled",
      steps: null,
      created: new Date(),
      artifacts: {},
      message: "Job run failed: a step errored",
    });
    w.server.holdRunning = true;
    const d1 = await startDaemonProcess(w.args, w.env);
    const fetchJob = async (d: typeof d1, id: string) =>
      await (await d.fetch(`/v1/jobs/${id}`)).json() as Job;
    const submitted = await (await d1.fetch(`/v1/jobs`, {
      method: "POST",
      body: JSON.stringify({ command: "retry", project_dir: `${w.dir}/proj` }),
    })).json() as Job;
    const running = await until(async () => {
      const j = await fetchJob(d1, submitted.id);
      return j.remote_run_id ? j : undefined;
    }, "the retry's run id in the journal");
    assert.equal(running.remote_nonce, `retry-${RUN_JOB}-${failedId}`);
    d1.child.kill("SIGKILL");
    await d1.exit();

    const d2 = await startDaemonProcess(w.args, w.env);
    try {
      w.server.holdRunning = false;
      const done = await until(async () => {
        const j = await fetchJob(d2, submitted.id);
        return j.status === "succeeded" || j.status === "failed"
          ? j
          : undefined;
      }, "the reattached retry job to finish");
      assert.equal(done.status, "succeeded", JSON.stringify(done.error));
      assert.equal(done.remote_run_id, running.remote_run_id);
      const retried = w.server.runs.get(Number(done.remote_run_id));
      assert.equal(retried?.retryOf, failedId);
      assert.equal(
        w.server.calls(/\/runs\/\d+\/retry\/$/, "POST").length,
        1,
        "exactly one retry",
      );
      assert.equal(w.server.calls(/\/jobs\/\d+\/run\/$/, "POST").length, 0);
      const meta = (done.result as { metadata: Record<string, unknown> })
        .metadata;
      assert.equal(meta.retry, "retried");
      assert.equal(meta.run_id, done.remote_run_id);
    } finally {
      d2.child.kill("SIGTERM");
      assert.equal(await d2.exit(), 0);
    }
  },
);
