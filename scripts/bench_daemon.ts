/**
 * Daemon figures for `deno task bench`: submission latency, GET /v1/jobs/{id}
 * throughput and p99, resident memory idle and under load. The daemon runs as
 * its own process on loopback; jobs are real local compiles of a copy of the
 * example project.
 *
 * @module
 */
import { join } from "node:path";

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
}

async function rssMb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+)/)![1]) / 1024;
}

/** Run the daemon bench; returns figures (seconds, requests/s, MiB). */
export async function benchDaemon(
  root: string,
): Promise<Record<string, number>> {
  const dir = await Deno.makeTempDir({ prefix: "floe-bench-daemon-" });
  await new Deno.Command("cp", {
    args: ["-r", join(root, "examples/jaffle_duck"), join(dir, "proj")],
  }).output();
  // A token always (the daemon refuses requests without one).
  const token = crypto.randomUUID().replaceAll("-", "");
  await Deno.writeTextFile(join(dir, "token"), token, { mode: 0o600 });
  const headers = {
    authorization: `Bearer ${token}`,
    "content-type": "application/json",
  };
  const call = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${url}${path}`, { ...init, headers });
    if (!res.ok) {
      throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    }
    return res;
  };
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      join(root, "main.ts"),
      "serve",
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
    env: { RUST_BACKTRACE: "0" },
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  let url = "";
  while (!url) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`daemon did not start: ${log}`);
    log += value;
    url = log.match(/listening on (http:\/\/\S+)/)?.[1] ?? "";
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  await new Promise((r) => setTimeout(r, 500));
  const idle = await rssMb(child.pid);
  const submit: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    const res = await call("/v1/jobs", {
      method: "POST",
      body: JSON.stringify({
        command: "compile",
        project_dir: join(dir, "proj"),
      }),
    });
    const job = await res.json();
    submit.push((performance.now() - t) / 1000);
    ids.push(job.id);
  }
  const gets: number[] = [];
  const t0 = performance.now();
  let peak = idle;
  await Promise.all(Array.from({ length: 10 }, async (_, c) => {
    for (let i = 0; i < 300; i++) {
      const t = performance.now();
      const res = await call(`/v1/jobs/${ids[(c + i) % ids.length]}`);
      await res.arrayBuffer();
      gets.push((performance.now() - t) / 1000);
      if (i % 100 === 0) peak = Math.max(peak, await rssMb(child.pid));
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  // Let the queued compiles finish (dbt runs in the worker, not the daemon).
  for (;;) {
    const { jobs } = await (await call("/v1/jobs")).json() as {
      jobs: { status: string }[];
    };
    peak = Math.max(peak, await rssMb(child.pid));
    if (jobs.every((j) => j.status !== "queued" && j.status !== "running")) {
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill("SIGTERM");
  await child.status;
  await Deno.remove(dir, { recursive: true });
  return {
    submit_median_s: pct(submit, 0.5),
    submit_p99_s: pct(submit, 0.99),
    get_requests: gets.length,
    get_throughput_rps: gets.length / seconds,
    get_p50_s: pct(gets, 0.5),
    get_p99_s: pct(gets, 0.99),
    rss_idle_mb: idle,
    rss_peak_under_load_mb: peak,
  };
}
