/**
 * `--skip-unchanged` and dbt unit tests, against real dbt-core and real
 * Fusion on DuckDB: the synthetic project of tests/_skip_project.ts with
 * three unit tests (two on `region_totals`, one with a CSV fixture file,
 * one on `event_counts`). An unchanged build reuses them with their last
 * result; editing only a unit test's rows (still passing, or failing) or
 * its fixture file runs it and only it while its model stays reused, and a
 * failing one fails the job; editing the model runs its unit tests, before
 * the model. Plus the keys over a manifest as Fusion writes it (no
 * checksum, the fixture named by path).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "./_path.ts";
import { makeSkipProject, plainKeys, writeModel } from "./_skip_project.ts";
import { writeFile } from "./_helpers.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { skipRuntime } from "../src/skip/runtime.ts";
import { stateRuntime } from "../src/wrappers/state.ts";
import { computeKeys, type ManifestView } from "../src/skip/keys.ts";
import { fqnSelectors } from "../src/skip/plan.ts";
import type { DbtRuntime, ProjectRef } from "../src/contract/runtime.ts";
import type { ProgressEvent, RunResult } from "../src/contract/schemas.ts";

const SUM = "unit_test.skipper.region_totals.totals_sum";
const FIX = "unit_test.skipper.region_totals.totals_fix";
const EVENTS = "unit_test.skipper.event_counts.events_count";
const UNIT = [EVENTS, FIX, SUM];
const TOTALS = "model.skipper.region_totals";
const AUDIT = "model.skipper.audit_copy";

/** The unit tests file: `totals_sum` gives `a` and `b`, expects `sum`. */
async function writeUnitTests(
  dir: string,
  a: number,
  b: number,
  sum: number,
): Promise<void> {
  await writeFile(
    dir,
    "models/unit_tests.yml",
    `unit_tests:
  - name: totals_sum
    model: region_totals
    given:
      - input: ref('customer_orders')
        rows:
          - {region: north, total_cents: ${a}}
          - {region: north, total_cents: ${b}}
    expect:
      rows:
        - {region: north, total_cents: ${sum}, customers: 2}
  - name: totals_fix
    model: region_totals
    given:
      - input: ref('customer_orders')
        format: csv
        fixture: co_rows
    expect:
      rows:
        - {region: south, total_cents: 150, customers: 2}
  - name: events_count
    model: event_counts
    given:
      - input: ref('stg_events')
        rows:
          - {kind: click}
          - {kind: click}
    expect:
      rows:
        - {kind: click, n: 2}
`,
  );
}

/** The fixture file of `totals_fix`: two south rows summing to 150. */
async function writeFixture(dir: string, a: number): Promise<void> {
  await writeFile(
    dir,
    "tests/fixtures/co_rows.csv",
    `region,total_cents\nsouth,${a}\nsouth,${150 - a}\n`,
  );
}

/** unique_id and status of each result dbt wrote, in its order. */
async function results(r: RunResult): Promise<[string, string][]> {
  if (!r.run_results_path) return [];
  const rr = JSON.parse(await Deno.readTextFile(r.run_results_path));
  return (rr.results as { unique_id: string; status: string }[]).map((
    x,
  ) => [x.unique_id, x.status]);
}

/** Each result's first start and last end (ms), from dbt's timing. */
async function timings(
  r: RunResult,
): Promise<Map<string, { start: number; end: number }>> {
  const rr = JSON.parse(await Deno.readTextFile(r.run_results_path));
  const ms = (iso: string) =>
    Date.parse(iso.replace(/(\.\d{3})\d*/, "$1").replace(/Z?$/, "Z"));
  const out = new Map<string, { start: number; end: number }>();
  for (
    const x of rr.results as {
      unique_id: string;
      timing: { started_at: string; completed_at: string }[];
    }[]
  ) {
    out.set(x.unique_id, {
      start: Math.min(...x.timing.map((t) => ms(t.started_at))),
      end: Math.max(...x.timing.map((t) => ms(t.completed_at))),
    });
  }
  return out;
}

async function ran(r: RunResult, prefix: string): Promise<string[]> {
  return (await results(r)).map(([id]) => id).filter((id) =>
    id.startsWith(prefix)
  ).sort();
}

function rebuilt(r: RunResult): Record<string, string> {
  return r.metadata.rebuilt as Record<string, string>;
}

function unitOf(ids: Iterable<string>): string[] {
  return [...ids].filter((id) => id.startsWith("unit_test.")).sort();
}

/** dbt's own count of tests (data and unit) it ran. */
async function testsRan(r: RunResult): Promise<number> {
  return (await results(r)).filter(([id]) =>
    id.startsWith("test.") || id.startsWith("unit_test.")
  ).length;
}

