import assert from "node:assert/strict";
import { join } from "node:path";
import { FloeDbtError } from "../contract/errors.ts";
import {
  checkDirInside,
  checkedDirIdentity,
  dirIdentity,
  ensureDirInside,
  openLockFile,
  readRegularText,
  removeOwned,
  streamRegularFile,
} from "./safe_fs.ts";

const isE003 = (re: RegExp) => (e: unknown) =>
  e instanceof FloeDbtError && e.code === "FLOE-DBT-E003" &&
  re.test(e.toString());

async function tmp(): Promise<
  { project: string; outside: string; [Symbol.asyncDispose](): Promise<void> }
> {
  const base = await Deno.makeTempDir({ prefix: "floe-safe-fs-" });
  const project = join(base, "project");
  const outside = join(base, "outside");
  await Deno.mkdir(project);
  await Deno.mkdir(outside);
  return {
    project,
    outside,
    async [Symbol.asyncDispose]() {
      await Deno.remove(base, { recursive: true });
    },
  };
}

Deno.test("ensureDirInside creates real directories and refuses a link on the way", async () => {
  await using t = await tmp();
  const made = await ensureDirInside(t.project, join(t.project, ".floe/a/b"));
  assert.equal((await Deno.lstat(made)).isDirectory, true);
  await Deno.symlink(t.outside, join(t.project, ".floe", "fusion"));
  await assert.rejects(
    ensureDirInside(t.project, join(t.project, ".floe/fusion/x/target")),
    isE003(/'\.floe\/fusion' is a symbolic link[\s\S]*remove the link/),
  );
  assert.deepEqual([...Deno.readDirSync(t.outside)], []);
  await assert.rejects(
    checkDirInside(t.project, join(t.project, ".floe/fusion")),
    isE003(/symbolic link/),
  );
  assert.equal(
    await checkDirInside(t.project, join(t.project, ".floe/none")),
    false,
  );
});

Deno.test("readRegularText refuses links, devices and files over the cap", async () => {
  await using t = await tmp();
  const file = join(t.project, "run_results.json");
  await Deno.writeTextFile(file, '{"ok":true}');
  assert.equal(await readRegularText(file, { root: t.project }), '{"ok":true}');
  await assert.rejects(
    readRegularText(file, { root: t.project, maxBytes: 4, what: "artifact" }),
    isE003(/artifact 'run_results\.json' is 11 bytes, over the 4-byte limit/),
  );
  const zero = join(t.project, "zero.json");
  await Deno.symlink("/dev/zero", zero);
  await assert.rejects(readRegularText(zero), isE003(/symbolic link/));
  await assert.rejects(
    readRegularText("/dev/zero"),
    isE003(/not a regular file/),
  );
  await Deno.writeTextFile(join(t.outside, "secret.json"), "{}");
  await Deno.symlink(t.outside, join(t.project, "target"));
  await assert.rejects(
    readRegularText(join(t.project, "target", "secret.json"), {
      root: t.project,
    }),
    isE003(/'target' is a symbolic link/),
  );
  await assert.rejects(
    readRegularText(join(t.project, "missing.json")),
    Deno.errors.NotFound,
  );
});

Deno.test("streamRegularFile streams the bytes of a regular file", async () => {
  await using t = await tmp();
  const file = join(t.project, "manifest.json");
  const body = JSON.stringify({ nodes: "x".repeat(200_000) });
  await Deno.writeTextFile(file, body);
  const { stream, size } = await streamRegularFile(file, { root: t.project });
  assert.equal(size, body.length);
  assert.equal(await new Response(stream).text(), body);
});

Deno.test("openLockFile neither follows nor truncates a linked lock file", async () => {
  await using t = await tmp();
  const victim = join(t.outside, "precious.txt");
  await Deno.writeTextFile(victim, "keep me");
  const lock = join(t.project, "dbt.lock");
  await Deno.symlink(victim, lock);
  await assert.rejects(openLockFile(lock, t.project), isE003(/dbt\.lock/));
  assert.equal(await Deno.readTextFile(victim), "keep me");
  await Deno.remove(lock);
  const f = await openLockFile(lock, t.project);
  await f.write(new TextEncoder().encode("held"));
  f.close();
  const again = await openLockFile(lock, t.project);
  again.close();
  assert.equal(await Deno.readTextFile(lock), "held");
});

Deno.test("removeOwned deletes only owned names, and a link rather than its target", async () => {
  await using t = await tmp();
  await Deno.writeTextFile(join(t.outside, "f"), "x");
  await Deno.symlink(t.outside, join(t.project, "123"));
  await Deno.mkdir(join(t.project, "456", "sub"), { recursive: true });
  await Deno.symlink(t.outside, join(t.project, "456", "sub", "link"));
  await Deno.mkdir(join(t.project, "notes"));
  const owned = /^[0-9]+$/;
  assert.equal(await removeOwned(t.project, "notes", owned), false);
  assert.equal(await removeOwned(t.project, "123", owned), true);
  assert.equal(await removeOwned(t.project, "456", owned), true);
  assert.deepEqual(
    [...Deno.readDirSync(t.project)].map((e) => e.name),
    ["notes"],
  );
  assert.equal(await Deno.readTextFile(join(t.outside, "f")), "x");
});

Deno.test("removeOwned removes nothing when its folder was swapped for a link after the check", async () => {
  await using t = await tmp();
  const calls = join(t.project, "calls");
  await Deno.mkdir(join(calls, "123"), { recursive: true });
  await Deno.mkdir(join(t.outside, "123"));
  await Deno.writeTextFile(join(t.outside, "123", "f"), "x");
  const owned = /^[0-9]+$/;
  const was = await dirIdentity(calls);
  // Swapped between the check and the removal.
  await Deno.rename(calls, join(t.project, "calls-old"));
  await Deno.symlink(t.outside, calls);
  assert.equal(await removeOwned(calls, "123", owned, was), false);
  assert.equal(await Deno.readTextFile(join(t.outside, "123", "f")), "x");
  // The unswapped folder is still pruned.
  const old = join(t.project, "calls-old");
  assert.equal(
    await removeOwned(old, "123", owned, await dirIdentity(old)),
    true,
  );
});

Deno.test("streamRegularFile stops with E003 when the file grows past the cap while it is read", async () => {
  await using t = await tmp();
  const path = join(t.project, "run_results.json");
  await Deno.writeTextFile(path, "x".repeat(100));
  const { stream } = await streamRegularFile(path, { maxBytes: 1000 });
  // Grows after it was opened and checked, as a file dbt still writes.
  await Deno.writeTextFile(path, "y".repeat(200_000), { append: true });
  await assert.rejects(
    () => new Response(stream).arrayBuffer(),
    isE003(/more than 1000/),
  );
});

Deno.test("checkedDirIdentity: a real folder's identity, undefined when missing, E003 for a link", async () => {
  await using t = await tmp();
  const real = join(t.project, "calls");
  await Deno.mkdir(real);
  assert.deepEqual(
    await checkedDirIdentity(t.project, real),
    await dirIdentity(real),
  );
  assert.equal(
    await checkedDirIdentity(t.project, join(t.project, "missing")),
    undefined,
  );
  await Deno.symlink(t.outside, join(t.project, "linked"));
  await assert.rejects(
    () => checkedDirIdentity(t.project, join(t.project, "linked")),
    isE003(/symbolic link/),
  );
});
