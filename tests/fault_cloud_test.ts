/**
 * Fault suite, dbt Cloud jobs: kill -9 mid-trigger (the run made or not) and
 * SIGTERM during a run. Real daemon processes against the dbt Cloud stand-in
 * (tests/cloud/fake_server.ts); every job is accounted for from the journal
 * and the API, and no run is triggered twice or cancelled by a deploy.
 */
import assert from "node:assert/strict";
import type { Job } from "../src/jobs/schemas.ts";
import { type DaemonProcess, startDaemonProcess, until } from "./_daemon.ts";
import { assertNothingLost, journaledJobs, submitJob } from "./_fault.ts";
import {
  type CloudDaemonWorld,
  cloudDaemonWorld,
} from "./cloud/daemon_world.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
function cloudWorld() {
  return cloudDaemonWorld("fault-cloud");
}

type World = CloudDaemonWorld;

const triggers = (w: World) => w.server.calls(/\/jobs\/\d+\/run\/$/, "POST");
const cancels = (w: World) => w.server.calls(/\/cancel\/$/, "POST");

/** The job once the journal on disk says `test` of it. */
function journaled(
  w: World,
  id: string,
  test: (j: Job) => boolean,
  what: string,
): Promise<Job> {
  return until(async () => {
    const j = (await journaledJobs(w.state)).get(id);
    return j && test(j) ? j : undefined;
  }, what);
}

async function finished(d: DaemonProcess, id: string): Promise<Job> {
  return await until(async () => {
    const j = await (await d.fetch(`/v1/jobs/${id}`)).json() as Job;
    return j.status === "running" || j.status === "queued" ? undefined : j;
  }, `job ${id} to end`);
}

async function killed(d: DaemonProcess): Promise<void> {
  d.child.kill("SIGKILL");
  await d.exit();
}

Deno.test(
  "fault: kill -9 mid-trigger after dbt Cloud made the run: the restart adopts it by the journaled nonce, one run, nothing lost",
  opts,
  async () => {
    await using w = await cloudWorld();
    // dbt Cloud makes the run, then the answer never comes back.
    w.server.faults.push({ route: "trigger", kind: "lose_response" });
    w.server.holdRunning = true;
    const d1 = await startDaemonProcess(w.args, w.env);
    const job = await submitJob(d1, {
      command: "run",
      project_dir: `${w.dir}/proj`,
    });
    const nonced = await journaled(
      w,
      job.id,
      (j) => Boolean(j.remote_nonce),
      "the trigger nonce on disk",
    );
    await until(
      () => Promise.resolve(w.server.runs.size === 1 ? true : undefined),
      "the run in dbt Cloud",
    );
    await killed(d1);
    const left = (await journaledJobs(w.state)).get(job.id)!;
    assert.equal(left.status, "running");
    assert.equal(left.remote_run_id, null, "the trigger never answered");
    const [run] = [...w.server.runs.values()];
    assert.ok(
      run!.cause.endsWith(`[floe:${nonced.remote_nonce}]`),
      `the run carries the journaled nonce: ${run!.cause}`,
    );

    w.server.holdRunning = false;
    const d2 = await startDaemonProcess(w.args, w.env);
    try {
      const done = await finished(d2, job.id);
      assert.equal(done.status, "succeeded", JSON.stringify(done.error));
      assert.equal(done.remote_run_id, String(run!.id), "the same run");
      assert.equal(triggers(w).length, 1, "triggered once");
      assert.equal(w.server.runs.size, 1, "one run in dbt Cloud");
      assert.equal(cancels(w).length, 0);
      await assertNothingLost(d2, w.state, { [job.id]: "succeeded" });
    } finally {
      d2.child.kill("SIGTERM");
      assert.equal(await d2.exit(), 0);
    }
  },
);

Deno.test(
  "fault: kill -9 mid-trigger before dbt Cloud made a run: the restart finds none by the nonce and triggers once",
  opts,
  async () => {
    await using w = await cloudWorld();
    // The POST arrives but dbt Cloud never processes it.
    w.server.faults.push({ route: "trigger", kind: "hang" });
    const d1 = await startDaemonProcess(w.args, w.env);
    const job = await submitJob(d1, {
      command: "run",
      project_dir: `${w.dir}/proj`,
    });
    const nonced = await journaled(
      w,
      job.id,
      (j) => Boolean(j.remote_nonce),
      "the trigger nonce on disk",
    );
    await until(
      () => Promise.resolve(triggers(w).length === 1 ? true : undefined),
      "the trigger at dbt Cloud",
    );
    await killed(d1);
    assert.equal(w.server.runs.size, 0);

    const d2 = await startDaemonProcess(w.args, w.env);
    try {
      const done = await finished(d2, job.id);
      assert.equal(done.status, "succeeded", JSON.stringify(done.error));
      assert.equal(w.server.runs.size, 1, "exactly one run in dbt Cloud");
      const [run] = [...w.server.runs.values()];
      assert.equal(done.remote_run_id, String(run!.id));
      assert.ok(run!.cause.endsWith(`[floe:${nonced.remote_nonce}]`));
      // The restart looked for the first trigger's run before sending again.
      const search = w.server.calls(/\/runs\/$/, "GET");
      assert.ok(search.length >= 1, "searched runs by the nonce");
      await assertNothingLost(d2, w.state, { [job.id]: "succeeded" });
    } finally {
      d2.child.kill("SIGTERM");
      assert.equal(await d2.exit(), 0);
    }
  },
);

