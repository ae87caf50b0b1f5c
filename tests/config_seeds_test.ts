/**
 * Every platform `manifest.yaml` example of the product seeds loads verbatim.
 * The examples are checked in under tests/testdata/seeds/ (copied verbatim
 * from the seeds, which live outside the repository);
 * tests/testdata/README.md says where each came from and records its
 * SHA-256, which must still match.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { parse } from "yaml";
import { defaultConfig, readConfig } from "../src/config/config.ts";
import { localPython } from "../src/config/config_check.ts";
import { createRuntime } from "../src/registry.ts";
import { join } from "./_path.ts";
import { ROOT } from "./_helpers.ts";

const TESTDATA = join(ROOT, "tests", "testdata");
const CHECKED_IN = join(TESTDATA, "seeds");

/** The README's table: file name -> the first 16 hex digits of its SHA-256. */
async function recordedHashes(): Promise<Map<string, string>> {
  const text = await Deno.readTextFile(join(TESTDATA, "README.md"));
  const rows = new Map<string, string>();
  for (
    const m of text.matchAll(
      /^\| `([^`]+\.yaml)` \|.*\| ([0-9a-f]{16}) +\|$/gm,
    )
  ) rows.set(m[1]!, m[2]!);
  return rows;
}

async function checkedInExamples(): Promise<Map<string, string>> {
  const examples = new Map<string, string>();
  for await (const e of Deno.readDir(CHECKED_IN)) {
    examples.set(e.name, await Deno.readTextFile(join(CHECKED_IN, e.name)));
  }
  return examples;
}

Deno.test("seeds: every manifest.yaml example of the seeds loads verbatim", async () => {
  const examples = await checkedInExamples();
  // The seeds hold four platform manifest examples (ADR-0043 and REQ-088,
  // REQ-091 and the migration guide of the requirements).
  assert.equal(examples.size, 4, [...examples.keys()].join(", "));
  for (const [name, text] of examples) {
    const loaded = readConfig(text, name);
    assert.ok(
      ["local", "cloud"].includes(loaded.config.plugins.dbt_runtime),
      name,
    );
  }
});

Deno.test("seeds: the checked-in copies are the seeds' text: each is listed in tests/testdata/README.md with the SHA-256 it had when copied", async () => {
  const copies = await checkedInExamples();
  const recorded = await recordedHashes();
  assert.deepEqual([...copies.keys()].sort(), [...recorded.keys()].sort());
  for (const [name, text] of copies) {
    const sha = createHash("sha256").update(text).digest("hex").slice(0, 16);
    assert.equal(sha, recorded.get(name), `${name} differs from the seed`);
  }
});

Deno.test("seeds: REQ-091's example keeps its values and warns about rust_bindings_path", async () => {
  const text = await Deno.readTextFile(
    join(CHECKED_IN, "003_0595450a4ba44d47.2.yaml"),
  );
  const { config, warnings } = readConfig(text, "req-091.yaml");
  const section = config.plugins.dbt_runtime_config;
  assert.equal(config.plugins.dbt_runtime, "local");
  assert.equal(section.local?.dbt_version, "1.8.0");
  assert.equal(section.local?.python_version, "3.11");
  assert.equal(section.cloud?.job_ids.test, "67892");
  assert.equal(section.cloud?.base_url, "https://cloud.getdbt.com/api/v2");
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0]!,
    /^req-091\.yaml:\d+: key 'plugins\.dbt_runtime_config\.fusion\.rust_bindings_path' no longer means anything/,
  );
  assert.match(
    warnings[0]!,
    /plugins\.dbt_runtime_config\.fusion\.binary_path/,
  );
});

Deno.test("seeds: the cloud examples without base_url load; the runtime asks for it", async () => {
  const text = await Deno.readTextFile(
    join(CHECKED_IN, "003_0595450a4ba44d47.1.yaml"),
  );
  const { config } = readConfig(text, "req-088.yaml");
  assert.equal(config.plugins.dbt_runtime, "cloud");
  assert.equal(config.plugins.dbt_runtime_config.cloud?.base_url, undefined);
  assert.throws(() => createRuntime("cloud", config), (e: Error) => {
    assert.match(e.message, /cloud\.base_url in 'req-088\.yaml'/);
    return true;
  });
});

Deno.test("seeds: seed 000's plugin selection (line breaks restored) loads; other plugins' keys are left alone", async () => {
  const text = await Deno.readTextFile(
    join(ROOT, "tests", "testdata", "seed_000_plugin_selection.yaml"),
  );
  const { config, warnings } = readConfig(text, "seed-000.yaml");
  assert.equal(config.plugins.dbt_runtime, "local");
  assert.deepEqual(warnings, []);
});

/** Validate documents against docs/manifest.schema.json with Python's jsonschema. */
async function jsonSchemaErrors(docs: unknown[]): Promise<string[][]> {
  const python = localPython(defaultConfig());
  assert.ok(python, "the dbt-core venv (it ships jsonschema)");
  const script = `
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
docs = json.load(sys.stdin)
print(json.dumps([[e.message for e in v.iter_errors(d)] for d in docs]))
`;
  const child = new Deno.Command(python, {
    args: ["-c", script, join(ROOT, "docs", "manifest.schema.json")],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(docs)));
  await w.close();
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("seeds: the JSON Schema (as an editor would use it) accepts every example and catches a typo", async () => {
  const examples = [...(await checkedInExamples()).values()].map((t) =>
    parse(t)
  );
  const typo = parse(
    "plugins:\n  dbt_runtime: local\n  dbt_runtime_config:\n    local:\n      lock_timeout_secs: 5\n",
  );
  const wrongRuntime = parse("plugins:\n  dbt_runtime: spark\n");
  const errors = await jsonSchemaErrors([...examples, typo, wrongRuntime]);
  assert.deepEqual(errors.slice(0, examples.length), examples.map(() => []));
  assert.match(errors[examples.length]!.join(" "), /lock_timeout_secs/);
  assert.match(errors[examples.length + 1]!.join(" "), /spark/);
});
