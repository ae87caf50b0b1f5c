import assert from "node:assert/strict";
import { RunResultSchema } from "../src/contract/schemas.ts";
import { copyExample, ROOT, runAgent, writeFile } from "./_helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "cli: build --json prints exactly one run result; progress goes to stderr",
  opts,
  async () => {
    await using copy = await copyExample();
    const r = await runAgent(["build", "--project-dir", copy.dir, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 1);
    const result = RunResultSchema.parse(JSON.parse(lines[0]!));
    assert.equal(result.models_run, 5);
    assert.equal(result.tests_run, 14);
    assert.match(r.stderr, /OK\s+model customers/);
    assert.match(
      r.stderr,
      /Completed: build via local: 5 models, 14 tests, 1 seed; 0 failures/,
    );
  },
);

Deno.test(
  "cli: a failing model exits 1 with E002 and dbt's message; DBT_PROJECT_DIR works",
  opts,
  async () => {
    await using copy = await copyExample();
    await writeFile(
      copy.dir,
      "models/oops.sql",
      "select * from missing_table_xyz\n",
    );
    const r = await runAgent(["run", "-s", "oops stg_orders"], {
      env: { DBT_PROJECT_DIR: copy.dir, DBT_PROFILES_DIR: copy.dir },
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /FLOE-DBT-E002 model\.jaffle_duck\.oops error: [\s\S]*missing_table_xyz/,
    );
    assert.match(r.stderr, /1 model, 0 tests; 1 failure/);
    assert.doesNotMatch(
      r.stderr,
      /^error: /m,
      "node errors are not repeated as log lines",
    );
  },
);

Deno.test(
  "cli: compile prints the manifest path; --log-format json streams events",
  opts,
  async () => {
    await using copy = await copyExample();
    const r = await runAgent([
      "compile",
      "--project-dir",
      copy.dir,
      "--log-format",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `${copy.dir}/target/manifest.json`);
    const events = r.stderr.trim().split("\n").filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l));
    assert.equal(events[0].type, "job_started");
    assert.ok(events.some((e) =>
      e.type === "node_finished" &&
      e.unique_id === "model.jaffle_duck.customers"
    ));
    const manifest = await runAgent([
      "manifest",
      "--project-dir",
      copy.dir,
      "--json",
    ]);
    assert.equal(manifest.code, 0);
    assert.ok(JSON.parse(manifest.stdout).nodes["model.jaffle_duck.orders"]);
  },
);

Deno.test(
  "cli: configuration and usage errors exit 2 with the code and a hint, no stack trace",
  opts,
  async () => {
    const missing = await runAgent([
      "run",
      "--project-dir",
      "/nonexistent/proj",
      "--profiles-dir",
      "/tmp",
    ]);
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /FLOE-DBT-E003 Project directory '\/nonexistent\/proj' does not exist/,
    );
    assert.match(missing.stderr, /hint: pass --project-dir/);
    assert.doesNotMatch(missing.stderr, /at .*\.ts:\d+/);

    const bad = await runAgent(["frobnicate"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /FLOE-DBT-E010 Unknown command 'frobnicate'/);

    const flag = await runAgent(["run", "--no-such-flag"]);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /FLOE-DBT-E010/);

    const rt = await runAgent(["run", "--runtime", "spark"]);
    assert.equal(rt.code, 2);
    assert.match(rt.stderr, /Unknown runtime 'spark'/);
  },
);

Deno.test(
  "cli: config validate reports file:line:col and key; a good file passes",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(
        `${dir}/bad.yaml`,
        "plugins:\n  dbt_runtime: cloud\n",
      );
      const bad = await runAgent(["config", "validate", `${dir}/bad.yaml`]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /bad\.yaml:2:16: key 'plugins\.dbt_runtime'/);
      await Deno.writeTextFile(
        `${dir}/good.yaml`,
        "plugins:\n  dbt_runtime: local\n",
      );
      const good = await runAgent(["config", "validate", `${dir}/good.yaml`]);
      assert.equal(good.code, 0);
      assert.match(good.stdout, /valid \(dbt_runtime: local\)/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "cli: runtimes lists local, fusion and cloud with availability and reasons",
  opts,
  async () => {
    const r = await runAgent(["runtimes", "--json"], { cwd: ROOT });
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as {
      name: string;
      available: boolean;
      reason: string;
    }[];
    assert.deepEqual(rows.map((x) => x.name), ["local", "fusion", "cloud"]);
    const local = rows.find((x) => x.name === "local")!;
    assert.equal(local.available, true);
    assert.match(local.reason, /dbt-core 1\.\d+/);
    const cloud = rows.find((x) => x.name === "cloud")!;
    assert.equal(cloud.available, false);
    assert.ok(cloud.reason.length > 0);
  },
);

Deno.test("cli: --help for every command, --version", opts, async () => {
  for (
    const cmd of [
      "compile",
      "run",
      "test",
      "seed",
      "build",
      "lint",
      "manifest",
      "run-results",
      "runtimes",
      "config",
    ]
  ) {
    const r = await runAgent([cmd, "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`Usage: floe-dbt ${cmd}`));
  }
  const v = await runAgent(["--version"]);
  assert.match(v.stdout, /^floe-dbt \d+\.\d+\.\d+/);
});
