/**
 * Docs do not rot: every ```sh block of the docs starting with
 * `# run-by-test` runs (bash, in a fresh mirror of the repo with its own copy
 * of the example project) and must exit 0 and print each `# => TEXT` line;
 * YAML blocks parse (and `plugins:` ones validate as manifest.yaml); Python
 * blocks compile. Any other sh block is an error, except the README's
 * quick-start (scripts/demo, scripts/test) and its walkthrough (docs_test.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { parseConfig } from "../src/config/config.ts";
import { copyExample, ROOT } from "./_helpers.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const DOCS = [
  "README.md",
  "docs/runtime-selection.md",
  "docs/migration.md",
  "docs/troubleshooting.md",
  "docs/security.md",
  "runtimes/local/README.md",
  "runtimes/fusion/README.md",
  "runtimes/cloud/README.md",
];

interface Block {
  file: string;
  lang: string;
  body: string;
  index: number;
}

async function blocks(): Promise<Block[]> {
  const out: Block[] = [];
  for (const file of DOCS) {
    const text = await Deno.readTextFile(join(ROOT, file));
    let index = 0;
    for (const m of text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
      out.push({ file, lang: m[1]!, body: m[2]!, index: index++ });
    }
  }
  return out;
}

const SHELL = new Set(["sh", "bash", "shell", "console"]);

Deno.test("docs: every shell block is run by a test", async () => {
  const all = await blocks();
  assert.ok(all.length > 20);
  for (const b of all.filter((b) => SHELL.has(b.lang))) {
    const first = b.body.split("\n")[0]!;
    const quickStart = b.file === "README.md" && b.index === 0 &&
      b.body.startsWith("scripts/demo");
    assert.ok(
      quickStart || first === "# run-by-test" ||
        first.startsWith("# walkthrough"),
      `${b.file} block ${b.index} is neither run-by-test nor the walkthrough`,
    );
  }
  // The quick-start commands exist and are executable.
  for (const s of ["scripts/demo", "scripts/test"]) {
    assert.ok(((await Deno.stat(join(ROOT, s))).mode! & 0o111) !== 0, s);
  }
});

Deno.test("docs: YAML blocks parse; manifest.yaml blocks validate", async () => {
  let configs = 0;
  for (const b of (await blocks()).filter((b) => b.lang === "yaml")) {
    for (
      const d of parseAllDocuments(b.body) as
        & ReturnType<
          typeof parseAllDocuments
        >
        & unknown[]
    ) {
      assert.deepEqual(d.errors, [], `${b.file} block ${b.index}`);
    }
    if (/^plugins:/m.test(b.body)) {
      parseConfig(b.body, `${b.file} block ${b.index}`);
      configs++;
    }
  }
  assert.ok(configs >= 2, "the config references were validated");
});

Deno.test("docs: Python blocks compile", async () => {
  const py = (await blocks()).filter((b) => b.lang === "python");
  assert.ok(py.length >= 4);
  const dir = await Deno.makeTempDir({ prefix: "floe-docs-py-" });
  try {
    for (const b of py) {
      const file = join(dir, `block_${py.indexOf(b)}.py`);
      await Deno.writeTextFile(file, b.body);
      const out = await new Deno.Command("python3", {
        args: ["-m", "py_compile", file],
        stderr: "piped",
      }).output();
      assert.equal(
        out.code,
        0,
        `${b.file} block ${b.index}: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A directory that looks like the repo (links) with its own example copy. */
async function mirror(): Promise<{ dir: string; done(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "floe-docs-run-" });
  for (
    const f of [
      ".tools",
      ".venv",
      "main.ts",
      "deno.json",
      "deno.lock",
      "src",
      "runtimes",
    ]
  ) {
    await Deno.symlink(join(ROOT, f), join(dir, f));
  }
  const example = await copyExample("floe-docs-example-");
  await Deno.mkdir(join(dir, "examples"));
  await Deno.rename(example.dir, join(dir, "examples", "jaffle_duck"));
  return {
    dir,
    done: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

for (
  const b of (await blocks()).filter((b) =>
    SHELL.has(b.lang) && b.body.startsWith("# run-by-test")
  )
) {
  Deno.test(
    `docs: ${b.file} block ${b.index} runs as written`,
    opts,
    async () => {
      const m = await mirror();
      try {
        const port = 20000 + Math.floor(Math.random() * 20000);
        const script = b.body.replaceAll("8686", String(port));
        const out = await new Deno.Command("bash", {
          args: [
            "-c",
            `set -e -m -o pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n${script}`,
          ],
          cwd: m.dir,
          stdin: "null",
          env: {
            NO_COLOR: "1",
            DENO_NO_UPDATE_CHECK: "1",
            FLOE_DBT_PORT: String(port),
            FLOE_DBT_URL: `http://127.0.0.1:${port}`,
            FLOE_SECRETS_DIR: join(m.dir, "secrets"),
          },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stdout) +
          new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, text);
        const expected = [...b.body.matchAll(/^# => (.+)$/gm)].map((x) =>
          x[1]!
        );
        assert.ok(expected.length > 0, "the block says what it prints");
        for (const e of expected) {
          assert.ok(text.includes(e), `prints '${e}':\n${text}`);
        }
      } finally {
        await m.done();
      }
    },
  );
}
