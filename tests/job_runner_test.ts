import assert from "node:assert/strict";
import { createApp } from "../src/daemon/app.ts";
import { FloeDbtError, httpStatusFor } from "../src/contract/errors.ts";
import { Journal } from "../src/jobs/journal.ts";
import { JobRunner } from "../src/jobs/runner.ts";
import type { Job } from "../src/jobs/schemas.ts";
import { FakeRuntime } from "./_fake_runtime.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

async function setup(fakes: Record<string, FakeRuntime>, stateDir?: string) {
  const dir = stateDir ?? await Deno.makeTempDir({ prefix: "floe-runner-" });
  await Deno.mkdir(`${dir}/proj`, { recursive: true });
  // A job uses its project's own profiles.yml (never ~/.dbt).
  await Deno.writeTextFile(`${dir}/proj/profiles.yml`, "");
  const runner = await JobRunner.open({
    stateDir: `${dir}/state`,
    defaultRuntime: "local",
    factory: (name) => fakes[name]!,
    maxParallel: () => 4,
    retentionMs: 3600_000,
  });
  return { dir, runner };
}

async function until(f: () => boolean) {
  for (let i = 0; i < 3000 && !f(); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(f(), "condition reached");
}

Deno.test(
  "job runner: serial runtime runs one job at a time, parallel runtime several",
  opts,
  async () => {
    const local = new FakeRuntime("local", false);
    const fusion = new FakeRuntime("fusion", true);
    local.hold = fusion.hold = true;
    const { dir, runner } = await setup({ local, fusion });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        (await runner.submit({
          command: "run",
          project_dir: `${dir}/proj`,
          runtime: "local",
        })).job.id,
      );
      ids.push(
        (await runner.submit({
          command: "run",
          project_dir: `${dir}/proj`,
          runtime: "fusion",
        })).job.id,
      );
    }
    await until(() => fusion.running === 3);
    assert.equal(local.running, 1, "local jobs wait for each other");
    local.release();
    fusion.release();
    await until(() => runner.list().every((j) => j.status === "succeeded"));
    assert.equal(local.maxRunning, 1);
    assert.equal(fusion.maxRunning, 3);
    await runner.shutdown(1000);
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "job runner: idempotency key returns the same job; cancel of a queued job",
  opts,
  async () => {
    const local = new FakeRuntime("local", false);
    local.hold = true;
    const { dir, runner } = await setup({ local });
    const a = await runner.submit({
      command: "run",
      project_dir: `${dir}/proj`,
    }, "key-1");
    const b = await runner.submit({
      command: "run",
      project_dir: `${dir}/proj`,
    }, "key-1");
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.equal(a.job.id, b.job.id);
    const queued = await runner.submit({
      command: "run",
      project_dir: `${dir}/proj`,
    });
    const cancelled = await runner.cancel(queued.job.id);
    assert.equal(cancelled.status, "cancelled");
    const running = runner.get(a.job.id)!;
    // The cancel answers at once; the job ends once the runtime stopped.
    await runner.cancel(running.id);
    for (
      let i = 0;
      i < 500 && runner.get(a.job.id)!.status === "running";
      i++
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(runner.get(a.job.id)!.status, "cancelled");
    await runner.shutdown(1000);
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "job runner: after a crash, queued jobs run again and a running local job is interrupted",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-runner-" });
    await Deno.mkdir(`${dir}/state`, { recursive: true });
    const base = {
      runtime: "local" as const,
      idempotency_key: null,
      started_at: null,
      finished_at: null,
      result: null,
      error: null,
      remote_run_id: null,
      agent_pid: null,
    };
    const journal = new Journal(`${dir}/state`);
    const running: Job = {
      ...base,
      id: "r1",
      status: "running",
      request: { command: "run", project_dir: `${dir}/proj` },
      created_at: "2026-11-23T10:00:00.000Z",
      started_at: "2026-11-23T10:00:01.000Z",
      agent_pid: 4242,
    };
    const queued: Job = {
      ...base,
      id: "q1",
      status: "queued",
      request: { command: "run", project_dir: `${dir}/proj` },
      created_at: "2026-11-23T10:00:02.000Z",
    };
    await journal.append(running);
    await journal.append(queued);
    await journal.close();
    // A torn last line, as a crash mid-write leaves it.
    await Deno.writeTextFile(`${dir}/state/jobs.jsonl`, '{"id": "torn', {
      append: true,
    });
    const local = new FakeRuntime("local", false);
    const { runner } = await setup({ local }, dir);
    await until(() => runner.get("q1")!.status === "succeeded");
    const r1 = runner.get("r1")!;
    assert.equal(r1.status, "interrupted");
    assert.match(
      r1.error!.message,
      /agent \(pid 4242\) stopped while this local job was running; it was not re-run/,
    );
    assert.equal(local.calls.length, 1, "only the queued job ran");
    await runner.shutdown(1000);
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "daemon app: 200 submissions from 20 concurrent clients over a real socket, zero 5xx, every job accounted for",
  opts,
  async () => {
    const local = new FakeRuntime("local", false);
    const { dir, runner } = await setup({ local });
    const app = createApp({
      runner,
      projectRoots: [dir],
      token: "job-runner-test-token-0123456789",
      defaultRuntime: "local",
      runtimeNames: ["local"],
      maxBodyBytes: 65536,
      streams: new Set(),
      boundary: {
        loopback: true,
        port: () => server.addr.port,
        allowHosts: [],
        allowOrigins: [],
        log: () => {},
      },
    });
    const headers = {
      authorization: "Bearer job-runner-test-token-0123456789",
      "content-type": "application/json",
    };
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      app.fetch,
    );
    const url = `http://127.0.0.1:${server.addr.port}`;
    const statuses: number[] = [];
    const ids = new Set<string>();
    await Promise.all(Array.from({ length: 20 }, async (_, c) => {
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${url}/v1/jobs`, {
          method: "POST",
          headers,
          body: JSON.stringify({
            command: "run",
            project_dir: `${dir}/proj`,
            select: `m_${c}_${i}`,
          }),
        });
        statuses.push(res.status);
        ids.add(((await res.json()) as Job).id);
      }
    }));
    assert.equal(statuses.filter((s) => s >= 500).length, 0);
    assert.deepEqual([...new Set(statuses)], [202]);
    assert.equal(ids.size, 200);
    await until(() => runner.list().every((j) => j.status === "succeeded"));
    const listed = await (await fetch(`${url}/v1/jobs?limit=1000`, { headers }))
      .json() as {
        jobs: Job[];
      };
    assert.equal(listed.jobs.length, 200);
    assert.equal(local.calls.length, 200);
    assert.equal(local.maxRunning, 1);
    await runner.shutdown(1000);
    await server.shutdown();
    // Everything accepted is in the journal too.
    const { jobs } = await new Journal(`${dir}/state`).load();
    assert.equal(jobs.filter((j) => j.status === "succeeded").length, 200);
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "job runner: a submission during shutdown is E013 (HTTP 503), not an internal error",
  opts,
  async () => {
    const local = new FakeRuntime("local", false);
    const { dir, runner } = await setup({ local });
    await runner.shutdown(100);
    await assert.rejects(
      () => runner.submit({ command: "run", project_dir: `${dir}/proj` }),
      (e: unknown) => {
        assert.ok(e instanceof FloeDbtError);
        assert.equal(e.code, "FLOE-DBT-E013");
        assert.equal(httpStatusFor(e.code), 503);
        return true;
      },
    );
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "job runner: concurrent submits with one Idempotency-Key make one job",
  opts,
  async () => {
    const local = new FakeRuntime("local", false);
    local.hold = true;
    const { dir, runner } = await setup({ local });
    const request = { command: "run" as const, project_dir: `${dir}/proj` };
    const answers = await Promise.all(
      [1, 2, 3, 4].map(() => runner.submit(request, "same-key")),
    );
    assert.equal(new Set(answers.map((a) => a.job.id)).size, 1);
    assert.deepEqual(
      answers.map((a) => a.created).sort(),
      [false, false, false, true],
    );
    assert.equal(runner.list().length, 1);
    local.release();
    await runner.shutdown(1000);
    await Deno.remove(dir, { recursive: true });
  },
);
