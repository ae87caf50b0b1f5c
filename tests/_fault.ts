/**
 * Helpers of the fault suite: read a daemon's journal as it is on disk and
 * check that no accepted job was lost or ended twice.
 *
 * @module
 */
import assert from "node:assert/strict";
import { isFinal, type Job } from "../src/jobs/schemas.ts";
import type { DaemonProcess } from "./_daemon.ts";
import { join } from "./_path.ts";

/** Every snapshot of every job in `<state>/jobs.jsonl`, by job id, in order. */
export async function journalOf(state: string): Promise<Map<string, Job[]>> {
  const byId = new Map<string, Job[]>();
  let text = "";
  try {
    text = await Deno.readTextFile(join(state, "jobs.jsonl"));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return byId;
    throw e;
  }
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const job = JSON.parse(line) as Job;
    byId.set(job.id, [...(byId.get(job.id) ?? []), job]);
  }
  return byId;
}

/** The last journaled snapshot of each job. */
export async function journaledJobs(state: string): Promise<Map<string, Job>> {
  const out = new Map<string, Job>();
  for (const [id, snaps] of await journalOf(state)) out.set(id, snaps.at(-1)!);
  return out;
}

/**
 * Nothing lost: each job in `expected` is listed by the daemon's API and
 * journaled with the status expected, and a job that ended has exactly one
 * final snapshot in the journal (it ended once).
 */
export async function assertNothingLost(
  d: DaemonProcess,
  state: string,
  expected: Record<string, Job["status"]>,
): Promise<Map<string, Job>> {
  const listed = await (await d.fetch("/v1/jobs")).json() as { jobs: Job[] };
  const api = new Map(listed.jobs.map((j) => [j.id, j]));
  const journal = await journalOf(state);
  const out = new Map<string, Job>();
  for (const [id, status] of Object.entries(expected)) {
    const served = api.get(id);
    assert.ok(served, `job ${id} is listed by GET /v1/jobs`);
    assert.equal(
      served.status,
      status,
      `job ${id} via the API: ${JSON.stringify(served.error)}`,
    );
    const snaps = journal.get(id);
    assert.ok(snaps?.length, `job ${id} is in the journal`);
    assert.equal(snaps.at(-1)!.status, status, `job ${id} in the journal`);
    const finals = snaps.filter((s) => isFinal(s.status));
    assert.equal(
      finals.length,
      isFinal(status) ? 1 : 0,
      `job ${id} ends exactly once in the journal: ${
        finals.map((f) => f.status).join(", ")
      }`,
    );
    out.set(id, served);
  }
  return out;
}

/** POST /v1/jobs; asserts the 202 and returns the job. */
export async function submitJob(
  d: DaemonProcess,
  body: Record<string, unknown>,
): Promise<Job> {
  const res = await d.fetch("/v1/jobs", {
    method: "POST",
    body: JSON.stringify(body),
  });
  const json = await res.json();
  assert.equal(res.status, 202, JSON.stringify(json));
  return json as Job;
}

/** Kill (SIGKILL) every process whose command line mentions `text`. */
export async function killProcessesMentioning(text: string): Promise<void> {
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      if (cmd.includes(text)) Deno.kill(Number(e.name), "SIGKILL");
    } catch {
      // gone
    }
  }
}