Deno.test(
  "fault: SIGTERM during a cloud run cancels nothing remotely; the restart reattaches to the same run and it succeeds",
  opts,
  async () => {
    await using w = await cloudWorld();
    w.server.holdRunning = true;
    const d1 = await startDaemonProcess(
      [...w.args, "--grace-seconds", "2"],
      w.env,
    );
    const job = await submitJob(d1, {
      command: "run",
      project_dir: `${w.dir}/proj`,
    });
    const second = await submitJob(d1, {
      command: "run",
      project_dir: `${w.dir}/proj`,
    });
    await journaled(
      w,
      job.id,
      (j) => Boolean(j.remote_run_id),
      "the remote run id on disk",
    );
    await journaled(
      w,
      second.id,
      (j) => Boolean(j.remote_run_id),
      "the second run id on disk",
    );
    d1.child.kill("SIGTERM");
    assert.equal(await d1.exit(), 0, d1.logs());
    assert.equal(cancels(w).length, 0, "no cancel reached dbt Cloud");
    assert.match(d1.logs(), /cloud job left to its remote run until restart/);
    const left = await journaledJobs(w.state);
    for (const id of [job.id, second.id]) {
      assert.equal(left.get(id)!.status, "running", "journaled as running");
      assert.ok(left.get(id)!.remote_run_id);
    }
    assert.ok(
      [...w.server.runs.values()].every((r) => r.status < 10),
      "the remote runs go on",
    );

    w.server.holdRunning = false;
    const d2 = await startDaemonProcess(w.args, w.env);
    try {
      for (const id of [job.id, second.id]) {
        const done = await finished(d2, id);
        assert.equal(done.status, "succeeded", JSON.stringify(done.error));
        assert.equal(done.remote_run_id, left.get(id)!.remote_run_id);
      }
      assert.equal(triggers(w).length, 2, "one trigger per job");
      assert.equal(w.server.runs.size, 2);
      assert.equal(cancels(w).length, 0);
      await assertNothingLost(d2, w.state, {
        [job.id]: "succeeded",
        [second.id]: "succeeded",
      });
    } finally {
      d2.child.kill("SIGTERM");
      assert.equal(await d2.exit(), 0);
    }
  },
);

Deno.test(
  "fault: SIGTERM mid-trigger leaves the maybe-made run alone; the restart adopts it by the nonce, one run, nothing cancelled",
  opts,
  async () => {
    await using w = await cloudWorld();
    w.server.faults.push({ route: "trigger", kind: "lose_response" });
    w.server.holdRunning = true;
    const d1 = await startDaemonProcess(w.args, w.env);
    const job = await submitJob(d1, {
      command: "run",
      project_dir: `${w.dir}/proj`,
    });
    await journaled(
      w,
      job.id,
      (j) => Boolean(j.remote_nonce),
      "the trigger nonce on disk",
    );
    await until(
      () => Promise.resolve(w.server.runs.size === 1 ? true : undefined),
      "the run in dbt Cloud",
    );
    d1.child.kill("SIGTERM");
    assert.equal(await d1.exit(), 0, d1.logs());
    assert.equal(cancels(w).length, 0, "the stray-run cancel is not sent");
    const left = (await journaledJobs(w.state)).get(job.id)!;
    assert.equal(left.status, "running");
    assert.equal(left.remote_run_id, null);

    w.server.holdRunning = false;
    const d2 = await startDaemonProcess(w.args, w.env);
    try {
      const done = await finished(d2, job.id);
      assert.equal(done.status, "succeeded", JSON.stringify(done.error));
      const [run] = [...w.server.runs.values()];
      assert.equal(done.remote_run_id, String(run!.id));
      assert.equal(w.server.runs.size, 1);
      assert.equal(triggers(w).length, 1);
      assert.equal(cancels(w).length, 0);
      await assertNothingLost(d2, w.state, { [job.id]: "succeeded" });
    } finally {
      d2.child.kill("SIGTERM");
      assert.equal(await d2.exit(), 0);
    }
  },
);
