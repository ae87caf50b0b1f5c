/**
 * The `--skip-unchanged` scenario on dbt Labs' jaffle-shop (assembled by
 * scripts/jaffle_project.ts from checkouts of the public repositories) on
 * DuckDB, its data loaded the way the project loads it (`dbt seed --vars
 * {load_source_data: true}` into `raw`, read back through
 * `source('ecom', ...)`). After an ordinary build, an unchanged
 * `--skip-unchanged` build reuses every model but the time spine (it reads
 * the clock: it ends today) and leaves the warehouse as it was; after new
 * rows in `raw_orders` it rebuilds exactly the models dbt's graph puts
 * downstream of that source (and the time spine), runs the unit tests of
 * those and only those, and the warehouse then equals a full build's on a
 * copy. On dbt-core, or on Fusion (with the two YAML migrations Fusion
 * demands of this project). Each step's checks and figures go to `onStep`
 * as they are known; nothing is printed here.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  copyProject,
  downstream,
  duckdb,
  executedNodes,
  rebuiltNodes,
  warehouseContents,
} from "../tests/_skip_project.ts";
import {
  appendOrdersSql,
  generateOrders,
  jaffleRefs,
  makeJaffleProject,
  migrateForFusion,
} from "./jaffle_project.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { skipRuntime } from "../src/skip/runtime.ts";
import { stateRuntime } from "../src/wrappers/state.ts";
import type {
  DbtRuntime,
  ProjectRef,
  Selection,
} from "../src/contract/runtime.ts";
import type { RunResult } from "../src/contract/schemas.ts";

const RAW_ORDERS = "source.jaffle_shop.ecom.raw_orders";
/** Ends at dbt_date.today(): reads the clock, so never reused. */
const SPINE = "model.jaffle_shop.metricflow_time_spine";
const CLOCK = "reads the clock: macro.dbt.current_timestamp";

/** One assertion of a step: what it says, and whether it held. */
export interface Check {
  what: string;
  ok: boolean;
  /** Why it failed (the assertion's message), or null. */
  detail: string | null;
}

/** One step of the scenario: its checks and what was measured. */
export interface StepReport {
  runtime: string;
  step: string;
  /** Wall time of the step's dbt call through the agent, or null. */
  seconds: number | null;
  figures: Record<string, string | number>;
  checks: Check[];
}

/** The runtimes the scenario runs on. */
export type JaffleRuntime = "local" | "fusion";

/** A step's recorder: checks run one by one, a failure does not stop it. */
class Step {
  readonly report: StepReport;

  constructor(runtime: string, step: string) {
    this.report = { runtime, step, seconds: null, figures: {}, checks: [] };
  }

  /** Run one assertion, recording whether it held. */
  async check(what: string, fn: () => void | Promise<void>): Promise<boolean> {
    try {
      await fn();
      this.report.checks.push({ what, ok: true, detail: null });
      return true;
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      this.report.checks.push({ what, ok: false, detail });
      return false;
    }
  }

  /** A check the rest of the scenario depends on: stop when it fails. */
  async require(what: string, fn: () => void | Promise<void>): Promise<void> {
    if (!(await this.check(what, fn))) throw new Stop();
  }
}

/** Ends the scenario after a failed required check (already recorded). */
class Stop extends Error {}

/** The model ids of a manifest (kept at target/manifest.json for the graph). */
async function models(dir: string, r: RunResult): Promise<string[]> {
  const at = join(dir, "target", "manifest.json");
  if (r.manifest_path !== at) {
    await Deno.mkdir(join(dir, "target"), { recursive: true });
    await Deno.copyFile(r.manifest_path, at);
  }
  const m = JSON.parse(await Deno.readTextFile(at));
  return Object.keys(m.nodes).filter((id) => id.startsWith("model.")).sort();
}

/** The unit tests dbt's manifest attaches to any of `ids`. */
async function unitTestsOf(dir: string, ids: string[]): Promise<string[]> {
  const m = JSON.parse(
    await Deno.readTextFile(join(dir, "target", "manifest.json")),
  );
  return Object.entries(
    m.unit_tests as Record<string, { depends_on: { nodes: string[] } }>,
  ).filter(([, u]) => u.depends_on.nodes.some((n) => ids.includes(n)))
    .map(([id]) => id).sort();
}

function onlyModels(ids: Iterable<string>): string[] {
  return [...ids].filter((id) => id.startsWith("model.")).sort();
}

function onlyTests(ids: Iterable<string>): string[] {
  return [...ids].filter((id) => /^(test|unit_test)\./.test(id));
}

