import assert from "node:assert/strict";
import { byEnd, FinishedJobs, jobsToForget, jobsToKeep } from "./retention.ts";
import type { Job, JobStatus } from "./schemas.ts";

function job(id: string, status: JobStatus, finishedMin: number | null): Job {
  const at = (m: number) => new Date(Date.UTC(2026, 0, 1, 0, m)).toISOString();
  return {
    id,
    status,
    runtime: "local",
    request: { command: "run", project_dir: "/p" },
    idempotency_key: null,
    created_at: at(0),
    started_at: null,
    finished_at: finishedMin === null ? null : at(finishedMin),
    result: null,
    error: null,
    remote_run_id: null,
    agent_pid: null,
  };
}

const NOW = Date.UTC(2026, 0, 1, 1, 0);

Deno.test("retention: past the count cap the oldest finished jobs go first; queued and running ones never", () => {
  const jobs = [
    job("d", "succeeded", 40),
    job("a", "failed", 10),
    job("q", "queued", null),
    job("c", "cancelled", 30),
    job("r", "running", null),
    job("b", "succeeded", 20),
  ];
  const policy = { retentionMs: 3600_000, maxFinished: 2, now: NOW };
  assert.deepEqual(jobsToForget(jobs, policy).map((j) => j.id), ["a", "b"]);
  assert.deepEqual(jobsToKeep(jobs, policy).map((j) => j.id), [
    "d",
    "q",
    "c",
    "r",
  ]);
  // Under the cap nothing goes.
  assert.deepEqual(jobsToForget(jobs, { ...policy, maxFinished: 4 }), []);
});

Deno.test("retention: jobs past the age go whatever the count", () => {
  const jobs = [job("old", "succeeded", 1), job("new", "succeeded", 50)];
  // 30 minutes of retention at 01:00: 00:01 is too old, 00:50 is not.
  const policy = { retentionMs: 30 * 60_000, maxFinished: 10, now: NOW };
  assert.deepEqual(jobsToForget(jobs, policy).map((j) => j.id), ["old"]);
});

Deno.test("retention: FinishedJobs gives what is due oldest first, by count and by age", () => {
  const f = new FinishedJobs();
  f.add(...byEnd([job("b", "failed", 20), job("a", "succeeded", 10)]));
  f.add(job("c", "succeeded", 30), job("d", "cancelled", 40));
  const policy = { retentionMs: 3600_000, maxFinished: 3, now: NOW };
  assert.deepEqual(f.due(policy).map((j) => j.id), ["a"]);
  assert.deepEqual(f.due(policy), []);
  // 25 minutes of retention at 01:00: 00:20 and 00:30 are too old.
  const aged = { ...policy, retentionMs: 25 * 60_000 };
  assert.deepEqual(f.due(aged).map((j) => j.id), ["b", "c"]);
  assert.equal(f.size, 1);
});
