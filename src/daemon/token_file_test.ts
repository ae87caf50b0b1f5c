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

Deno.test("TokenFile: off loopback, a rotated file other users can read is not taken; a private one is", async () => {
  const dir = await Deno.makeTempDir({ prefix: "floe-tokenfile-" });
  try {
    const file = join(dir, "token");
    await rotate(file, FIRST, 0o600);
    const logs: string[] = [];
    const check = new TokenFile(file, FIRST, (_l, m) => logs.push(m), true);
    assert.equal(await check.matches(FIRST), true);
    await rotate(file, SECOND, 0o644);
    assert.equal(await check.matches(SECOND), false, "shared file refused");
    assert.equal(await check.matches(FIRST), true, "previous token kept");
    assert.match(logs.join("\n"), /readable by other users: keeping/);
    await rotate(file, SECOND, 0o600);
    assert.equal(await check.matches(SECOND), true, "private file taken");
    assert.equal(await check.matches(FIRST), false);
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
