/**
 * Every spelling of a loopback address keeps the DNS-rebinding Host check
 * (issue 19 item 8): a real daemon started with `--host 127.1`,
 * `::ffff:127.0.0.1`, `0:0:0:0:0:0:0:1` (and other spellings of 127/8)
 * listens on loopback and refuses `Host: evil.example` with 403 E011, while
 * a loopback Host with its port, and the token, gets through.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startDaemonProcess } from "./_daemon.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** One request over a plain socket (fetch will not send a forged Host). */
async function raw(
  hostname: string,
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect({ hostname, port });
  const head = [
    `GET ${path} HTTP/1.1`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    "connection: close",
    "",
    "",
  ].join("\r\n");
  await conn.write(new TextEncoder().encode(head));
  const text = await new Response(conn.readable).text();
  const status = Number(text.split(" ")[1]);
  const body = text.slice(text.indexOf("\r\n\r\n") + 4);
  return { status, body };
}

for (
  const host of [
    "127.1",
    "::ffff:127.0.0.1",
    "0:0:0:0:0:0:0:1",
    "2130706433",
    "0x7f.0.0.1",
    "127.0.0.2",
  ]
) {
  Deno.test(
    `loopback: serve --host ${host} keeps the Host check: Host evil.example is 403 E011`,
    opts,
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "floe-loopback-" });
      const d = await startDaemonProcess([
        "--host",
        host,
        "--project-root",
        dir,
        "--state-dir",
        join(dir, "state"),
      ]);
      try {
        assert.ok(d.url, d.logs());
        const u = new URL(d.url);
        const addr = u.hostname.replace(/^\[(.*)\]$/, "$1");
        const port = Number(u.port);
        for (const path of ["/healthz", "/v1/jobs"]) {
          const evil = await raw(addr, port, path, {
            host: `evil.example:${port}`,
            authorization: `Bearer ${d.token}`,
          });
          assert.equal(evil.status, 403, `${path}: ${evil.body}`);
          assert.match(evil.body, /FLOE-DBT-E011/);
          assert.match(evil.body, /is not this daemon/);
        }
        const ok = await raw(addr, port, "/v1/jobs", {
          host: `127.0.0.1:${port}`,
          authorization: `Bearer ${d.token}`,
        });
        assert.equal(ok.status, 200, ok.body);
        assert.match(d.logs(), /refused request: host not allowed/);
      } finally {
        d.child.kill("SIGTERM");
        assert.equal(await d.exit(), 0);
      }
    },
  );
}
