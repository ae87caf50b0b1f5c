/**
 * The fusion runtime with the real Fusion binary: detection (E005), error
 * mapping, failing tests, concurrent calls, cancellation, lint filtering.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { FUSION_BIN_ENV } from "../runtimes/fusion/detect.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import { copyExample, ROOT, writeFile } from "./_helpers.ts";

const CORE_DBT = join(ROOT, ".venv", "dbt-core", "bin", "dbt");
const isCode = (code: string, re?: RegExp) => (e: unknown) =>
  e instanceof FloeDbtError && e.code === code && (!re || re.test(e.message));

const fusionCopy = () => copyExample("floe-fusion-rt-");

Deno.test("fusion E005: binary_path to a missing file names the places and setup", async () => {
  await using copy = await fusionCopy();
  const rt = new FusionRuntime({ binary_path: "/nonexistent/fusion/dbt" });
  await assert.rejects(
    () => rt.compileProject({ projectDir: copy.dir, profilesDir: copy.dir }),
    (e: unknown) =>
      isCode("FLOE-DBT-E005", /\/nonexistent\/fusion\/dbt: no such file/)(e) &&
      /scripts\/setup/.test((e as FloeDbtError).hint ?? ""),
  );
  const a = await rt.availability();
  assert.equal(a.available, false);
  assert.match(a.reason, /binary_path/);
  assert.equal(rt.supportsSqlLinting(), false);
  assert.equal(rt.getRuntimeMetadata().binary_path, null);
});

Deno.test("fusion E005: a dbt-core 1.x binary is refused as dbt-core", async () => {
  await using copy = await fusionCopy();
  const rt = new FusionRuntime({ binary_path: CORE_DBT });
  await assert.rejects(
    () => rt.runModels({ projectDir: copy.dir, profilesDir: copy.dir }),
    isCode(
      "FLOE-DBT-E005",
      /is dbt-core 1\.11\.\d+ \(dbt 1\.x\), not dbt Fusion/,
    ),
  );
});

Deno.test("fusion E005: min_version above the installed Fusion", async () => {
  const rt = new FusionRuntime({ min_version: "99.0.0" });
  const a = await rt.availability();
  assert.equal(a.available, false);
  assert.match(a.reason, /older than min_version 99\.0\.0/);
});

Deno.test("fusion detection: FLOE_DBT_FUSION_BIN wins over the venv", async () => {
  Deno.env.set(FUSION_BIN_ENV, "/nonexistent/env/dbt");
  try {
    const a = await new FusionRuntime().availability();
    assert.equal(a.available, false);
    assert.match(a.reason, /FLOE_DBT_FUSION_BIN = \/nonexistent\/env\/dbt/);
  } finally {
    Deno.env.delete(FUSION_BIN_ENV);
  }
  const ok = await new FusionRuntime().availability();
  assert.equal(ok.available, true, ok.reason);
  assert.match(
    ok.reason,
    /dbt Fusion 2\.\d+\.\d+.* at .*\.venv\/fusion\/bin\/dbt/,
  );
});

Deno.test({
  name: "fusion: concurrent calls on one project use separate target dirs",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using copy = await fusionCopy();
    const rt = new FusionRuntime();
    const ref = { projectDir: copy.dir, profilesDir: copy.dir };
    const paths = await Promise.all(
      [1, 2, 3, 4].map(() => rt.compileProject(ref)),
    );
    assert.equal(new Set(paths.map((p) => dirname(p))).size, 4);
    for (const p of paths) {
      assert.ok(existsSync(p), p);
      assert.ok(p.startsWith(join(copy.dir, ".floe", "fusion")), p);
    }
    assert.equal(existsSync(join(copy.dir, "target")), false);
    const latest = JSON.parse(
      await Deno.readTextFile(join(copy.dir, ".floe/fusion/latest.json")),
    );
    assert.ok(paths.includes(join(latest.target, "manifest.json")));
    const manifest = await rt.getManifest(ref);
    assert.ok(
      (manifest.nodes as Record<string, unknown>)["model.jaffle_duck.orders"],
    );
    assert.equal(rt.supportsParallelExecution(), true);
  },
});

Deno.test("fusion E001: a ref to a missing model (DependencyNotFound)", async () => {
  await using copy = await fusionCopy();
  await writeFile(
    copy.dir,
    "models/bad.sql",
    "select * from {{ ref('missing') }}\n",
  );
  const rt = new FusionRuntime();
  await assert.rejects(
    () => rt.compileProject({ projectDir: copy.dir, profilesDir: copy.dir }),
    isCode("FLOE-DBT-E001", /DependencyNotFound \(dbt1048\).*'missing'/),
  );
});

Deno.test("fusion E001: source-level meta (dbt < 1.10 form) is rejected (dbt1060)", async () => {
  await using copy = await copyExample("floe-fusion-meta-");
  // The dbt < 1.10 place of a source's meta: directly on the source.
  await writeFile(
    copy.dir,
    "models/staging/_sources.yml",
    "version: 2\nsources:\n  - name: jaffle\n    meta:\n      external_location: \"read_csv_auto('data/{name}.csv', header = true)\"\n    tables:\n      - name: raw_customers\n      - name: raw_orders\n",
  );
  const rt = new FusionRuntime();
  await assert.rejects(
    () => rt.compileProject({ projectDir: copy.dir, profilesDir: copy.dir }),
    isCode("FLOE-DBT-E001", /UnusedConfigKey \(dbt1060\).*meta/s),
  );
});

Deno.test("fusion: a failing data test is a failed result, not a throw", async () => {
  await using copy = await fusionCopy();
  await writeFile(copy.dir, "tests/always_fails.sql", "select 1 as broken\n");
  const rt = new FusionRuntime();
  const r = await rt.execute("build", {
    projectDir: copy.dir,
    profilesDir: copy.dir,
  });
  assert.equal(r.success, false);
  assert.equal(r.failures, 1);
  assert.equal(r.metadata.exit_code, 1);
  const errors = r.metadata.errors as { unique_id: string; status: string }[];
  assert.deepEqual(errors.map((e) => [e.unique_id, e.status]), [
    ["test.jaffle_duck.always_fails", "fail"],
  ]);
  assert.match(String(r.metadata.fusion_version), /^2\./);
});

Deno.test("fusion E002: a database error on a model run is reported per node", async () => {
  await using copy = await fusionCopy();
  await writeFile(
    copy.dir,
    "models/bad.sql",
    "select nope from {{ ref('stg_orders') }}\n",
  );
  const rt = new FusionRuntime();
  const ref = { projectDir: copy.dir, profilesDir: copy.dir };
  await rt.execute("seed", ref);
  await rt.runModels(ref, { select: ["stg_orders"] });
  const r = await rt.runModels(ref, { select: ["bad"] });
  assert.equal(r.success, false);
  assert.equal(r.metadata.error_code, "FLOE-DBT-E002");
  assert.match(
    JSON.stringify(r.metadata.errors),
    /Referenced column \\"nope\\" not found/,
  );
});

Deno.test({
  name: "fusion: cancelling a build stops Fusion with E008",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using copy = await fusionCopy();
    const rt = new FusionRuntime();
    const ac = new AbortController();
    await assert.rejects(
      () =>
        rt.execute(
          "build",
          { projectDir: copy.dir, profilesDir: copy.dir },
          {},
          {
            signal: ac.signal,
            onEvent: (e) => {
              if (e.type === "node_started") ac.abort();
            },
          },
        ),
      isCode("FLOE-DBT-E008"),
    );
  },
});

Deno.test("fusion lint: only model files are reported, target/ and logs/ SQL ignored", async () => {
  await using copy = await fusionCopy();
  await writeFile(
    copy.dir,
    ".sqlfluff",
    "[sqlfluff]\ntemplater = dbt\ndialect = duckdb\n",
  );
  await writeFile(copy.dir, "models/mixed.sql", "SELECT 1 as a, 2 AS b\n");
  for (const junk of ["target/junk.sql", "logs/junk.sql"]) {
    await writeFile(copy.dir, junk, "SELECT 1 as a, 2 AS b\n");
  }
  const rt = new FusionRuntime();
  // Answered from the detection cache, which availability() fills.
  assert.equal((await rt.availability()).available, true);
  assert.equal(rt.supportsSqlLinting(), true);
  const r = await rt.lintProject({
    projectDir: copy.dir,
    profilesDir: copy.dir,
  });
  assert.ok(
    r.issues.some((i) =>
      i.file_path === "models/mixed.sql" && i.rule_code === "CP01"
    ),
    JSON.stringify(r.issues),
  );
  for (const i of r.issues) assert.match(i.file_path, /^models\//);
  const only = await rt.lintProject(
    { projectDir: copy.dir, profilesDir: copy.dir },
    { select: ["models/staging"] },
  );
  for (const i of only.issues) assert.match(i.file_path, /^models\/staging\//);
});
