/**
 * No stranger can stop the daemon (issue 19 item 3): a real daemon process
 * whose open-file limit is 1024 gets 1300 half-open connections (a partial
 * request, then nothing) from a client without a token. It stays up, closes
 * every one of them (refused at once past its connection cap, or when their
 * request deadline passes), and then serves an authorized client. With the
 * cap above the file limit, accepting fails with EMFILE: logged, retried,
 * never fatal. A slow body and a header drip are closed too.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "./_helpers.ts";
import { until } from "./_daemon.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const FLOOD = 1300;
const FILE_LIMIT = 1024;

interface Limited {
  url: string;
  port: number;
  child: Deno.ChildProcess;
  token: string;
  logs(): string;
  alive(): boolean;
  stop(): Promise<number>;
}

/** `floe-dbt serve` under `ulimit -n FILE_LIMIT`, on a free port. */
async function startLimited(extra: string[]): Promise<Limited> {
  const dir = await Deno.makeTempDir({ prefix: "floe-exhaust-" });
  await Deno.mkdir(join(dir, "proj"));
  const state = join(dir, "state");
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      `ulimit -n ${FILE_LIMIT} && exec "$@"`,
      "bash",
      Deno.execPath(),
      "run",
      "--allow-all",
      "--quiet",
      join(ROOT, "main.ts"),
      "serve",
      "--port",
      "0",
      "--project-root",
      dir,
      "--state-dir",
      state,
      ...extra,
    ],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const pump = (async () => {
    for await (const t of child.stderr.pipeThrough(new TextDecoderStream())) {
      log += t;
    }
  })();
  const url = await until(async () => {
    if (exited) throw new Error(`serve exited early:\n${log}`);
    return await Promise.resolve(
      log.match(/listening on (http:\/\/[^\s"]+)/)?.[1],
    );
  }, "the daemon to listen");
  const token = (await Deno.readTextFile(join(state, "token"))).trim();
  return {
    url,
    port: Number(new URL(url).port),
    child,
    token,
    logs: () => log,
    alive: () => !exited,
    stop: async () => {
      child.kill("SIGTERM");
      const s = await status;
      await pump;
      return s.code;
    },
  };
}

/** What happened to one half-open connection. */
type Fate = "refused" | "closed" | "connect-failed";

/**
 * Connect, send part of a request, then wait for the server to act: a 503
 * (refused past the cap) or a close without an answer (the deadline).
 */
async function halfOpen(port: number, partial: string): Promise<Fate> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return "connect-failed";
  }
  let got = "";
  try {
    await conn.write(new TextEncoder().encode(partial));
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += new TextDecoder().decode(buf.subarray(0, n));
    }
  } catch {
    // reset by the server: closed as well
  } finally {
    try {
      conn.close();
    } catch {
      // closed
    }
  }
  return got.startsWith("HTTP/1.1 503") ? "refused" : "closed";
}

async function flood(d: Limited): Promise<Record<Fate, number>> {
  const partial =
    `GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\nX-Stall: `;
  const fates = await Promise.all(
    Array.from({ length: FLOOD }, () => halfOpen(d.port, partial)),
  );
  const count: Record<Fate, number> = {
    refused: 0,
    closed: 0,
    "connect-failed": 0,
  };
  for (const f of fates) count[f]++;
  return count;
}

async function served(d: Limited): Promise<Response> {
  return await until(async () => {
    try {
      const r = await fetch(`${d.url}/v1/jobs`, {
        headers: { authorization: `Bearer ${d.token}` },
      });
      if (r.status === 200) return r;
      await r.body?.cancel();
    } catch {
      // refused or reset: not yet
    }
    return undefined;
  }, "an authorized request to be served");
}

