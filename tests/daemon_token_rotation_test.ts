import assert from "node:assert/strict";
import { startDaemonProcess } from "./_daemon.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const FIRST = "first-token-0123456789abcdef";
const SECOND = "second-token-0123456789abcdef";

/** A daemon started with `--token-file` holding FIRST. */
async function tokenFileDaemon(prefix: string) {
  const dir = await Deno.makeTempDir({ prefix });
  const file = join(dir, "token");
  await Deno.writeTextFile(file, FIRST);
  const d = await startDaemonProcess([
    "--project-root",
    dir,
    "--state-dir",
    join(dir, "state"),
    "--token-file",
    file,
  ]);
  return {
    d,
    /** Replace the file as a Secret update does: a new file renamed into place. */
    rotate: async (text: string) => {
      await Deno.writeTextFile(`${file}.new`, text);
      await Deno.rename(`${file}.new`, file);
    },
    status: async (token: string) => {
      const r = await fetch(`${d.url}/v1/jobs`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await r.body?.cancel();
      return r.status;
    },
    async [Symbol.asyncDispose]() {
      d.child.kill("SIGTERM");
      assert.equal(await d.exit(), 0);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test(
  "daemon: a rotated --token-file takes effect without a restart; the old token stops working; a broken rotation keeps the token in effect",
  opts,
  async () => {
    await using t = await tokenFileDaemon("floe-token-rotation-");
    const { d, rotate, status } = t;
    assert.ok(d.url, d.logs());
    assert.equal(await status(FIRST), 200);
    await rotate(`${SECOND}\n`);
    assert.equal(await status(SECOND), 200, "the new token works at once");
    assert.equal(await status(FIRST), 401, "the old token is refused");
    // A rotation to something unusable keeps the token in effect.
    await rotate("short");
    assert.equal(await status("short"), 401);
    assert.equal(await status(SECOND), 200);
    assert.match(d.logs(), /token file changed: the new token is in effect/);
    assert.match(
      d.logs(),
      /shorter than 16 characters: keeping the previous token/,
    );
    for (const token of [FIRST, SECOND]) {
      assert.doesNotMatch(d.logs(), new RegExp(token), "no token in the log");
    }
  },
);

Deno.test(
  "daemon: a --token-file rotated before the first request is read at that request; the start-up token is refused",
  opts,
  async () => {
    await using t = await tokenFileDaemon("floe-token-early-");
    assert.ok(t.d.url, t.d.logs());
    await t.rotate(`${SECOND}\n`);
    assert.equal(await t.status(FIRST), 401, "the start-up token is refused");
    assert.equal(await t.status(SECOND), 200, "the rotated token works");
  },
);