async function scenario(rt: DbtRuntime, dir: string): Promise<void> {
  const ref = { projectDir: dir, profilesDir: dir } as ProjectRef;
  const build = async (
    skipUnchanged: boolean,
    events: ProgressEvent[] = [],
    exclude?: string[],
  ) =>
    await rt.execute("build", ref, { skipUnchanged, exclude }, {
      onEvent: (e) => events.push(e),
    });

  // An ordinary build runs and records the unit tests.
  const first = await build(false);
  assert.ok(first.success, JSON.stringify(first.metadata.errors));
  assert.deepEqual(await ran(first, "unit_test."), UNIT);
  assert.equal(first.tests_run, await testsRan(first));
  const kept = JSON.parse(
    await Deno.readTextFile(join(dir, ".floe", "state", "dev", "skip.json")),
  );
  assert.deepEqual(unitOf(Object.keys(kept.nodes)), UNIT);

  // (a) Unchanged: reused with their last result, reported like data tests.
  const events: ProgressEvent[] = [];
  const same = await build(true, events);
  assert.ok(same.success);
  assert.deepEqual(Object.keys(rebuilt(same)), [AUDIT]);
  assert.deepEqual(await ran(same, "unit_test."), []);
  assert.deepEqual(unitOf(same.metadata.reused as string[]), UNIT);
  assert.equal(same.tests_run, await testsRan(same));
  const lines = events.flatMap((e) => e.type === "log" ? [e.message] : []);
  assert.ok(
    lines.some((l) =>
      /^REUSED unit_test region_totals\.totals_sum \(pass at /.test(l)
    ),
    lines.join("\n"),
  );

  // (b) Only the unit test's rows edited, still passing: it alone runs.
  await writeUnitTests(dir, 100, 70, 170);
  const edited = await build(true);
  assert.ok(edited.success, JSON.stringify(edited.metadata.errors));
  assert.deepEqual(
    rebuilt(edited)[SUM],
    "unit test changed",
    JSON.stringify([edited.metadata, await results(edited)]),
  );
  assert.deepEqual(unitOf(Object.keys(rebuilt(edited))), [SUM]);
  assert.deepEqual(await ran(edited, "unit_test."), [SUM]);
  assert.deepEqual(await ran(edited, "model."), [AUDIT]);
  assert.ok((edited.metadata.reused as string[]).includes(TOTALS));
  assert.deepEqual(
    unitOf(edited.metadata.reused as string[]),
    [EVENTS, FIX],
  );
  assert.equal(edited.tests_run, await testsRan(edited));
  assert.equal(edited.models_run, 1);

  // ... edited to fail: it runs, fails the job; its model is not touched.
  await writeUnitTests(dir, 100, 70, 999);
  const failing = await build(true);
  assert.equal(failing.success, false);
  // dbt-core says fail, Fusion error; both with the rows that differ.
  const failed = (await results(failing)).filter(([id]) =>
    id.startsWith("unit_test.")
  );
  assert.deepEqual(failed.map(([id]) => id), [SUM]);
  assert.ok(["fail", "error"].includes(failed[0]![1]), failed[0]![1]);
  const errors = failing.metadata.errors as {
    unique_id: string;
    message: string | null;
  }[];
  assert.deepEqual(errors.map((e) => e.unique_id), [SUM]);
  // dbt-core's message names the difference; Fusion's says "Error" and
  // prints the differing rows (the same rows pass again below).
  if (failed[0]![1] === "fail") {
    assert.match(String(errors[0]!.message), /differ|actual|expected/i);
  }
  assert.deepEqual(await ran(failing, "model."), [AUDIT]);
  assert.ok((failing.metadata.reused as string[]).includes(TOTALS));
  assert.ok(failing.failures >= 1);

  // ... put back as it last passed: it failed last time, so it runs.
  await writeUnitTests(dir, 100, 70, 170);
  const back = await build(true);
  assert.ok(back.success);
  assert.equal(rebuilt(back)[SUM], "failed last time");
  assert.deepEqual(await ran(back, "unit_test."), [SUM]);

  // ... its fixture file edited (rows the manifest may not record).
  await writeFixture(dir, 60);
  const fixture = await build(true);
  assert.ok(fixture.success, JSON.stringify(fixture.metadata.errors));
  assert.equal(rebuilt(fixture)[FIX], "unit test changed");
  assert.deepEqual(await ran(fixture, "unit_test."), [FIX]);
  assert.deepEqual(await ran(fixture, "model."), [AUDIT]);

  // ... with nothing else to build (the always-rebuilt model left out):
  // only the unit test runs, and the result is the build's.
  await writeUnitTests(dir, 90, 80, 170);
  const alone = await build(true, [], ["audit_copy"]);
  assert.ok(alone.success, JSON.stringify(alone.metadata.errors));
  assert.equal(alone.metadata.command, "build");
  assert.deepEqual(alone.metadata.unit_tests_alone, [SUM]);
  assert.deepEqual((await results(alone)).map(([id]) => id), [SUM]);
  assert.deepEqual(Object.keys(rebuilt(alone)), [SUM]);
  assert.equal(alone.models_run, 0);
  assert.equal(alone.tests_run, 1);
  assert.ok((alone.metadata.reused as string[]).includes(TOTALS));

  // (c) The model edited: it and its unit tests run, the tests first.
  await writeModel(dir, "region_totals", 1);
  const model = await build(true);
  assert.ok(model.success, JSON.stringify(model.metadata.errors));
  assert.deepEqual(await ran(model, "unit_test."), [FIX, SUM]);
  assert.equal(rebuilt(model)[TOTALS], "code changed");
  assert.equal(rebuilt(model)[SUM], `upstream rebuilt: ${TOTALS}`);
  assert.equal(rebuilt(model)[FIX], `upstream rebuilt: ${TOTALS}`);
  assert.deepEqual(unitOf(model.metadata.reused as string[]), [EVENTS]);
  // Run-results order is not run order on Fusion: dbt's timings are.
  const times = await timings(model);
  for (const t of [SUM, FIX]) {
    assert.ok(
      times.get(t)!.end <= times.get(TOTALS)!.start,
      JSON.stringify([...times]),
    );
  }
  assert.equal(model.tests_run, await testsRan(model));

  // And unchanged again: all reused.
  const again = await build(true);
  assert.deepEqual(unitOf(again.metadata.reused as string[]), UNIT);
  assert.deepEqual(await ran(again, "unit_test."), []);
}

async function withProject(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await makeSkipProject(dir);
    await writeUnitTests(dir, 100, 50, 150);
    await writeFixture(dir, 100);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name:
    "skip-unchanged unit tests: reused when unchanged, run alone when edited, run with their model (dbt-core, DuckDB)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const rt = stateRuntime(skipRuntime(new LocalRuntime()));
    try {
      await withProject("floe-skip-unit-", (dir) => scenario(rt, dir));
    } finally {
      await rt.close();
    }
  },
});

