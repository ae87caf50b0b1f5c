import assert from "node:assert/strict";
import { catalogOfRun, summarize } from "../src/dbt/artifacts.ts";
import { pyvenvVersion, venvVersions } from "../runtimes/local/venv_info.ts";
import { firstExisting, venvCandidates } from "../src/os/paths.ts";
import { join } from "./_path.ts";

const node = (unique_id: string, status: string) => ({ unique_id, status });

Deno.test("summarize counts as the seed does: succeeded models, executed tests, errors plus failed tests", () => {
  const s = summarize({
    elapsed_time: 2.5,
    results: [
      node("model.p.ok", "success"),
      node("model.p.broken", "error"),
      node("model.p.downstream", "skipped"),
      node("seed.p.raw", "success"),
      node("snapshot.p.snap", "error"),
      node("test.p.passes", "pass"),
      node("test.p.warns", "warn"),
      node("test.p.fails", "fail"),
      node("test.p.errors", "error"),
      node("test.p.not_run", "skipped"),
      node("unit_test.p.unit", "pass"),
    ],
  });
  assert.equal(s.modelsRun, 1);
  assert.equal(s.testsRun, 5);
  assert.equal(s.seedsRun, 1);
  assert.equal(s.snapshotsRun, 0);
  assert.equal(s.skipped, 2);
  assert.deepEqual(s.failures.map((f) => f.unique_id), [
    "model.p.broken",
    "snapshot.p.snap",
    "test.p.fails",
    "test.p.errors",
  ]);
  assert.equal(s.elapsed, 2.5);
});

Deno.test("catalogOfRun: a catalog written before the run started is not the run's", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "catalog.json");
    assert.equal(await catalogOfRun(path), null, "absent");
    await Deno.writeTextFile(path, "{}");
    const written = (await Deno.stat(path)).mtime!;
    assert.equal(await catalogOfRun(path), path, "no start time: present");
    assert.equal(
      await catalogOfRun(path, new Date(written.getTime() + 1000)),
      null,
      "stale",
    );
    assert.equal(
      await catalogOfRun(path, new Date(written.getTime() - 1000)),
      path,
      "written during the run",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("venvVersions reads dbt-core and Python from the venv on disk", async () => {
  assert.equal(pyvenvVersion("home = /x\nversion = 3.11.7\n"), "3.11.7");
  assert.equal(pyvenvVersion("version_info = 3.12.1\n"), "3.12.1");
  assert.equal(pyvenvVersion("home = /x\n"), null);

  const dir = await Deno.makeTempDir();
  try {
    const site = join(dir, "lib", "python3.12", "site-packages");
    await Deno.mkdir(join(site, "dbt_core-1.9.4.dist-info"), {
      recursive: true,
    });
    await Deno.mkdir(join(site, "dbt_duckdb-1.9.2.dist-info"));
    await Deno.mkdir(join(site, "dbt_common-1.0.0.dist-info"));
    await Deno.writeTextFile(join(dir, "pyvenv.cfg"), "version = 3.12.4\n");
    assert.deepEqual(venvVersions(join(dir, "bin", "python")), {
      dbt_version: "1.9.4",
      python_version: "3.12.4",
      packages: { "dbt-duckdb": "1.9.2" },
    });
    assert.deepEqual(venvVersions(join(dir, "nowhere", "bin", "python")), {
      dbt_version: null,
      python_version: null,
      packages: {},
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  // The real venv agrees with what its Python says.
  const python = firstExisting(venvCandidates("dbt-core", "python"));
  assert.ok(python, "the dbt-core venv (scripts/setup)");
  const out = await new Deno.Command(python, {
    args: [
      "-c",
      "import sys, importlib.metadata as m; print(m.version('dbt-core'), sys.version.split()[0])",
    ],
    stdout: "piped",
  }).output();
  const [dbt, py] = new TextDecoder().decode(out.stdout).trim().split(" ");
  const v = venvVersions(python);
  assert.equal(v.dbt_version, dbt);
  assert.equal(v.python_version, py);
});
