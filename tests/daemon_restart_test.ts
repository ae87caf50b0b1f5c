import assert from "node:assert/strict";
import type { Job } from "../src/jobs/schemas.ts";
import { copyExample, writeFile } from "./_helpers.ts";
import { type DaemonProcess, startDaemonProcess, waitJob } from "./_daemon.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

async function submit(
  d: DaemonProcess,
  body: Record<string, unknown>,
): Promise<Job> {
  const res = await d.fetch("/v1/jobs", {
    method: "POST",
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 202);
  return await res.json() as Job;
}

/** Pids of dbt-core workers whose working directory is `dir`. */
async function workersIn(dir: string): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      if (
        cmd.includes("floe_dbt_worker.py") &&
        Deno.readLinkSync(`/proc/${e.name}/cwd`) === dir
      ) out.push(Number(e.name));
    } catch {
      // gone
    }
  }
  return out;
}

Deno.test(
  "daemon: kill -9 mid-run then restart: the running local job is interrupted, the queued one completes, nothing is lost",
  opts,
  async () => {
    await using copy = await copyExample();
    const state = await Deno.makeTempDir();
    await writeFile(
      copy.dir,
      "models/slow.sql",
      "select sum(a.range * b.range) as n from range(100000) a cross join range(100000) b\n",
    );
    const d1 = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--state-dir",
      state,
    ]);
    const running = await submit(d1, {
      command: "run",
      project_dir: copy.dir,
      select: "slow",
    });
    const queued = await submit(d1, {
      command: "build",
      project_dir: copy.dir,
      exclude: "slow",
    });
    await waitJob(d1, running.id, ["running"]);
    const real = Deno.realPathSync(copy.dir);
    // Wait until the dbt worker is at work on the project, then a bit more.
    for (let i = 0; i < 300 && (await workersIn(real)).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(
      (await workersIn(real)).length,
      1,
      "one dbt worker runs the job",
    );
    await new Promise((r) => setTimeout(r, 1000));
    d1.child.kill("SIGKILL");
    await d1.exit();
    // The orphaned worker notices its agent is gone and stops its whole group,
    // so it cannot keep writing while a new agent takes the project.
    for (let i = 0; i < 600 && (await workersIn(real)).length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(await workersIn(real), []);

    const d2 = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--state-dir",
      state,
    ]);
    try {
      const r = await (await d2.fetch(`/v1/jobs/${running.id}`))
        .json() as Job;
      assert.equal(r.status, "interrupted");
      assert.match(
        r.error!.message,
        /stopped while this local job was running; it was not re-run/,
      );
      const q = await waitJob(d2, queued.id, ["succeeded", "failed"]);
      assert.equal(q.status, "succeeded", JSON.stringify(q.error));
      const all = await (await d2.fetch(`/v1/jobs`)).json() as {
        jobs: Job[];
      };
      assert.deepEqual(
        all.jobs.map((j) => j.id).sort(),
        [queued.id, running.id].sort(),
      );
    } finally {
      d2.child.kill("SIGTERM");
      assert.equal(await d2.exit(), 0);
      await Deno.remove(state, { recursive: true });
    }
  },
);

Deno.test(
  "daemon: SIGTERM drains: a running job finishes within the grace, the daemon exits 0",
  opts,
  async () => {
    await using copy = await copyExample();
    const state = await Deno.makeTempDir();
    const d = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--state-dir",
      state,
      "--grace-seconds",
      "120",
    ]);
    const job = await submit(d, {
      command: "build",
      project_dir: copy.dir,
    });
    await waitJob(d, job.id, ["running"]);
    d.child.kill("SIGTERM");
    assert.equal(await d.exit(), 0);
    assert.match(d.logs(), /shutting down: no new jobs, draining running ones/);
    const lines = (await Deno.readTextFile(`${state}/jobs.jsonl`)).trim().split(
      "\n",
    ).map((l) => JSON.parse(l) as Job);
    const last = lines.filter((j) => j.id === job.id).at(-1)!;
    assert.equal(last.status, "succeeded");
    await Deno.remove(state, { recursive: true });
  },
);