Deno.test({
  name:
    "skip-unchanged unit tests: reused when unchanged, run alone when edited, run with their model (Fusion, DuckDB)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const rt = stateRuntime(skipRuntime(new FusionRuntime()));
    try {
      await withProject("floe-skip-unit-fusion-", async (dir) => {
        await scenario(rt, dir);
      });
    } finally {
      await rt.close();
    }
  },
});

/** A unit test as Fusion's parse records it: no checksum, a fixture path. */
function fusionView(fixtureRows: unknown): ManifestView {
  return {
    adapterType: "duckdb",
    projectName: "p",
    sources: {},
    macros: {},
    nodes: {
      "model.p.m": {
        resource_type: "model",
        name: "m",
        package_name: "p",
        fqn: ["p", "m"],
        raw_code: "select 1 as x",
        checksum: { name: "sha256", checksum: "m" },
        config: { materialized: "table" },
        depends_on: { macros: [], nodes: [] },
      },
      "unit_test.p.m.t": {
        resource_type: "unit_test",
        name: "t",
        package_name: "p",
        fqn: ["p", "m", "t"],
        model: "m",
        checksum: { name: "none", checksum: "" },
        config: { enabled: true },
        given: [{
          input: "ref('x')",
          rows: fixtureRows,
          format: "csv",
          fixture: "tests/fixtures/x.csv",
        }],
        expect: { rows: [{ x: 1 }], format: "dict", fixture: null },
        depends_on: { macros: [], nodes: ["model.p.m"] },
      },
    },
  };
}

Deno.test("skip keys: a unit test without a checksum is keyed on its rows and fixture file; it is selected alone", () => {
  const key = (view: ManifestView, fixture: string, builtKey?: string) =>
    computeKeys(view, {
      vars: undefined,
      projectVars: null,
      target: "dev",
      sources: {},
      seeds: {},
      fixtures: { "tests/fixtures/x.csv": fixture },
      builtKey: (_id, current) => builtKey ?? current,
    }).get("unit_test.p.m.t")!;
  const base = key(fusionView(null), "a");
  assert.equal(key(fusionView(null), "a").key, base.key);
  assert.notEqual(key(fusionView(null), "b").parts.code, base.parts.code);
  // The model counts with its current key, whatever is in the warehouse.
  assert.equal(key(fusionView(null), "a", "old").key, base.key);
  const edited = fusionView(null);
  (edited.nodes["unit_test.p.m.t"]!.expect as { rows: unknown[] }).rows = [{
    x: 2,
  }];
  assert.notEqual(key(edited, "a").parts.code, base.parts.code);
  // An unread fixture file has no version: never the same key twice.
  const unread = (v: ManifestView) => plainKeys(v).get("unit_test.p.m.t")!.key;
  assert.notEqual(unread(fusionView(null)), unread(fusionView(null)));
  assert.deepEqual(fqnSelectors(fusionView(null), ["unit_test.p.m.t"]), [
    "unit_test:p.t,fqn:p.m.t",
  ]);
});
