/**
 * `--skip-unchanged` never reuses a node that reads the clock (found on
 * jaffle-shop: its metricflow_time_spine calls dbt_date.get_base_dates,
 * which ends at `today()` through dbt's `current_timestamp`, so a reused
 * spine built yesterday is not what a full build makes today), nor what
 * is built on it in the same call; its tests run again. Keys and decisions
 * over a small manifest, no dbt.
 *
 * @module
 */
import assert from "node:assert/strict";
import { clockInCode, type ManifestView } from "../src/skip/keys.ts";
import { plainKeys } from "./_skip_project.ts";
import { decide } from "../src/skip/plan.ts";
import { MacroCalls } from "../src/skip/macro_calls.ts";
import { relationKey } from "../src/skip/data.ts";
import type { NodeRecord } from "../src/skip/store.ts";

function macro(name: string, pkg: string, calls: string[] = []) {
  return {
    [`macro.${pkg}.${name}`]: {
      name,
      macro_sql: `{% macro ${name}() %}...{% endmacro %}`,
      depends_on: { macros: calls },
    },
  };
}

function model(
  name: string,
  raw_code: string,
  macros: string[] = [],
  nodes: string[] = [],
) {
  return {
    [`model.p.${name}`]: {
      resource_type: "model",
      name,
      database: "wh",
      schema: "main",
      raw_code,
      checksum: { checksum: name },
      config: { materialized: "table" },
      depends_on: { macros, nodes },
    },
  };
}

const VIEW: ManifestView = {
  adapterType: "duckdb",
  projectName: "p",
  sources: {},
  macros: {
    ...macro("current_timestamp", "dbt", [
      "macro.dbt_duckdb.duckdb__current_timestamp",
    ]),
    ...macro("duckdb__current_timestamp", "dbt_duckdb"),
    ...macro("now", "dbt_date", ["macro.dbt.current_timestamp"]),
    ...macro("get_base_dates", "dbt_date", ["macro.dbt_date.now"]),
    ...macro("clean", "p"),
  },
  nodes: {
    ...model("spine", "{{ dbt_date.get_base_dates(n_dateparts=10) }}", [
      "macro.dbt_date.get_base_dates",
    ]),
    ...model("on_spine", "select * from {{ ref('spine') }}", [], [
      "model.p.spine",
    ]),
    ...model("plain", "select {{ clean('x') }} as x", ["macro.p.clean"]),
    ...model("after_plain", "select * from {{ ref('plain') }}", [], [
      "model.p.plain",
    ]),
    ...model("stamped", "select 1 as id, now() as at"),
    ...model(
      "commented",
      "-- for BQ use current_date\nselect 1 as current_date_x {# now() #} /* sysdate */",
    ),
    "test.p.not_null_spine": {
      resource_type: "test",
      name: "not_null_spine",
      raw_code: "{{ test_not_null(**_dbt_generic_test_kwargs) }}",
      checksum: { checksum: "t" },
      config: {},
      depends_on: { macros: [], nodes: ["model.p.spine"] },
    },
  },
};

Deno.test("skip clock: what reads the clock, in code and through macros", () => {
  assert.equal(clockInCode("select now() as at"), "now()");
  assert.equal(clockInCode("select NOW ( ) as at"), "now()");
  assert.equal(
    clockInCode("select '{{ run_started_at }}' as at"),
    "run_started_at",
  );
  assert.equal(
    clockInCode("select current_timestamp as at"),
    "current_timestamp",
  );
  assert.equal(clockInCode("select getdate() as at"), "getdate()");
  assert.equal(
    clockInCode("select current_date_x, nowhere(1), sysdate_col from t"),
    null,
  );
  assert.equal(
    clockInCode("select 1 -- now()\n/* current_date */ {# sysdate #}"),
    null,
  );
  const keys = plainKeys(VIEW);
  assert.equal(keys.get("model.p.spine")!.clock, "macro.dbt.current_timestamp");
  assert.equal(keys.get("model.p.stamped")!.clock, "now()");
  assert.equal(keys.get("model.p.on_spine")!.clock, null);
  assert.equal(keys.get("model.p.plain")!.clock, null);
  assert.equal(keys.get("model.p.commented")!.clock, null);
});

