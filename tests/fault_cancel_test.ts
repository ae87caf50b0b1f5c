/**
 * Fault suite, cancel: `POST /v1/jobs/{id}/cancel` answers 202 at once
 * whatever the job is doing, and a cancel during the dbt-core worker's cold
 * start or during the wait for the project lock takes effect: the job ends
 * `cancelled`, dbt never runs it, and the next job runs normally. Real daemon
 * processes and real dbt-core.
 */
import assert from "node:assert/strict";
import type { Job } from "../src/jobs/schemas.ts";
import {
  type DaemonProcess,
  startDaemonProcess,
  until,
  waitJob,
} from "./_daemon.ts";
import { assertNothingLost, submitJob } from "./_fault.ts";
import { copyExample } from "./_helpers.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** Pids of the children of `pid` running the dbt-core worker. */
async function workersOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      const status = await Deno.readTextFile(`/proc/${e.name}/status`);
      const ppid = Number(/PPid:\s+(\d+)/.exec(status)?.[1]);
      if (cmd.includes("floe_dbt_worker.py") && ppid === pid) {
        out.push(Number(e.name));
      }
    } catch {
      // gone
    }
  }
  return out;
}

async function cancel(d: DaemonProcess, id: string): Promise<Job> {
  const res = await d.fetch(`/v1/jobs/${id}/cancel`, { method: "POST" });
  const body = await res.json();
  assert.equal(res.status, 202, JSON.stringify(body));
  return body as Job;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test(
  "fault: a cancel during the dbt-core worker's cold start answers 202 at once and the job ends cancelled without running dbt",
  opts,
  async () => {
    await using copy = await copyExample("floe-fault-cancel-start-");
    const state = await Deno.makeTempDir({ prefix: "floe-fault-cancel-" });
    const d = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--state-dir",
      state,
    ]);
    try {
      const job = await submitJob(d, {
        command: "build",
        project_dir: copy.dir,
      });
      await waitJob(d, job.id, ["running"]);
      // The fresh daemon is starting its dbt-core worker (importing dbt).
      await until(
        async () => (await workersOf(d.child.pid)).length ? true : undefined,
        "the worker process",
      );
      const answered = await cancel(d, job.id);
      assert.equal(answered.id, job.id);
      // Answered before the job ended: not after the start or the build.
      assert.equal(answered.status, "running");
      const ended = await waitJob(d, job.id, [
        "cancelled",
        "failed",
        "succeeded",
      ]);
      assert.equal(ended.status, "cancelled", JSON.stringify(ended.error));
      assert.equal(ended.error?.code, "FLOE-DBT-E008");
      assert.equal(
        await exists(join(copy.dir, "target", "run_results.json")),
        false,
        "dbt never ran the cancelled build",
      );
      // The worker that kept starting serves the next job.
      const next = await submitJob(d, {
        command: "build",
        project_dir: copy.dir,
      });
      const done = await waitJob(d, next.id, ["succeeded", "failed"]);
      assert.equal(done.status, "succeeded", JSON.stringify(done.error));
      await assertNothingLost(d, state, {
        [job.id]: "cancelled",
        [next.id]: "succeeded",
      });
    } finally {
      d.child.kill("SIGTERM");
      assert.equal(await d.exit(), 0);
      await Deno.remove(state, { recursive: true });
    }
  },
);

Deno.test(
  "fault: a cancel while the job waits for the project lock answers 202 at once and the job ends cancelled",
  opts,
  async () => {
    await using copy = await copyExample("floe-fault-cancel-lock-");
    const state = await Deno.makeTempDir({ prefix: "floe-fault-cancel-" });
    // Another process (this test) holds the project's dbt-core lock.
    await Deno.mkdir(join(copy.dir, ".floe"));
    const lock = await Deno.open(join(copy.dir, ".floe", "dbt.lock"), {
      read: true,
      write: true,
      create: true,
    });
    await lock.lock(true);
    await lock.write(
      new TextEncoder().encode(
        JSON.stringify({
          pid: Deno.pid,
          started_at: new Date().toISOString(),
          command: "test holds the lock",
        }),
      ),
    );
    const d = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--state-dir",
      state,
    ]);
    try {
      const job = await submitJob(d, {
        command: "compile",
        project_dir: copy.dir,
      });
      await waitJob(d, job.id, ["running"]);
      // Let the lock wait begin (it polls the lock with backoff).
      await new Promise((r) => setTimeout(r, 500));
      // Still waiting: no worker is started before the lock is taken.
      assert.equal((await workersOf(d.child.pid)).length, 0);
      const answered = await cancel(d, job.id);
      assert.equal(answered.status, "running");
      const ended = await waitJob(d, job.id, [
        "cancelled",
        "failed",
        "succeeded",
      ]);
      assert.equal(ended.status, "cancelled", JSON.stringify(ended.error));
      assert.equal(
        (await workersOf(d.child.pid)).length,
        0,
        "dbt never started",
      );
      // Once the other holder lets go, the project runs again.
      await lock.unlock();
      lock.close();
      const next = await submitJob(d, {
        command: "compile",
        project_dir: copy.dir,
      });
      const done = await waitJob(d, next.id, ["succeeded", "failed"]);
      assert.equal(done.status, "succeeded", JSON.stringify(done.error));
      await assertNothingLost(d, state, {
        [job.id]: "cancelled",
        [next.id]: "succeeded",
      });
    } finally {
      d.child.kill("SIGTERM");
      assert.equal(await d.exit(), 0);
      try {
        lock.close();
      } catch {
        // closed above
      }
      await Deno.remove(state, { recursive: true });
    }
  },
);