/** A dbt call through the agent, timed into the step; it must succeed. */
async function timed(
  s: Step,
  rt: DbtRuntime,
  command: "seed" | "build",
  ref: ProjectRef,
  selection: Selection = {},
): Promise<RunResult> {
  const t0 = performance.now();
  const r = await rt.execute(command, ref, selection);
  s.report.seconds = (performance.now() - t0) / 1000;
  await s.require(`dbt ${command} succeeded`, () => {
    assert.ok(r.success, JSON.stringify(r.metadata.errors));
  });
  return r;
}

/** Figures of a `--skip-unchanged` result. */
function skipFigures(r: RunResult): Record<string, string | number> {
  const rebuilt = Object.keys(r.metadata.rebuilt as Record<string, string>);
  const reused = (r.metadata.reused ?? []) as string[];
  const info = (r.metadata.skip_unchanged ?? {}) as {
    plan_seconds?: number;
    fingerprint_ms?: number;
  };
  return {
    "rebuilt models": onlyModels(rebuilt).length,
    "rebuilt tests": onlyTests(rebuilt).length,
    "reused models": onlyModels(reused).length,
    "reused tests": onlyTests(reused).length,
    models_run: r.models_run,
    "plan s": Number((info.plan_seconds ?? 0).toFixed(3)),
    "fingerprint ms": Math.round(info.fingerprint_ms ?? 0),
  };
}

function stackFor(runtime: JaffleRuntime): DbtRuntime {
  const base = runtime === "fusion" ? new FusionRuntime() : new LocalRuntime();
  return stateRuntime(skipRuntime(base));
}

/**
 * Run the scenario on one runtime over the checkouts in `sources`, in
 * temporary folders it removes. Every step goes to `onStep`.
 */
