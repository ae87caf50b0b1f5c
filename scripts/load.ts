/**
 * Load test of the daemon (`deno task load`): a real daemon process on
 * loopback, a copy of examples/jaffle_duck, and N clients that for a given
 * time each submit a real `compile` (through the warm local runtime), follow
 * it over SSE while polling `GET /v1/jobs/{id}` and `GET /v1/jobs`, then
 * check the end. Bounded in time (the duration plus a drain limit) and in
 * count (one job in flight per client). Prints one JSON summary: jobs
 * accepted, completed, lost (must be 0), request latency p50/p99, SSE
 * events and gaps, the daemon's peak RSS (VmHWM).
 *
 *   deno run -A scripts/load.ts [--duration 60] [--clients 20]
 *
 * @module
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const ROOT = resolve(new URL("..", import.meta.url).pathname);
const FINAL = ["succeeded", "failed", "cancelled", "interrupted"];
const SKIP = new Set(["target", "logs", ".floe", "dbt_packages"]);

/** How to run the load test. */
export interface LoadOptions {
  durationSeconds: number;
  clients: number;
  /** After the duration, how long clients may wait for their last job. */
  drainSeconds?: number;
}

/** What the load test measured. */
export interface LoadSummary {
  duration_s: number;
  clients: number;
  accepted: number;
  refused_429: number;
  completed: number;
  succeeded: number;
  failed: number;
  /** Accepted jobs not found in a final state at the end, or not listed. */
  lost: number;
  /** 5xx answers and failed requests (network). */
  errors: number;
  requests: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  sse_streams: number;
  sse_events: number;
  /** Streams whose ids were not 0, 1, 2... or that ended without job_finished. */
  sse_gaps: number;
  peak_rss_mib: number;
}

function pct(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
}

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (SKIP.has(e.name)) continue;
    if (e.isDirectory) await copyDir(join(from, e.name), join(to, e.name));
    else if (e.isFile) {
      await Deno.copyFile(join(from, e.name), join(to, e.name));
    }
  }
}

