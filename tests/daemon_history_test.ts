/**
 * Bounded history (issue 19 item 7), on the real daemon process against the
 * dbt Cloud stand-in: with `serve --max-finished 50`, after 120 jobs only the
 * 50 newest finished ones remain (listed, with their artifacts; the others
 * answer 404 and their artifact folders are gone), the journal on disk is
 * compacted while the daemon runs (no restart), and a restart replays only
 * the kept ones. The list's pages are capped in bytes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { jobPage, MAX_PAGE_BYTES, pageQuery } from "../src/daemon/job_list.ts";
import type { Job } from "../src/jobs/schemas.ts";
import { type DaemonProcess, startDaemonProcess, until } from "./_daemon.ts";
import { cloudDaemonWorld } from "./cloud/daemon_world.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const JOBS = 120;
const KEEP = 50;

async function allJobs(d: DaemonProcess): Promise<Job[]> {
  const out: Job[] = [];
  let cursor: string | null = null;
  do {
    const res: Response = await d.fetch(
      `/v1/jobs?limit=1000${
        cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
      }`,
    );
    assert.equal(res.status, 200);
    const page = await res.json() as { jobs: Job[]; next_cursor: string };
    out.push(...page.jobs);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

async function lines(path: string): Promise<number> {
  return (await Deno.readTextFile(path)).split("\n").filter(Boolean).length;
}

async function entries(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
  } catch {
    return [];
  }
}

Deno.test(
  "history: serve --max-finished 50 keeps the 50 newest of 120 jobs, compacts the journal while running, and a restart replays only those",
  opts,
  async () => {
    // One job at a time: they finish in the order they were sent.
    await using w = await cloudDaemonWorld("history", {
      cloud: ["max_parallel: 1"],
    });
    const journal = join(w.state, "jobs.jsonl");
    const args = [...w.args, "--max-finished", String(KEEP)];
    let d = await startDaemonProcess(args, w.env);
    const ids: string[] = [];
    try {
      for (let i = 0; i < JOBS; i++) {
        const res = await d.fetch("/v1/jobs", {
          method: "POST",
          body: JSON.stringify({
            command: "run",
            project_dir: `${w.dir}/proj`,
          }),
        });
        assert.equal(res.status, 202);
        ids.push((await res.json() as Job).id);
      }
      const kept = await until(
        async () => {
          const jobs = await allJobs(d);
          return jobs.some((j) =>
              j.status === "queued" || j.status === "running"
            )
            ? undefined
            : jobs;
        },
        "every job to finish",
        6000,
      );
      const newest = ids.slice(JOBS - KEEP);
      assert.equal(kept.length, KEEP);
      assert.deepEqual(kept.map((j) => j.id).sort(), [...newest].sort());
      assert.ok(
        kept.every((j) => j.status === "succeeded"),
        JSON.stringify(kept.find((j) => j.status !== "succeeded")),
      );
      const oldest = await d.fetch(`/v1/jobs/${ids[0]}`);
      assert.equal(oldest.status, 404);
      await oldest.body?.cancel();
      // The forgotten jobs' artifacts go with them.
      const folders = await until(async () => {
        const names = await entries(join(w.state, "artifacts"));
        return names.length <= KEEP ? names : undefined;
      }, "forgotten jobs' artifacts to be removed");
      assert.ok(folders.every((n) => newest.includes(n)), String(folders));
      const art = await d.fetch(
        `/v1/jobs/${ids[JOBS - 1]}/artifacts/run_results`,
      );
      assert.equal(art.status, 200);
      await art.body?.cancel();
      // Compacted while running: an uncompacted journal would hold at least
      // three snapshots (queued, running, finished) of each of the 120 jobs.
      assert.match(d.logs(), /compacted the job journal/);
      const running = await lines(journal);
      assert.ok(running < 3 * JOBS, `${running} lines`);
      console.log(
        `figures: ${JOBS} jobs, ${KEEP} kept, journal ${running} lines while running`,
      );
      d.child.kill("SIGTERM");
      assert.equal(await d.exit(), 0);

      d = await startDaemonProcess(args, w.env);
      const replayed = await allJobs(d);
      assert.deepEqual(replayed.map((j) => j.id).sort(), [...newest].sort());
      assert.equal(await lines(journal), KEEP);
    } finally {
      d.child.kill("SIGTERM");
      await d.exit();
    }
  },
);

Deno.test("history: GET /v1/jobs pages stop at about 1 MiB of JSON and go on with next_cursor", () => {
  const big = "x".repeat(100_000);
  const jobs: Job[] = Array.from({ length: 30 }, (_, i) => ({
    id: `job-${String(i).padStart(3, "0")}`,
    status: "succeeded",
    runtime: "local",
    request: { command: "run", project_dir: "/p", vars: { big } },
    idempotency_key: null,
    created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    started_at: null,
    finished_at: null,
    result: null,
    error: null,
    remote_run_id: null,
    agent_pid: null,
  }));
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = jobPage(jobs, pageQuery({ limit: "1000", cursor }));
    const size = new TextEncoder().encode(JSON.stringify(page.jobs)).length;
    assert.ok(size <= MAX_PAGE_BYTES + 1000, `page of ${size} bytes`);
    assert.ok(page.jobs.length >= 1);
    seen.push(...page.jobs.map((j) => j.id));
    cursor = page.next_cursor ?? undefined;
    pages++;
  } while (cursor);
  assert.ok(pages >= 3, `${pages} pages`);
  // Every job exactly once, newest first.
  assert.deepEqual(seen, jobs.map((j) => j.id).reverse());
  // One job larger than a page still gets a page of its own.
  const huge = {
    ...jobs[0]!,
    request: {
      ...jobs[0]!.request,
      vars: { big: "y".repeat(2 * MAX_PAGE_BYTES) },
    },
  };
  const alone = jobPage([huge], pageQuery({}));
  assert.equal(alone.jobs.length, 1);
  assert.equal(alone.next_cursor, null);
});
