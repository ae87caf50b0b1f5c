/**
 * Start the agent's daemon as a separate process on a free port.
 *
 * @module
 */
import type { Job } from "../src/jobs/schemas.ts";
import { ROOT } from "./_helpers.ts";
import { join } from "./_path.ts";

/** A daemon process under test. */
export interface DaemonProcess {
  url: string;
  child: Deno.ChildProcess;
  /** Everything it logged so far. */
  logs(): string;
  /** Wait for exit; returns the exit code. */
  exit(): Promise<number>;
}

/** Start `floe-dbt serve ARGS --port 0` and wait until it listens. */
export async function startDaemonProcess(
  args: string[],
  env: Record<string, string> = {},
): Promise<DaemonProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--quiet",
      join(ROOT, "main.ts"),
      "serve",
      "--port",
      "0",
      ...args,
    ],
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const decoder = new TextDecoderStream();
  child.stdout.pipeTo(new WritableStream()).catch(() => {});
  const reader = child.stderr.pipeThrough(decoder).getReader();
  let url = "";
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      log += value;
    }
  })();
  for (let i = 0; i < 300 && !url; i++) {
    const m = log.match(/listening on (http:\/\/[^\s"]+)/);
    if (m) url = m[1]!;
    else await new Promise((r) => setTimeout(r, 50));
    if (!url && i > 10) {
      const s = await Promise.race([
        child.status,
        new Promise((r) => setTimeout(() => r(null), 1)),
      ]);
      if (s) break;
    }
  }
  return {
    url,
    child,
    logs: () => log,
    exit: async () => {
      const s = await child.status;
      await pump;
      return s.code;
    },
  };
}

/** Poll `f` until it returns a value (the test's own timeout bounds it). */
export async function until<T>(
  f: () => Promise<T | undefined>,
  what: string,
  tries = 1200,
): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The job `id` once its status is one of `statuses`. */
export function waitJob(
  url: string,
  id: string,
  statuses: string[],
  headers: Record<string, string> = {},
): Promise<Job> {
  return until(async () => {
    const j = await (await fetch(`${url}/v1/jobs/${id}`, { headers }))
      .json() as Job;
    return statuses.includes(j.status) ? j : undefined;
  }, `job ${id} in ${statuses}`);
}
