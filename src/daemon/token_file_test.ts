import assert from "node:assert/strict";
import { join } from "node:path";
import { TokenFile } from "./token_file.ts";

const FIRST = "first-token-0123456789abcdef";
const SECOND = "second-token-0123456789abcdef";

async function rotate(file: string, text: string, mode: number) {
  await Deno.writeTextFile(`${file}.new`, text, { mode });
  await Deno.chmod(`${file}.new`, mode);
  await Deno.rename(`${file}.new`, file);
}

Deno.test("TokenFile: off loopback, a file other users can read accepts nothing (neither its token nor the revoked one) until it is private", async () => {
  const dir = await Deno.makeTempDir({ prefix: "floe-tokenfile-" });
  try {
    const file = join(dir, "token");
    await rotate(file, FIRST, 0o600);
    const logs: string[] = [];
    // Every request looks at the file (the daemon: every 5 s at most).
    const check = new TokenFile(file, FIRST, (_l, m) => logs.push(m), true, 0);
    assert.equal(await check.matches(FIRST), true);
    await rotate(file, SECOND, 0o644);
    assert.equal(await check.matches(SECOND), false, "shared file refused");
    assert.equal(await check.matches(FIRST), false, "revoked token refused");
    assert.match(logs.join("\n"), /every request is refused/);
    await rotate(file, SECOND, 0o600);
    assert.equal(await check.matches(SECOND), true, "private file taken");
    assert.equal(await check.matches(FIRST), false);
    // A chmod alone, without a new token, is noticed too.
    await Deno.chmod(file, 0o644);
    assert.equal(await check.matches(SECOND), false);
    await Deno.chmod(file, 0o600);
    assert.equal(await check.matches(SECOND), true);
    for (const line of logs) assert.doesNotMatch(line, /token-0123/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TokenFile: on loopback, a rotated file other users can read is taken with a warning", async () => {
  const dir = await Deno.makeTempDir({ prefix: "floe-tokenfile-" });
  try {
    const file = join(dir, "token");
    await rotate(file, FIRST, 0o600);
    const logs: string[] = [];
    const check = new TokenFile(file, FIRST, (_l, m) => logs.push(m), false);
    await rotate(file, SECOND, 0o644);
    assert.equal(await check.matches(SECOND), true);
    assert.match(logs.join("\n"), /anyone on this machine can call/);
    for (const line of logs) assert.doesNotMatch(line, /token-0123/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