Deno.test(
  "exhaustion: 1300 half-open connections against a daemon limited to 1024 files: it stays up, closes them all, then serves",
  opts,
  async () => {
    const d = await startLimited(["--request-timeout-seconds", "2"]);
    try {
      // The default cap is sized under the file limit.
      const cap = Number(d.logs().match(/max_connections=(\d+)/)?.[1]);
      assert.ok(cap > 0 && cap < FILE_LIMIT, `cap ${cap}`);
      const t0 = Date.now();
      const count = await flood(d);
      const closedAt = Date.now();
      assert.ok(d.alive(), `the daemon died:\n${d.logs()}`);
      // Every connection was closed by the daemon, none left hanging.
      assert.equal(count["connect-failed"], 0);
      assert.equal(count.refused + count.closed, FLOOD);
      // Past the cap some were refused at once; the others timed out.
      assert.ok(count.refused >= FLOOD - cap, JSON.stringify(count));
      assert.ok(count.closed > 0, JSON.stringify(count));
      const res = await served(d);
      const page = await res.json() as { jobs: unknown[] };
      assert.deepEqual(page.jobs, []);
      const health = await fetch(`${d.url}/healthz`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
      console.log(
        `figures: cap ${cap}, refused ${count.refused}, closed by the deadline ${count.closed}, all closed after ${
          closedAt - t0
        } ms, served again after ${Date.now() - t0} ms`,
      );
      assert.equal(await d.stop(), 0);
      assert.match(d.logs(), /refused connections: too many open/);
      assert.match(
        d.logs(),
        /closed connections: no whole request within the deadline/,
      );
    } finally {
      if (d.alive()) await d.stop();
    }
  },
);

Deno.test(
  "exhaustion: a connection cap above the file limit makes accept fail with EMFILE: logged and retried, the daemon stays up and serves again",
  opts,
  async () => {
    const d = await startLimited([
      "--request-timeout-seconds",
      "2",
      "--max-connections",
      "5000",
    ]);
    try {
      const t0 = Date.now();
      const count = await flood(d);
      assert.ok(d.alive(), `the daemon died:\n${d.logs()}`);
      assert.equal(count.refused, 0, JSON.stringify(count));
      assert.equal(count.closed + count["connect-failed"], FLOOD);
      assert.match(
        d.logs(),
        /accepting a connection failed: retrying.*(Too many open files|EMFILE)/,
      );
      const res = await served(d);
      assert.equal(res.status, 200);
      await res.body?.cancel();
      console.log(
        `figures (cap 5000 > ${FILE_LIMIT} files): closed ${count.closed}, connect failed ${
          count["connect-failed"]
        }, served again after ${Date.now() - t0} ms`,
      );
      assert.equal(await d.stop(), 0);
    } finally {
      if (d.alive()) await d.stop();
    }
  },
);

Deno.test(
  "exhaustion: a slow body, a header drip and an idle connection are closed at the deadline; no job is made",
  opts,
  async () => {
    const d = await startLimited(["--request-timeout-seconds", "1"]);
    try {
      const body = JSON.stringify({ command: "build", project_dir: "/x" });
      const slowBody = halfOpen(
        d.port,
        `POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\n` +
          `Authorization: Bearer ${d.token}\r\ncontent-type: application/json\r\n` +
          `content-length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
      );
      const idle = halfOpen(d.port, "");
      // A header drip: one byte at a time, never finishing the head.
      const drip = (async () => {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: d.port,
        });
        const head = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\n`;
        let sent = 0;
        let closed = false;
        const reading = conn.read(new Uint8Array(64)).then(
          (n) => (closed = n === null),
          () => (closed = true),
        );
        while (!closed) {
          try {
            await conn.write(
              new TextEncoder().encode(head[sent % head.length]!),
            );
          } catch {
            break;
          }
          sent++;
          await new Promise((r) => setTimeout(r, 100));
        }
        await reading;
        conn.close();
        return { closed, sent };
      })();
      assert.equal(await slowBody, "closed");
      assert.equal(await idle, "closed");
      const dripped = await drip;
      assert.ok(dripped.closed);
      const res = await served(d);
      assert.deepEqual((await res.json() as { jobs: unknown[] }).jobs, []);
      assert.equal(await d.stop(), 0);
    } finally {
      if (d.alive()) await d.stop();
    }
  },
);
