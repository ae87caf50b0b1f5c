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
  /** The token it requires: its --token-file, or the one it generated. */
  token: string | undefined;
  /** Authorization (when the token is known) and JSON content type. */
  headers: Record<string, string>;
  /** fetch(url + path) with `headers` merged under the caller's. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Everything it logged so far. */
  logs(): string;
  /** Wait for exit; returns the exit code. */
  exit(): Promise<number>;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.lastIndexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** The token a daemon started with `args` requires, when a test can know it. */
async function tokenOf(args: string[]): Promise<string | undefined> {
  const file = flag(args, "--token-file") ??
    (flag(args, "--token-ref") === undefined && flag(args, "--state-dir")
      ? join(flag(args, "--state-dir")!, "token")
      : undefined);
  if (!file) return undefined;
  return (await Deno.readTextFile(file)).trim();
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
  const token = url ? await tokenOf(args) : undefined;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
  return {
    url,
    child,
    token,
    headers,
    fetch: (path, init = {}) =>
      fetch(`${url}${path}`, {
        ...init,
        headers: { ...headers, ...(init.headers as Record<string, string>) },
      }),
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

/** The job `id` of daemon `d` once its status is one of `statuses`. */
export function waitJob(
  d: Pick<DaemonProcess, "fetch">,
  id: string,
  statuses: string[],
): Promise<Job> {
  return until(async () => {
    const j = await (await d.fetch(`/v1/jobs/${id}`)).json() as Job;
    return statuses.includes(j.status) ? j : undefined;
  }, `job ${id} in ${statuses}`);
}

/** A raw HTTP/1.1 answer: status, lower-case headers, body. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Send one request over a plain socket, so a test controls every header
 * (fetch will not send a forged Host).
 */
export async function rawRequest(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = "",
): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const lines = [
    `${method} ${path} HTTP/1.1`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ...(body
      ? [`content-length: ${new TextEncoder().encode(body).length}`]
      : []),
    "connection: close",
    "",
    body,
  ];
  await conn.write(new TextEncoder().encode(lines.join("\r\n")));
  const text = await new Response(conn.readable).text();
  const [head = "", ...rest] = text.split("\r\n\r\n");
  const [status = "", ...fields] = head.split("\r\n");
  const out: Record<string, string> = {};
  for (const f of fields) {
    const i = f.indexOf(":");
    out[f.slice(0, i).trim().toLowerCase()] = f.slice(i + 1).trim();
  }
  let payload = rest.join("\r\n\r\n");
  if (out["transfer-encoding"] === "chunked") {
    let plain = "";
    for (;;) {
      const nl = payload.indexOf("\r\n");
      const size = parseInt(payload.slice(0, nl), 16);
      if (!size) break;
      plain += payload.slice(nl + 2, nl + 2 + size);
      payload = payload.slice(nl + 2 + size + 2);
    }
    payload = plain;
  }
  return { status: Number(status.split(" ")[1]), headers: out, body: payload };
}
