/**
 * Tokens go only where they belong (issue 19, item 4): the CLI sends the
 * token a daemon generated in its state directory only to that daemon
 * (daemon.json's pid must hold the URL's port). A fake listener on the port
 * while the daemon is down gets no token and the CLI says E011 with a hint;
 * an explicit --token-file is the caller's choice and is sent as given; with
 * the real daemon running the CLI works. Real sockets, real daemon.
 */
import assert from "node:assert/strict";
import { startDaemonProcess } from "./_daemon.ts";
import { runAgent } from "./_helpers.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** A plain TCP server that records each request head and answers an empty job list. */
function fakeListener(port = 0) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const heads: string[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(16384);
        let text = "";
        while (!text.includes("\r\n\r\n")) {
          const n = await conn.read(buf).catch(() => null);
          if (!n) break;
          text += new TextDecoder().decode(buf.subarray(0, n));
        }
        heads.push(text);
        await conn.write(
          new TextEncoder().encode(
            'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{"jobs":[]}',
          ),
        ).catch(() => {});
        conn.close();
      })();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    heads,
    async close() {
      listener.close();
      await serving;
    },
  };
}

/** A state dir holding a generated-looking token (0600), and what else. */
async function stateWithToken(): Promise<string> {
  const state = await Deno.makeTempDir({ prefix: "floe-identity-" });
  await Deno.writeTextFile(join(state, "token"), "t".repeat(64) + "\n", {
    mode: 0o600,
  });
  return state;
}

async function writeIdentity(state: string, pid: number, port: number) {
  await Deno.writeTextFile(
    join(state, "daemon.json"),
    JSON.stringify({ pid, port, host: "127.0.0.1", started_at: "x" }) + "\n",
    { mode: 0o600 },
  );
}

function cli(args: string[], state: string) {
  return runAgent([...args, "--state-dir", state], {
    env: { FLOE_DBT_TOKEN: "" },
  });
}

function assertRefused(
  out: { code: number; stderr: string },
  state: string,
  reason: RegExp,
) {
  assert.equal(out.code, 2, out.stderr);
  assert.match(
    out.stderr,
    new RegExp(
      `FLOE-DBT-E011 Not sending the daemon's token \\('${
        join(state, "token")
      }'\\) to http://127\\.0\\.0\\.1:\\d+`,
    ),
  );
  assert.match(out.stderr, reason);
  assert.match(out.stderr, /hint: start the daemon .* --token-file FILE/);
}

Deno.test(
  "a fake listener on the port while the daemon is down never gets the token",
  opts,
  async () => {
    const fake = fakeListener();
    const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
    const state = await stateWithToken();
    const url = `http://127.0.0.1:${fake.port}`;
    try {
      // No daemon.json: no daemon of this state directory runs.
      assertRefused(
        await cli(["jobs", "--url", url], state),
        state,
        /daemon\.json' is missing/,
      );
      // A live pid that does not hold the port.
      await writeIdentity(state, sleeper.pid, fake.port);
      assertRefused(
        await cli(["jobs", "--url", url], state),
        state,
        new RegExp(
          `port ${fake.port} is held by a process other than the daemon \\(pid ${sleeper.pid}\\)`,
        ),
      );
      // A dead pid (a daemon killed with -9 leaves its record behind).
      sleeper.kill("SIGKILL");
      await sleeper.status;
      assertRefused(
        await cli(["submit", "compile", "--url", url], state),
        state,
        new RegExp(`pid ${sleeper.pid} is not running, yet something listens`),
      );
      // The record names another port.
      await writeIdentity(state, Deno.pid, fake.port + 1);
      assertRefused(
        await cli(["jobs", "--url", url], state),
        state,
        new RegExp(`listens on port ${fake.port + 1}, not ${fake.port}`),
      );
      assert.equal(
        fake.heads.filter((h) => /authorization:/i.test(h)).length,
        0,
        fake.heads.join("\n---\n"),
      );
      // An explicit token file is the caller's choice: sent as given.
      const mine = join(state, "mine.txt");
      await Deno.writeTextFile(mine, "explicit-token-0123456789\n");
      const explicit = await cli(
        ["jobs", "--url", url, "--token-file", mine],
        state,
      );
      assert.equal(explicit.code, 0, explicit.stderr);
      assert.ok(
        fake.heads.some((h) =>
          /authorization: Bearer explicit-token-0123456789/i.test(h)
        ),
      );
      assert.equal(
        fake.heads.filter((h) => h.includes("t".repeat(64))).length,
        0,
      );
    } finally {
      try {
        sleeper.kill("SIGKILL");
      } catch {
        // gone
      }
      await fake.close();
      await Deno.remove(state, { recursive: true });
    }
  },
);

Deno.test(
  "with the real daemon the CLI sends its generated token; after a stop a fake on its port gets nothing",
  opts,
  async () => {
    const root = await Deno.makeTempDir({ prefix: "floe-identity-real-" });
    const state = join(root, "state");
    try {
      const d = await startDaemonProcess([
        "--project-root",
        root,
        "--state-dir",
        state,
      ]);
      let port: number;
      try {
        assert.ok(d.url, d.logs());
        port = Number(new URL(d.url).port);
        const id = JSON.parse(
          await Deno.readTextFile(join(state, "daemon.json")),
        );
        assert.equal(id.port, port);
        assert.equal(id.pid, d.child.pid);
        const ok = await cli(["jobs", "--json", "--url", d.url], state);
        assert.equal(ok.code, 0, ok.stderr);
        assert.deepEqual(JSON.parse(ok.stdout), []);
        // localhost names the same daemon.
        const local = await cli(
          ["jobs", "--json", "--url", `http://localhost:${port}`],
          state,
        );
        assert.equal(local.code, 0, local.stderr);
      } finally {
        d.child.kill("SIGKILL");
        await d.exit();
      }
      // Killed: its record stays, its port is free. Nothing listens: no token
      // goes anywhere, and the CLI says it cannot reach the daemon.
      const down = await cli(["jobs", "--url", d.url], state);
      assert.equal(down.code, 2, down.stderr);
      assert.match(down.stderr, /Cannot reach the floe-dbt daemon/);
      // Another process binds the port: refused, and it sees no token.
      const fake = fakeListener(port);
      try {
        assertRefused(
          await cli(["jobs", "--url", d.url], state),
          state,
          /is not running, yet something listens/,
        );
        assert.equal(
          fake.heads.filter((h) => /authorization:/i.test(h)).length,
          0,
        );
      } finally {
        await fake.close();
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);