Deno.test("skip clock: a clock-reading node and what is built on it are rebuilt, the rest reused", () => {
  const keys = plainKeys(VIEW);
  // Every node's last build had exactly today's key, all in one call.
  const records: Record<string, NodeRecord> = {};
  for (const [id, k] of keys) {
    records[id] = {
      key: k.key,
      parts: k.parts,
      parents: k.parents,
      status: k.resource_type === "test" ? "pass" : "success",
      built_at: "2026-12-04T00:00:00Z",
      invocation_id: "a",
      built_on: Object.fromEntries(
        k.relationParents.map((p) => [p, "a@2026-12-04T00:00:00Z"]),
      ),
    };
  }
  const existing = new Set(
    Object.values(VIEW.nodes).map((n) => relationKey("wh", "main", n.name)),
  );
  const d = decide(VIEW, keys, records, new Set(keys.keys()), existing);
  assert.deepEqual(Object.fromEntries(d.rebuild), {
    "model.p.spine": "reads the clock: macro.dbt.current_timestamp",
    "model.p.on_spine": "upstream rebuilt: model.p.spine",
    "test.p.not_null_spine": "upstream rebuilt: model.p.spine",
    "model.p.stamped": "reads the clock: now()",
  });
  assert.deepEqual([...d.reuse.keys()].sort(), [
    "model.p.after_plain",
    "model.p.commented",
    "model.p.plain",
  ]);
  // Not selected this call, the spine in the warehouse is what on_spine
  // was built on: on_spine alone is reused.
  const alone = decide(
    VIEW,
    keys,
    records,
    new Set(["model.p.on_spine"]),
    existing,
  );
  assert.deepEqual([...alone.reuse.keys()], ["model.p.on_spine"]);
  // The spine rebuilt in another call since (same key, other rows): on_spine
  // and the spine's test are rebuilt, on_plain's child still reused.
  const later = {
    ...records,
    "model.p.spine": {
      ...records["model.p.spine"]!,
      built_at: "2026-12-05T00:00:00Z",
      invocation_id: "b",
    },
  };
  const after = decide(
    VIEW,
    keys,
    later,
    new Set([
      "model.p.on_spine",
      "test.p.not_null_spine",
      "model.p.after_plain",
    ]),
    existing,
  );
  assert.deepEqual(Object.fromEntries(after.rebuild), {
    "model.p.on_spine": "upstream rebuilt: model.p.spine",
    "test.p.not_null_spine": "upstream rebuilt: model.p.spine",
  });
  assert.deepEqual([...after.reuse.keys()], ["model.p.after_plain"]);
  // A record kept before parent builds were recorded: rebuilt once.
  const old = {
    ...records,
    "model.p.after_plain": {
      ...records["model.p.after_plain"]!,
      built_on: undefined,
    },
  };
  assert.equal(
    decide(VIEW, keys, old, new Set(["model.p.after_plain"]), existing)
      .rebuild.get("model.p.after_plain"),
    "upstream rebuilt: model.p.plain",
  );
  // With no previous build, that is the reason given.
  const fresh = decide(VIEW, keys, {}, new Set(["model.p.spine"]), existing);
  assert.equal(fresh.rebuild.get("model.p.spine"), "no previous build");
});

/**
 * The same project as Fusion's `dbt parse` writes it: no macro records
 * what it calls, a node lists only its project macros. The calls are read
 * from the text instead.
 */
function fusionView(dateSql: string): ManifestView {
  const m = (name: string, pkg: string, sql: string) => ({
    [`macro.${pkg}.${name}`]: {
      name,
      package_name: pkg,
      macro_sql: sql,
      depends_on: { macros: [] },
    },
  });
  return {
    ...VIEW,
    macros: {
      ...m(
        "current_timestamp",
        "dbt",
        "{% macro current_timestamp() %}{{ return(adapter.dispatch('current_timestamp')()) }}{% endmacro %}",
      ),
      ...m(
        "duckdb__current_timestamp",
        "dbt_duckdb",
        "{% macro duckdb__current_timestamp() -%}now(){%- endmacro %}",
      ),
      ...m("now", "dbt_date", dateSql),
      ...m(
        "get_base_dates",
        "dbt_date",
        "{% macro get_base_dates(n_dateparts) %}{# not dbt.dateadd() #} select {{ dbt_date.now() }} as d{% endmacro %}",
      ),
      ...m("clean", "p", "{% macro clean(x) %}lower({{ x }}){% endmacro %}"),
    },
    nodes: {
      ...VIEW.nodes,
      // Fusion lists no package macro of the spine.
      ...model("spine", "{{ dbt_date.get_base_dates(n_dateparts=10) }}", [
        "macro.dbt.statement",
      ]),
    },
  };
}

