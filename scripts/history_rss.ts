/**
 * Memory of a long-lived daemon (issue 19 item 7): a real daemon process
 * (`floe-dbt serve`, local runtime) gets N quick jobs (default 12,000, past
 * the default `--max-finished` of 10,000), each with `--vars-bytes` of vars
 * (default 4096) on a folder that has a profiles.yml but no dbt project, so
 * each job ends at once (`failed`, E003) without starting dbt. Then it
 * prints one JSON summary: the daemon's RSS (VmRSS) and peak (VmHWM) at
 * start, after the jobs, and after a restart; the finished jobs kept; the
 * journal's size; the largest `GET /v1/jobs?limit=1000` page.
 *
 *   deno run -A scripts/history_rss.ts [--jobs 12000] [--max-finished 10000]
 *     [--vars-bytes 4096]
 *
 * @module
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const ROOT = resolve(new URL("..", import.meta.url).pathname);

function memory(pid: number): { rss_mb: number; peak_mb: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (name: string) =>
    Number(status.match(new RegExp(`^${name}:\\s+(\\d+)`, "m"))?.[1] ?? NaN);
  return {
    rss_mb: Math.round(kb("VmRSS") / 102.4) / 10,
    peak_mb: Math.round(kb("VmHWM") / 102.4) / 10,
  };
}

async function start(args: string[], env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", join(ROOT, "main.ts"), "serve"]
      .concat(["--port", "0", ...args]),
    env: { NO_COLOR: "1", ...env },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  void (async () => {
    for await (const t of child.stderr.pipeThrough(new TextDecoderStream())) {
      log += t;
    }
  })();
  for (let i = 0; i < 600; i++) {
    const m = log.match(/listening on (http:\/\/[^\s"]+)/);
    if (m) return { child, url: m[1]!, logs: () => log };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the daemon did not start:\n${log}`);
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    jobs: { type: "string", default: "12000" },
    "max-finished": { type: "string", default: "10000" },
    "vars-bytes": { type: "string", default: "4096" },
  },
});
const total = Number(values.jobs);
const dir = await Deno.makeTempDir({ prefix: "floe-history-rss-" });
const project = join(dir, "proj");
const state = join(dir, "state");
await Deno.mkdir(project);
await Deno.writeTextFile(
  join(project, "profiles.yml"),
  "none:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n",
);
const args = [
  "--project-root",
  dir,
  "--state-dir",
  state,
  "--max-finished",
  values["max-finished"]!,
];
let d = await start(args, {});
const token = (await Deno.readTextFile(join(state, "token"))).trim();
const vars = { note: "v".repeat(Number(values["vars-bytes"])) };
const headers = {
  authorization: `Bearer ${token}`,
  "content-type": "application/json",
};
const atStart = memory(d.child.pid);
const t0 = Date.now();
let sent = 0;
let refused = 0;
async function client(): Promise<void> {
  while (sent < total) {
    sent++;
    for (;;) {
      const res = await fetch(`${d.url}/v1/jobs`, {
        method: "POST",
        headers,
        body: JSON.stringify({ command: "run", project_dir: project, vars }),
      });
      await res.body?.cancel();
      if (res.status === 202) break;
      if (res.status !== 429) throw new Error(`submit answered ${res.status}`);
      refused++;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
await Promise.all(Array.from({ length: 16 }, client));

async function pages(): Promise<{ listed: number; largest: number }> {
  let listed = 0;
  let largest = 0;
  let cursor: string | null = null;
  do {
    const res: Response = await fetch(
      `${d.url}/v1/jobs?limit=1000${
        cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
      }`,
      { headers },
    );
    const text = await res.text();
    largest = Math.max(largest, new TextEncoder().encode(text).length);
    const page = JSON.parse(text) as {
      jobs: { status: string }[];
      next_cursor: string | null;
    };
    listed += page.jobs.length;
    cursor = page.next_cursor;
    if (
      page.jobs.some((j) => j.status === "queued" || j.status === "running")
    ) {
      return { listed: -1, largest };
    }
  } while (cursor);
  return { listed, largest };
}
let listing = await pages();
while (listing.listed < 0) {
  await new Promise((r) => setTimeout(r, 500));
  listing = await pages();
}
const afterJobs = memory(d.child.pid);
const seconds = (Date.now() - t0) / 1000;
const journalBytes = (await Deno.stat(join(state, "jobs.jsonl"))).size;
const compactions = d.logs().match(/compacted the job journal/g)?.length ?? 0;
d.child.kill("SIGTERM");
await d.child.status;
d = await start(args, {});
const restarted = await pages();
const afterRestart = memory(d.child.pid);
d.child.kill("SIGTERM");
await d.child.status;
await Deno.remove(dir, { recursive: true });
console.log(JSON.stringify(
  {
    jobs: total,
    vars_bytes: Number(values["vars-bytes"]),
    max_finished: Number(values["max-finished"]),
    seconds,
    refused_429_retried: refused,
    kept: listing.listed,
    kept_after_restart: restarted.listed,
    journal_bytes: journalBytes,
    journal_compactions: compactions,
    largest_page_bytes: listing.largest,
    daemon_at_start: atStart,
    daemon_after_jobs: afterJobs,
    daemon_after_restart: afterRestart,
  },
  null,
  2,
));
