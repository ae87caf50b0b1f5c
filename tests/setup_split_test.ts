/**
 * Two set-ups: `scripts/setup` (what `scripts/demo` runs) installs only the
 * agent's parts and never calls apt-get; `scripts/setup --tests` (what
 * `scripts/test` runs) adds the tests' parts, Debian packages without their
 * recommends. Run for real with an `apt-get` on PATH that records any call.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ROOT } from "./_helpers.ts";
import { join } from "./_path.ts";

const read = (rel: string) => Deno.readTextFile(join(ROOT, rel));

Deno.test("setup: demo runs the agent's set-up, test the tests' one; apt-get only past the --tests gate, without recommends", async () => {
  const demo = await read("scripts/demo");
  const test = await read("scripts/test");
  const setup = await read("scripts/setup");
  assert.match(demo, /^scripts\/setup$/m);
  assert.doesNotMatch(demo, /--tests|apt-get/);
  assert.match(test, /^scripts\/setup --tests /m);
  const gate = setup.indexOf('if [ "$TESTS" = 0 ]; then');
  assert.ok(gate > 0, "the --tests gate");
  // The commands, without comments.
  const code = (text: string) =>
    text.split("\n").filter((l) => !l.trim().startsWith("#")).join("\n");
  const agentPart = code(setup.slice(0, gate));
  const testsPart = code(setup.slice(gate));
  for (const onlyTests of ["apt-get", "redocly", ".venv/client", "openapi"]) {
    assert.ok(!agentPart.includes(onlyTests), `${onlyTests} before the gate`);
    assert.ok(testsPart.includes(onlyTests), `${onlyTests} after the gate`);
  }
  const installs = [...testsPart.matchAll(/apt-get install[^\n]*/g)].map((
    m,
  ) => m[0]);
  assert.ok(installs.length > 0);
  for (const line of installs) assert.match(line, /--no-install-recommends/);
});

Deno.test("setup: scripts/setup (as scripts/demo runs it) never calls apt-get; a wrong argument is refused", async () => {
  const shims = await Deno.makeTempDir({ prefix: "floe-setup-shims-" });
  try {
    const marker = join(shims, "called");
    for (const tool of ["apt-get", "sudo"]) {
      await Deno.writeTextFile(
        join(shims, tool),
        `#!/bin/sh\necho "${tool} $*" >> "${marker}"\nexit 1\n`,
      );
      await Deno.chmod(join(shims, tool), 0o755);
    }
    const run = (args: string[]) =>
      new Deno.Command(join(ROOT, "scripts", "setup"), {
        args,
        cwd: ROOT,
        env: { PATH: `${shims}:${Deno.env.get("PATH")}` },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const out = await run([]);
    const said = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, said);
    assert.match(said, /setup: ready: deno 2\./);
    assert.equal(
      await Deno.readTextFile(marker).catch(() => ""),
      "",
      "no apt-get or sudo",
    );
    const bad = await run(["--test"]);
    assert.equal(bad.code, 2);
    assert.match(
      new TextDecoder().decode(bad.stderr),
      /unknown argument --test \(use --tests or nothing\)/,
    );
  } finally {
    await Deno.remove(shims, { recursive: true });
  }
});