async function peakRssMib(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0) / 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start a daemon, load it, stop it; returns the summary. */
export async function runLoad(o: LoadOptions): Promise<LoadSummary> {
  const dir = await Deno.makeTempDir({ prefix: "floe-load-" });
  const proj = join(dir, "proj");
  await copyDir(join(ROOT, "examples", "jaffle_duck"), proj);
  const token = crypto.randomUUID().replaceAll("-", "");
  await Deno.writeTextFile(join(dir, "token"), token, { mode: 0o600 });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--quiet",
      join(ROOT, "main.ts"),
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--project-root",
      dir,
      "--state-dir",
      join(dir, "state"),
      "--token-file",
      join(dir, "token"),
    ],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  let url = "";
  while (!url) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the daemon did not start: ${log}`);
    log += value;
    url = log.match(/listening on (http:\/\/\S+)/)?.[1] ?? "";
  }
  const drained = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  const headers = {
    authorization: `Bearer ${token}`,
    "content-type": "application/json",
  };
  const latencies: number[] = [];
  let errors = 0;
  /** One timed request; undefined on a network error. */
  const call = async (
    path: string,
    init: RequestInit = {},
  ): Promise<Response | undefined> => {
    const t = performance.now();
    try {
      const res = await fetch(`${url}${path}`, {
        ...init,
        headers: { ...headers, ...(init.headers as Record<string, string>) },
      });
      latencies.push(performance.now() - t);
      if (res.status >= 500) errors++;
      return res;
    } catch {
      errors++;
      return undefined;
    }
  };
  const submit = (key: string) =>
    call("/v1/jobs", {
      method: "POST",
      headers: { "idempotency-key": key },
      body: JSON.stringify({ command: "compile", project_dir: proj }),
    });

  const summary: LoadSummary = {
    duration_s: o.durationSeconds,
    clients: o.clients,
    accepted: 0,
    refused_429: 0,
    completed: 0,
    succeeded: 0,
    failed: 0,
    lost: 0,
    errors: 0,
    requests: 0,
    p50_ms: 0,
    p99_ms: 0,
    max_ms: 0,
    sse_streams: 0,
    sse_events: 0,
    sse_gaps: 0,
    peak_rss_mib: 0,
  };
  const accepted: string[] = [];
  try {
    // Warm the local worker once (not counted).
    const warm = await (await submit(`warm-${crypto.randomUUID()}`))!.json();
    for (let i = 0; i < 2400; i++) {
      const j = await (await call(`/v1/jobs/${warm.id}`))!.json();
      if (FINAL.includes(j.status)) break;
      await sleep(50);
    }
    latencies.length = 0;
    errors = 0;

    /** Follow one job's SSE to its end; counts events, checks ids. */
    const follow = async (id: string) => {
      const res = await call(`/v1/jobs/${id}/events`);
      if (!res || res.status !== 200) {
        await res?.body?.cancel();
        summary.sse_gaps++;
        return;
      }
      summary.sse_streams++;
      const text = await res.text();
      const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
      summary.sse_events += ids.length;
      if (
        !ids.every((v, i) => v === i) || !/event: job_finished/.test(text)
      ) summary.sse_gaps++;
    };

    const deadline = performance.now() + o.durationSeconds * 1000;
    const drainBy = deadline + (o.drainSeconds ?? 300) * 1000;
    await Promise.all(Array.from({ length: o.clients }, async (_, c) => {
      for (let n = 0; performance.now() < deadline; n++) {
        const res = await submit(`load-${c}-${n}-${crypto.randomUUID()}`);
        if (!res) continue;
        if (res.status === 429) {
          summary.refused_429++;
          await res.body?.cancel();
          await sleep(Number(res.headers.get("retry-after") ?? 1) * 1000);
          continue;
        }
        if (res.status !== 202) {
          await res.body?.cancel();
          continue;
        }
        const job = await res.json() as { id: string };
        accepted.push(job.id);
        const streamed = follow(job.id);
        // Poll the job and the list while it runs.
        for (let i = 0; performance.now() < drainBy; i++) {
          const r = await call(
            i % 2 ? `/v1/jobs?limit=20` : `/v1/jobs/${job.id}`,
          );
          const body = await r?.json().catch(() => undefined);
          if (!(i % 2) && FINAL.includes(body?.status)) break;
          await sleep(100);
        }
        await streamed;
      }
    }));

    // The end: every accepted job in a final state, and listed.
    const listed = new Set<string>();
    let cursor: string | null = null;
    do {
      const page: { jobs: { id: string }[]; next_cursor: string | null } =
        await (await call(
          `/v1/jobs?limit=1000${cursor ? `&cursor=${cursor}` : ""}`,
        ))!.json();
      for (const j of page.jobs) listed.add(j.id);
      cursor = page.next_cursor;
    } while (cursor);
    for (const id of accepted) {
      const res = await call(`/v1/jobs/${id}`);
      const j = res?.status === 200 ? await res.json() : undefined;
      if (!j || !FINAL.includes(j.status) || !listed.has(id)) {
        await res?.body?.cancel().catch(() => {});
        summary.lost++;
        continue;
      }
      summary.completed++;
      if (j.status === "succeeded") summary.succeeded++;
      else summary.failed++;
    }
    summary.accepted = accepted.length;
    summary.errors = errors;
    summary.requests = latencies.length;
    summary.p50_ms = Math.round(pct(latencies, 0.5) * 10) / 10;
    summary.p99_ms = Math.round(pct(latencies, 0.99) * 10) / 10;
    summary.max_ms = Math.round(Math.max(0, ...latencies) * 10) / 10;
    summary.peak_rss_mib = Math.round(await peakRssMib(child.pid) * 10) / 10;
    return summary;
  } finally {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
    await drained.catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      duration: { type: "string", default: "60" },
      clients: { type: "string", default: "20" },
    },
  });
  const summary = await runLoad({
    durationSeconds: Number(values.duration),
    clients: Number(values.clients),
  });
  console.log(JSON.stringify(summary, null, 2));
  if (summary.lost > 0) Deno.exit(1);
}
