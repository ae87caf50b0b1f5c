/**
 * Every platform `manifest.yaml` example of the seeds loads verbatim. The
 * seeds are read at test time from `<repo>/../shared/seeds` (or
 * `$FLOE_SHARED_DIR/seeds`); a missing directory fails the test. Each
 * example is also checked in under tests/testdata/seeds/ and must still equal
 * the seed's text.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { defaultConfig, readConfig } from "../src/config.ts";
import { localPython } from "../src/config_check.ts";
import { createRuntime } from "../src/registry.ts";
import { basename, join } from "./_path.ts";
import { ROOT } from "./_helpers.ts";

const SHARED = Deno.env.get("FLOE_SHARED_DIR") || join(ROOT, "..", "shared");
const SEEDS = join(SHARED, "seeds");
const CHECKED_IN = join(ROOT, "tests", "testdata", "seeds");

/**
 * The platform manifest examples of a seed: ```yaml blocks (fence on its own
 * line) with a `plugins:` key that mention dbt_runtime.
 */
function manifestExamples(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/^```yaml\n([\s\S]*?)^```/gm)) {
    const body = m[1]!;
    if (/^\s*plugins:/m.test(body) && body.includes("dbt_runtime")) {
      found.push(body);
    }
  }
  return found;
}

/** Every example of every seed, named `<seed file stem>.<n>.yaml`. */
async function seedExamples(): Promise<Map<string, string>> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(SEEDS));
  } catch (e) {
    throw new Error(
      `The seeds are not at '${SEEDS}' (${
        (e as Error).message
      }): check out ../shared beside the repository or set FLOE_SHARED_DIR`,
    );
  }
  const examples = new Map<string, string>();
  const files = entries.filter((e) => e.isFile && e.name.endsWith(".txt"))
    .map((e) => e.name).sort();
  for (const name of files) {
    const text = await Deno.readTextFile(join(SEEDS, name));
    manifestExamples(text).forEach((body, i) =>
      examples.set(`${basename(name, ".txt")}.${i + 1}.yaml`, body)
    );
  }
  return examples;
}

async function checkedInExamples(): Promise<Map<string, string>> {
  const examples = new Map<string, string>();
  for await (const e of Deno.readDir(CHECKED_IN)) {
    examples.set(e.name, await Deno.readTextFile(join(CHECKED_IN, e.name)));
  }
  return examples;
}

Deno.test("seeds: every manifest.yaml example of the seeds loads verbatim", async () => {
  const examples = await seedExamples();
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

Deno.test("seeds: the checked-in copies equal the seeds' examples and load", async () => {
  const seeds = await seedExamples();
  const copies = await checkedInExamples();
  assert.deepEqual([...copies.keys()].sort(), [...seeds.keys()].sort());
  for (const [name, text] of copies) {
    assert.equal(text, seeds.get(name), `${name} differs from the seed`);
    readConfig(text, name);
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
  // The flattened block in the seed itself is still there, unchanged.
  const seed = await Deno.readTextFile(
    join(SEEDS, "000_8298f7f9926a0a62.txt"),
  );
  assert.ok(seed.includes("```yamlplugins: compute: duckdb"));
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