export async function jaffleScenario(
  sources: string,
  runtime: JaffleRuntime,
  onStep: (s: StepReport) => void,
): Promise<void> {
  const fusion = runtime === "fusion";
  const dir = await Deno.makeTempDir({ prefix: "floe-check-jaffle-" });
  const full = await Deno.makeTempDir({ prefix: "floe-check-jaffle-full-" });
  const rt = stackFor(runtime);
  let s = new Step(runtime, "assemble");
  const step = (name: string) => {
    onStep(s.report);
    s = new Step(runtime, name);
  };
  try {
    const placed = await makeJaffleProject(sources, dir);
    s.report.figures.packages = placed.map((p) => p.name).join(", ");
    s.report.figures.orders = 1500;
    if (fusion) {
      const moved = await migrateForFusion(dir);
      s.report.figures["fusion migrations"] =
        `${moved.tests} test entries, ${moved.sources} loaded_at_field`;
      await s.check("Fusion migrations: 8 test entries, 2 sources", () => {
        assert.deepEqual(moved, { tests: 8, sources: 2 });
      });
    }
    const ref = { projectDir: dir, profilesDir: dir };

    // The project's own way of loading its data: seeds into `raw`.
    step("seed (load_source_data) into raw");
    await timed(s, rt, "seed", ref, { vars: { load_source_data: true } });
    await s.require(
      "raw.raw_orders holds the 1500 generated orders",
      async () => {
        assert.equal(
          await duckdb(dir, "select count(*) from raw.raw_orders"),
          "[[1500]]",
        );
      },
    );

    step("full build");
    const first = await timed(s, rt, "build", ref);
    const all = await models(dir, first);
    s.report.figures.models = all.length;
    s.report.figures.models_run = first.models_run;
    if (fusion) {
      await s.check("Fusion ran it", () => {
        assert.equal(first.metadata.executed_by, "fusion");
      });
    }
    await s.check("the time spine is a model", () => {
      assert.ok(all.includes(SPINE));
    });
    await s.check("at least 13 models", () => {
      assert.ok(all.length >= 13, `only ${all.length} models`);
    });

    // Unchanged: every model (and every test) reused but the time spine.
    step("unchanged: --skip-unchanged build");
    const before = await warehouseContents(dir);
    const same = await timed(s, rt, "build", ref, { skipUnchanged: true });
    Object.assign(s.report.figures, skipFigures(same));
    await s.check(
      "rebuilt: the time spine alone, as it reads the clock",
      () => {
        assert.deepEqual(same.metadata.rebuilt, { [SPINE]: CLOCK });
      },
    );
    await s.check("every other model reused", () => {
      assert.deepEqual(
        onlyModels(same.metadata.reused as string[]),
        all.filter((id) => id !== SPINE),
      );
    });
    await s.check("tests reused", () => {
      assert.ok(
        (same.metadata.reused as string[]).some((id) => id.startsWith("test.")),
      );
    });
    await s.check("dbt ran the time spine and no other model", async () => {
      assert.deepEqual(onlyModels(await executedNodes(same)), [SPINE]);
    });
    await s.check("models_run is 1", () => {
      assert.equal(same.models_run, 1);
    });
    await s.check("raw_orders' data version is the content fingerprint", () => {
      const versions = (same.metadata.skip_unchanged as {
        data_versions: Record<string, { method: string }>;
      }).data_versions;
      // loaded_at_field set on raw_orders, but no freshness threshold.
      assert.equal(versions[RAW_ORDERS]?.method, "fingerprint");
    });
    await s.check("the warehouse is as it was", async () => {
      assert.equal(await warehouseContents(dir), before);
    });

    // New orders (newer ordered_at than any loaded) in raw_orders only.
    step("5 new raw_orders rows: --skip-unchanged build");
    const fresh = generateOrders(
      await jaffleRefs(dir),
      20200101,
      5,
      new Date("2020-01-01T00:00:00Z"),
      30,
    );
    await duckdb(dir, appendOrdersSql(fresh));
    await copyProject(dir, full);
    const descendants = downstream(dir, [RAW_ORDERS]);
    await s.require("dbt's graph: stg_orders downstream, the spine not", () => {
      assert.ok(descendants.includes("model.jaffle_shop.stg_orders"));
      assert.ok(!descendants.includes(SPINE));
    });
    const want = [...descendants, SPINE].sort();
    s.report.figures["models downstream of raw_orders"] = descendants.length;
    const r = await timed(s, rt, "build", ref, { skipUnchanged: true });
    Object.assign(s.report.figures, skipFigures(r));
    if (fusion) {
      await s.check("Fusion ran it", () => {
        assert.equal(r.metadata.executed_by, "fusion");
      });
    }
    const rebuilt = r.metadata.rebuilt as Record<string, string>;
    await s.check(
      "rebuilt: exactly raw_orders' descendants and the spine",
      () => {
        assert.deepEqual(onlyModels(rebuiltNodes(r)), want);
      },
    );
    const ran = await executedNodes(r);
    await s.check("dbt ran exactly those models", () => {
      assert.deepEqual(onlyModels(ran), want);
    });
    await s.check(
      "dbt ran the unit tests of those models, and only those",
      async () => {
        assert.deepEqual(
          ran.filter((id) => id.startsWith("unit_test.")),
          await unitTestsOf(dir, want),
        );
        assert.ok(ran.some((id) => id.startsWith("unit_test.")));
      },
    );
    await s.check(
      "the reasons: source data changed, upstream rebuilt, clock",
      () => {
        assert.equal(
          rebuilt["model.jaffle_shop.stg_orders"],
          `source data changed: ${RAW_ORDERS}`,
        );
        assert.equal(rebuilt[SPINE], CLOCK);
        for (const id of descendants) {
          assert.match(
            rebuilt[id]!,
            new RegExp(
              `^(source data changed: ${RAW_ORDERS}|upstream rebuilt: (${
                descendants.join("|").replaceAll(".", "\\.")
              }))$`,
            ),
            `${id}: ${rebuilt[id]}`,
          );
        }
      },
    );
    const reused = onlyModels(r.metadata.reused as string[]);
    await s.check("every other model reused (at least one)", () => {
      assert.deepEqual(reused, all.filter((id) => !want.includes(id)));
      assert.ok(reused.length > 0, "no model was reused");
    });
    await s.check(`models_run is ${want.length}`, () => {
      assert.equal(r.models_run, want.length);
    });

    // The same warehouse built in full on a copy holds the same tables.
    step("full build of a copy (the reference)");
    await timed(s, rt, "build", { projectDir: full, profilesDir: full });
    await s.check("the warehouse equals the full build's", async () => {
      assert.equal(await warehouseContents(dir), await warehouseContents(full));
    });
    await s.check("main.orders holds 1505 orders", async () => {
      assert.equal(
        await duckdb(dir, "select count(*) from main.orders"),
        "[[1505]]",
      );
    });

    // For the timings: an ordinary build of the same project, warm.
    step("ordinary build again (warm, for comparison)");
    const again = await timed(s, rt, "build", ref);
    s.report.figures.models_run = again.models_run;
    await s.check("the warehouse still equals the full build's", async () => {
      assert.equal(await warehouseContents(dir), await warehouseContents(full));
    });
  } catch (e) {
    if (!(e instanceof Stop)) {
      s.report.checks.push({
        what: "the step ran",
        ok: false,
        detail: e instanceof Error ? e.message : String(e),
      });
    }
  } finally {
    onStep(s.report);
    await rt.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(full, { recursive: true }).catch(() => {});
  }
}
