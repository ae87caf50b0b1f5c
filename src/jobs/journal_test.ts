import assert from "node:assert/strict";
import { join } from "node:path";
import { FloeDbtError } from "../contract/errors.ts";
import { Journal } from "./journal.ts";
import { JobRunner } from "./runner.ts";
import type { Job } from "./schemas.ts";

function job(id: string): Job {
  return {
    id,
    status: "queued",
    runtime: "local",
    request: { command: "run", project_dir: "/p" },
    idempotency_key: null,
    created_at: "2026-11-23T10:00:00.000Z",
    started_at: null,
    finished_at: null,
    result: null,
    error: null,
    remote_run_id: null,
    agent_pid: null,
  };
}

Deno.test("journal: a torn tail is skipped, and the next append starts on its own line", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "jobs.jsonl");
  await Deno.writeTextFile(path, JSON.stringify(job("a")) + '\n{"id": "to');
  const j = new Journal(dir);
  await j.append(job("b"));
  await j.close();
  const { jobs, skipped } = await new Journal(dir).load();
  assert.deepEqual(jobs.map((x) => x.id), ["a", "b"]);
  assert.equal(skipped, 1);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("journal: one that cannot be read is E003, not an empty journal", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "jobs.jsonl")); // reading it fails (EISDIR)
  await assert.rejects(
    () => new Journal(dir).load(),
    (e: unknown) =>
      e instanceof FloeDbtError && e.code === "FLOE-DBT-E003" &&
      /Cannot read the job journal/.test(e.message),
  );
  await assert.rejects(
    () =>
      JobRunner.open({
        stateDir: dir,
        defaultRuntime: "local",
        factory: () => {
          throw new Error("unused");
        },
        maxParallel: () => 1,
        retentionMs: 1000,
      }),
    /Cannot read the job journal/,
  );
  // Nothing was overwritten.
  assert.ok((await Deno.stat(join(dir, "jobs.jsonl"))).isDirectory);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("journal: a full disk fails the submit (E013) and the job never becomes visible", async () => {
  const dir = await Deno.makeTempDir();
  const runner = await JobRunner.open({
    stateDir: dir,
    defaultRuntime: "local",
    factory: () => {
      throw new Error("unused");
    },
    maxParallel: () => 1,
    retentionMs: 1000,
  });
  // Every write to /dev/full fails with ENOSPC, like a full state disk.
  await Deno.remove(join(dir, "jobs.jsonl")).catch(() => {});
  await Deno.symlink("/dev/full", join(dir, "jobs.jsonl"));
  await assert.rejects(
    () => runner.submit({ command: "run", project_dir: "/p" }, "key-1"),
    (e: unknown) =>
      e instanceof FloeDbtError && e.code === "FLOE-DBT-E013" &&
      /Cannot append to the job journal/.test(e.message),
  );
  assert.deepEqual(runner.list(), []);
  await runner.shutdown(100);
  await Deno.remove(dir, { recursive: true });
});