Deno.test("skip keys: a manifest without macro calls (Fusion's parse): package macros and the clock are read from the text", () => {
  const before = plainKeys(
    fusionView(
      "{% macro now(tz=None) %}{{ dbt.current_timestamp() }}{% endmacro %}",
    ),
  );
  assert.equal(
    before.get("model.p.spine")!.clock,
    "macro.dbt.current_timestamp",
  );
  assert.equal(before.get("model.p.plain")!.clock, null);
  // A package macro edited: the node calling it through another changes.
  const after = plainKeys(
    fusionView(
      "{% macro now(tz=None) %}{{ dbt.current_timestamp() }} + 1{% endmacro %}",
    ),
  );
  assert.notEqual(
    after.get("model.p.spine")!.parts.macros,
    before.get("model.p.spine")!.parts.macros,
  );
  assert.equal(
    after.get("model.p.plain")!.key,
    before.get("model.p.plain")!.key,
  );
});

Deno.test("skip clock: each adapter's clock, random and per-invocation forms; strings hide no code", () => {
  const cases: [string, string | null][] = [
    ["select today() as d", "today()"],
    ["select get_current_timestamp() as d", "get_current_timestamp()"],
    ["select transaction_timestamp() as d", "transaction_timestamp()"],
    ["select statement_timestamp() as d", "statement_timestamp()"],
    ["select clock_timestamp() as d", "clock_timestamp()"],
    ["select localtimestamp as d", "localtimestamp"],
    ["select {{ modules.datetime.datetime.utcnow() }} as d", "utcnow()"],
    [
      "select '{{ modules.datetime.datetime.now(modules.pytz.utc) }}' as d",
      "now()",
    ],
    ["select '{{ invocation_id }}' as run_id", "invocation_id"],
    ["{% set t = run_started_at %}select 1", "run_started_at"],
    ["select random() as r", "random()"],
    ["select gen_random_uuid() as u", "gen_random_uuid()"],
    ["select uuid() as u", "uuid()"],
    ["select 'now'::timestamp as t", "'now'"],
    ["select current_datetime() as d", "current_datetime()"],
    ["select generate_uuid() as u", "generate_uuid()"],
    ["select uuid_string() as u", "uuid_string()"],
    ["select timeofday() as t", "timeofday()"],
    ["select * from t using sample 10%", "using sample"],
    ["select * from t USING\n  SAMPLE 5 rows", "using sample"],
    ["select * from t tablesample bernoulli (10)", "tablesample"],
    ["select {{ modules.time.time() }} as t", "modules.time"],
    ["select {{ modules . random.choice([1, 2]) }} as r", "modules.random"],
    // A `--` or `/*` inside a string is no comment.
    [
      "select replace(code, '--', '') as code, current_timestamp as at from t",
      "current_timestamp",
    ],
    ["select 'a/*' as g, now() as t, '*/' as h", "now()"],
    // Not clocks: strings, quoted and longer names, a column invocation_id.
    ["select 'current_date' as label, \"now\" from t", null],
    ["select randomize(x), uuid_col, invocation_id from t", null],
    ["select sample_id, using_col, time from t", null],
    ["select 1 -- it's now()\n", null],
  ];
  for (const [code, want] of cases) assert.equal(clockInCode(code), want, code);
  const calls = new MacroCalls({
    "macro.dbt_date.today": { name: "today", package_name: "dbt_date" },
  });
  assert.deepEqual(
    calls.calls("select '--' as sep, {{ dbt_date.today() }} as d"),
    ["macro.dbt_date.today"],
  );
  assert.deepEqual(calls.calls("select 1 -- {{ dbt_date.today() }}"), []);
});

Deno.test("skip clock: a unit test of a clock-reading model runs again", () => {
  const view: ManifestView = {
    ...VIEW,
    nodes: {
      ...VIEW.nodes,
      "unit_test.p.stamped.u": {
        resource_type: "unit_test",
        name: "u",
        model: "stamped",
        given: [],
        expect: { rows: [] },
        depends_on: { macros: [], nodes: ["model.p.stamped"] },
      },
    },
  };
  const keys = plainKeys(view);
  assert.equal(
    keys.get("unit_test.p.stamped.u")!.clock,
    "now() via model.p.stamped",
  );
});
