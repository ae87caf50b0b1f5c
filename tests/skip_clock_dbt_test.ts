/**
 * `--skip-unchanged` never reuses what differs from one build to the next
 * whatever its inputs, against real dbt-core (and Fusion) on DuckDB: a
 * model reading the clock through an ephemeral model it inlines, through a
 * project macro, after a `--` inside a string, or through dbt's
 * `invocation_id`; a model whose parent was built again in another call
 * (same key, other rows); the plain models of the same project are still
 * reused. Plus unit tests: a `format: sql` fixture file is reused on
 * dbt-core (keyed on the rows dbt records), and `--fail-fast` stops the
 * build when the unit tests run alone before it failed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { duckdb, executedNodes, makeSkipProject } from "./_skip_project.ts";
import { writeFile } from "./_helpers.ts";
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

const P = "model.skipper.";
const AUDIT = `${P}audit_copy`;
const SQL_UNIT = "unit_test.skipper.region_totals.totals_sql";

/** The clock-reading models, a macro, and a unit test with a sql fixture. */
async function addClockModels(dir: string): Promise<void> {
  const files: Record<string, string> = {
    "models/clock/stamp_e.sql":
      "{{ config(materialized='ephemeral') }}\nselect 1 as id, now() as at\n",
    "models/clock/child_e.sql": "select * from {{ ref('stamp_e') }}\n",
    "macros/loaded_at.sql":
      "{% macro loaded_at() %}current_timestamp{% endmacro %}\n",
    "models/clock/m_macro.sql": "select 1 as id, {{ loaded_at() }} as at\n",
    "models/clock/m_dashes.sql":
      "select replace('a--b', '--', '') as code, current_timestamp as at\n",
    "models/clock/m_invocation.sql": "select '{{ invocation_id }}' as run_id\n",
    "models/clock/stamp.sql": "select 1 as id, now() as at\n",
    "models/clock/child.sql": "select * from {{ ref('stamp') }}\n",
    "tests/fixtures/co_sql.sql":
      "select 1 as customer_id, 'a' as name, 'west' as region, 7 as total_cents, 0 as rev\n",
  };
  for (const [path, text] of Object.entries(files)) {
    await writeFile(dir, path, text);
  }
  await writeUnitTest(dir, 1);
}

/** A unit test with a `format: sql` fixture file; `customers` expected. */
async function writeUnitTest(dir: string, customers: number): Promise<void> {
  await writeFile(
    dir,
    "models/unit_tests.yml",
    `unit_tests:
  - name: totals_sql
    model: region_totals
    given:
      - input: ref('customer_orders')
        format: sql
        fixture: co_sql
    expect:
      rows:
        - {region: west, total_cents: 7, customers: ${customers}}
`,
  );
}

function rebuilt(r: RunResult): Record<string, string> {
  return r.metadata.rebuilt as Record<string, string>;
}

/** The scenario, every call through one warm runtime. */
async function scenario(
  make: () => DbtRuntime,
  dir: string,
  failFast = true,
): Promise<void> {
  const rt = make();
  try {
    await steps(rt, dir, failFast);
  } finally {
    await rt.close();
  }
}

async function steps(
  rt: DbtRuntime,
  dir: string,
  failFast: boolean,
): Promise<void> {
  const ref = { projectDir: dir, profilesDir: dir } as ProjectRef;
  const call = (selection: Selection) => rt.execute("build", ref, selection);
  const build = async (selection: Selection = {}) => {
    const r = await call(selection);
    assert.ok(r.success, JSON.stringify(r.metadata.errors));
    return r;
  };
  await build();

  // Everything reading the clock is rebuilt, with what reads it; the
  // rest (tables and views through dbt's own materializations) reused.
  const r = await build({ skipUnchanged: true });
  const why = rebuilt(r);
  assert.equal(why[`${P}child_e`], `reads the clock: now() via ${P}stamp_e`);
  assert.equal(
    why[`${P}m_macro`],
    "reads the clock: macro.skipper.loaded_at (current_timestamp)",
  );
  assert.equal(why[`${P}m_dashes`], "reads the clock: current_timestamp");
  assert.equal(why[`${P}m_invocation`], "reads the clock: invocation_id");
  assert.equal(why[`${P}stamp`], "reads the clock: now()");
  assert.equal(why[`${P}child`], `upstream rebuilt: ${P}stamp`);
  assert.deepEqual(
    Object.keys(why).filter((id) => id.startsWith("model.")).sort(),
    [
      AUDIT,
      `${P}child`,
      `${P}child_e`,
      `${P}m_dashes`,
      `${P}m_invocation`,
      `${P}m_macro`,
      `${P}stamp`,
    ],
  );
  const reused = r.metadata.reused as string[];
  for (
    const id of [
      `${P}stg_orders`,
      `${P}customer_orders`,
      `${P}region_totals`,
      "seed.skipper.regions",
    ]
  ) assert.ok(reused.includes(id), `${id} not reused`);
  // The unit test with a sql fixture file is reused with its result.
  assert.ok(reused.includes(SQL_UNIT), JSON.stringify(why[SQL_UNIT]));

  // The clock-reading parent rebuilt alone, then its child alone: the
  // child is built again on the parent's new rows.
  await build({ skipUnchanged: true, select: ["stamp"] });
  const child = await build({ skipUnchanged: true, select: ["child"] });
  assert.deepEqual(rebuilt(child), {
    [`${P}child`]: `upstream rebuilt: ${P}stamp`,
  });
  assert.equal(
    await duckdb(
      dir,
      `select count(*) from main.child c join main.stamp s on c."at" = s."at"`,
    ),
    "[[1]]",
  );
  // Built on the parent's last build now: reused.
  const again = await build({ skipUnchanged: true, select: ["child"] });
  assert.deepEqual(again.metadata.reused, [`${P}child`]);

  // A failing unit test run alone before the build: with --fail-fast the
  // build does not run; without, it does.
  await writeUnitTest(dir, 2);
  if (!failFast) {
    // Fusion has no --fail-fast: refused, as without --skip-unchanged.
    await assert.rejects(
      call({ skipUnchanged: true, failFast: true }),
      /cannot honour --fail-fast/,
    );
    return;
  }
  const fast = await call({ skipUnchanged: true, failFast: true });
  assert.equal(fast.success, false);
  assert.deepEqual(fast.metadata.unit_tests_alone, [SQL_UNIT]);
  assert.deepEqual(await executedNodes(fast), [SQL_UNIT]);
  assert.ok(
    (fast.metadata.not_built_fail_fast as string[]).includes(AUDIT),
  );
  const slow = await call({ skipUnchanged: true });
  assert.equal(slow.success, false);
  const ran = await executedNodes(slow);
  assert.ok(ran.includes(SQL_UNIT) && ran.includes(AUDIT), ran.join(","));
}

async function withProject(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await makeSkipProject(dir);
    await addClockModels(dir);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name:
    "skip-unchanged: what reads the clock (ephemeral, macro, after a string's --, invocation_id) or sits on a parent built since is rebuilt (dbt-core, DuckDB)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withProject(
      "floe-skip-clock-",
      (dir) =>
        scenario(() => stateRuntime(skipRuntime(new LocalRuntime())), dir),
    );
  },
});

Deno.test({
  name:
    "skip-unchanged: what reads the clock (ephemeral, macro, after a string's --, invocation_id) or sits on a parent built since is rebuilt (Fusion, DuckDB)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withProject(
      "floe-skip-clock-fusion-",
      (dir) =>
        scenario(
          () => stateRuntime(skipRuntime(new FusionRuntime())),
          dir,
          false,
        ),
    );
  },
});
