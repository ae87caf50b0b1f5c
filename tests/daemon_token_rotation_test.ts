import assert from "node:assert/strict";
import { startDaemonProcess } from "./_daemon.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "daemon: a rotated --token-file takes effect without a restart; the old token stops working; a broken rotation keeps the token in effect",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-token-rotation-" });
    const file = join(dir, "token");
    const first = "first-token-0123456789abcdef";
    const second = "second-token-0123456789abcdef";
    await Deno.writeTextFile(file, first);
    const d = await startDaemonProcess([
      "--project-root",
      dir,
      "--state-dir",
      join(dir, "state"),
      "--token-file",
      file,
    ]);
    const status = async (token: string) => {
      const r = await fetch(`${d.url}/v1/jobs`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await r.body?.cancel();
      return r.status;
    };
    try {
      assert.ok(d.url, d.logs());
      assert.equal(await status(first), 200);
      // Rotate as a Secret update does: a new file renamed into place.
      await Deno.writeTextFile(`${file}.new`, `${second}\n`);
      await Deno.rename(`${file}.new`, file);
      assert.equal(await status(second), 200, "the new token works at once");
      assert.equal(await status(first), 401, "the old token is refused");
      // A rotation to something unusable keeps the token in effect.
      await Deno.writeTextFile(`${file}.new`, "short");
      await Deno.rename(`${file}.new`, file);
      assert.equal(await status("short"), 401);
      assert.equal(await status(second), 200);
      assert.match(d.logs(), /token file changed: the new token is in effect/);
      assert.match(
        d.logs(),
        /shorter than 16 characters: keeping the previous token/,
      );
      for (const t of [first, second]) {
        assert.doesNotMatch(d.logs(), new RegExp(t), "no token in the log");
      }
    } finally {
      d.child.kill("SIGTERM");
      assert.equal(await d.exit(), 0);
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "daemon: a --token-file rotated before the first request is read at that request; the start-up token is refused",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-token-early-" });
    const file = join(dir, "token");
    const first = "first-token-0123456789abcdef";
    const second = "second-token-0123456789abcdef";
    await Deno.writeTextFile(file, first);
    const d = await startDaemonProcess([
      "--project-root",
      dir,
      "--state-dir",
      join(dir, "state"),
      "--token-file",
      file,
    ]);
    const status = async (token: string) => {
      const r = await fetch(`${d.url}/v1/jobs`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await r.body?.cancel();
      return r.status;
    };
    try {
      assert.ok(d.url, d.logs());
      await Deno.writeTextFile(`${file}.new`, `${second}\n`);
      await Deno.rename(`${file}.new`, file);
      assert.equal(await status(first), 401, "the start-up token is refused");
      assert.equal(await status(second), 200, "the rotated token works");
    } finally {
      d.child.kill("SIGTERM");
      assert.equal(await d.exit(), 0);
      await Deno.remove(dir, { recursive: true });
    }
  },
);
