import assert from "node:assert/strict";
import type { Job } from "../src/jobs/schemas.ts";
import { type DaemonProcess, startDaemonProcess, until } from "./_daemon.ts";
import { copyExample } from "./_helpers.ts";
import { cloudDaemonWorld } from "./cloud/daemon_world.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
function cloudWorld() {
  // These tests mix local jobs in: the platform config allows it.
  return cloudDaemonWorld("daemon-cloud", {
    plugins: ["allow_runtime_override: true"],
  });
}

async function job(d: DaemonProcess, id: string): Promise<Job> {
  return await (await d.fetch(`/v1/jobs/${id}`)).json() as Job;
}

Deno.test(
  "daemon + cloud: after kill -9 a running cloud job reattaches to the same remote run; exactly one trigger",
  opts,
  async () => {
    const w = await cloudWorld();
    w.server.holdRunning = true;
    const d1 = await startDaemonProcess(w.args, w.env);
    const submitted = await (await d1.fetch(`/v1/jobs`, {
      method: "POST",
      body: JSON.stringify({ command: "run", project_dir: `${w.dir}/proj` }),
    })).json() as Job;
    assert.equal(submitted.runtime, "cloud");
    const running = await until(async () => {
      const j = await job(d1, submitted.id);
      return j.remote_run_id ? j : undefined;
    }, "the remote run id in the journal");
    d1.child.kill("SIGKILL");
    await d1.exit();

    const d2 = await startDaemonProcess(w.args, w.env);
    try {
      w.server.holdRunning = false;
      const done = await until(async () => {
        const j = await job(d2, submitted.id);
        return j.status === "succeeded" || j.status === "failed"
          ? j
          : undefined;
      }, "the reattached job to finish");
      assert.equal(done.status, "succeeded", JSON.stringify(done.error));
      assert.equal(done.remote_run_id, running.remote_run_id);
      assert.equal(
        w.server.calls(/\/jobs\/\d+\/run\/$/, "POST").length,
        1,
        "exactly one trigger",
      );
      assert.equal(w.server.runs.size, 1);
      assert.equal((done.result as { models_run: number }).models_run, 5);
      assert.doesNotMatch(d1.logs() + d2.logs(), new RegExp(w.token));
    } finally {
      d2.child.kill("SIGTERM");
      assert.equal(await d2.exit(), 0);
      await w.server[Symbol.asyncDispose]();
      await Deno.remove(w.dir, { recursive: true });
    }
  },
);

Deno.test(
  "daemon: cloud jobs run concurrently while local jobs never overlap",
  opts,
  async () => {
    const w = await cloudWorld();
    await using copy = await copyExample();
    w.server.holdRunning = true;
    const d = await startDaemonProcess(
      [...w.args, "--project-root", copy.dir],
      w.env,
    );
    try {
      const post = async (body: Record<string, unknown>) =>
        (await (await d.fetch(`/v1/jobs`, {
          method: "POST",
          body: JSON.stringify(body),
        })).json() as Job).id;
      const cloud = await Promise.all(
        [1, 2, 3].map(() =>
          post({ command: "run", project_dir: `${w.dir}/proj` })
        ),
      );
      const local = await Promise.all(
        [1, 2, 3].map(() =>
          post({ command: "build", project_dir: copy.dir, runtime: "local" })
        ),
      );
      // All three cloud runs are in flight at once.
      await until(async () => {
        const js = await Promise.all(cloud.map((id) => job(d, id)));
        return js.every((j) => j.status === "running" && j.remote_run_id)
          ? true
          : undefined;
      }, "three concurrent cloud jobs");
      // ...and all three are running remotely at the same time.
      await until(
        () =>
          Promise.resolve(
            [...w.server.runs.values()].filter((r) => r.status === 3).length ===
                3
              ? true
              : undefined,
          ),
        "three remote runs at status 3",
      );
      assert.equal(w.server.runs.size, 3);
      const locals = await until(async () => {
        const js = await Promise.all(local.map((id) => job(d, id)));
        return js.every((j) => j.status === "succeeded") ? js : undefined;
      }, "the local jobs");
      const spans = locals.map((j) =>
        [Date.parse(j.started_at!), Date.parse(j.finished_at!)] as const
      )
        .sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < spans.length; i++) {
        assert.ok(spans[i]![0] >= spans[i - 1]![1], "local jobs never overlap");
      }
      w.server.holdRunning = false;
      const finished = await until(async () => {
        const js = await Promise.all(cloud.map((id) => job(d, id)));
        return js.every((j) => j.status === "succeeded") ? js : undefined;
      }, "the cloud jobs");
      assert.equal(finished.length, 3);
    } finally {
      d.child.kill("SIGTERM");
      assert.equal(await d.exit(), 0);
      await w.server[Symbol.asyncDispose]();
      await Deno.remove(w.dir, { recursive: true });
    }
  },
);

Deno.test(
  "daemon + cloud: a job's target reaches dbt Cloud as target_name_override; a job's profiles_dir fails it with E010 and triggers nothing",
  opts,
  async () => {
    const w = await cloudWorld();
    const d = await startDaemonProcess(w.args, w.env);
    try {
      const post = async (body: Record<string, unknown>) =>
        (await (await d.fetch(`/v1/jobs`, {
          method: "POST",
          body: JSON.stringify(body),
        })).json() as Job).id;
      const ok = await post({
        command: "run",
        project_dir: `${w.dir}/proj`,
        target: "prod",
      });
      const done = await until(async () => {
        const j = await job(d, ok);
        return j.status === "succeeded" || j.status === "failed"
          ? j
          : undefined;
      }, "the target job");
      assert.equal(done.status, "succeeded");
      const triggers = w.server.calls(/\/jobs\/\d+\/run\/$/, "POST");
      assert.equal(triggers.length, 1);
      assert.equal(
        (triggers[0]!.body as Record<string, unknown>).target_name_override,
        "prod",
      );
      const bad = await post({
        command: "run",
        project_dir: `${w.dir}/proj`,
        profiles_dir: `${w.dir}/proj`,
      });
      const failed = await until(async () => {
        const j = await job(d, bad);
        return j.status === "failed" ? j : undefined;
      }, "the profiles_dir job");
      assert.match(JSON.stringify(failed), /FLOE-DBT-E010/);
      assert.match(
        JSON.stringify(failed),
        /cannot be used with the cloud runtime/,
      );
      assert.equal(w.server.calls(/\/jobs\/\d+\/run\/$/, "POST").length, 1);
    } finally {
      d.child.kill("SIGTERM");
      assert.equal(await d.exit(), 0);
      await w.server[Symbol.asyncDispose]();
      await Deno.remove(w.dir, { recursive: true });
    }
  },
);
