/**
 * Per-node facts from the fusion runtime: the real dbt Fusion binary on a
 * copy of the example project (DuckDB), with row counts equal to DuckDB's own
 * `count(*)`, the relations' columns and types as information_schema has
 * them, column lineage through renames and aggregations (sqlglot in the
 * dbt-core environment, over Fusion's compiled SQL), the opt-outs, lineage
 * left out without a Python, and a facts query that fails leaving the run
 * alone. Also the facts query's guard on relation names.
 */
import assert from "node:assert/strict";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { factsQuery } from "../runtimes/fusion/facts.ts";
import type { NodeFactsMap } from "../src/dbt/node_facts.ts";
import type { ProgressEvent } from "../src/contract/schemas.ts";
import { copyExample, writeFile } from "./_helpers.ts";
import {
  assertFactsOff,
  assertNoRowCounts,
  buildWithFacts,
  nodeFactsSuite,
  REVENUE,
} from "./_facts.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "fusion node facts: rows, columns and column lineage of a build",
  opts,
  async (t) => {
    await using copy = await copyExample("floe-fusion-facts-");
    const rt = new FusionRuntime({ fallback_to_core: false });
    try {
      const build = await buildWithFacts(rt, copy.dir);
      const { project, nodes } = build;
      assert.equal(build.result.metadata.executed_by, "fusion");
      await nodeFactsSuite(t, rt, build);

      await t.step(
        "the seed's rows_affected is its count; a model's 0 is not a count",
        () => {
          const seed = nodes["seed.jaffle_duck.raw_payments"];
          assert.equal(seed.rows_affected, seed.row_count);
          // Fusion writes rows_affected 0 for every model: not a count.
          assert.equal(
            nodes["model.jaffle_duck.customers"].rows_affected,
            null,
          );
        },
      );

      await t.step(
        "a run of one model reads its parents' columns",
        async () => {
          const one = await rt.execute("run", project, {
            select: ["customer_revenue"],
          });
          assert.equal(one.success, true);
          const facts = one.metadata.nodes as NodeFactsMap;
          assert.deepEqual(Object.keys(facts), [REVENUE]);
          assert.deepEqual(
            facts[REVENUE].column_lineage,
            nodes[REVENUE].column_lineage,
          );
          assert.equal(facts[REVENUE].row_count, nodes[REVENUE].row_count);
        },
      );
    } finally {
      await rt.close();
    }
  },
);

Deno.test(
  "fusion node facts: the opt-outs and a missing Python",
  opts,
  async () => {
    await using copy = await copyExample("floe-fusion-facts-");
    const project = { projectDir: copy.dir, profilesDir: copy.dir };
    const noCounts = new FusionRuntime(
      { fallback_to_core: false, row_counts: false },
      { python: "/nonexistent/python" },
    );
    const events: ProgressEvent[] = [];
    try {
      const r = await noCounts.execute("build", project, {}, {
        onEvent: (e) => events.push(e),
      });
      assert.equal(r.success, true);
      const nodes = r.metadata.nodes as NodeFactsMap;
      assertNoRowCounts(nodes);
      // Columns still come from the facts query; lineage needs the Python.
      assert.equal(
        nodes["model.jaffle_duck.customers"].columns[0]?.data_type,
        "BIGINT",
      );
      assert.equal(nodes["model.jaffle_duck.customers"].column_lineage, null);
      assert.ok(
        events.some((e) =>
          e.type === "log" && e.level === "debug" &&
          /no column lineage: no dbt-core environment Python/.test(e.message)
        ),
      );
    } finally {
      await noCounts.close();
    }
    const none = new FusionRuntime({
      fallback_to_core: false,
      node_facts: false,
    });
    try {
      await assertFactsOff(none, project);
    } finally {
      await none.close();
    }
  },
);

Deno.test(
  "fusion node facts: a failing facts query leaves the run alone",
  opts,
  async () => {
    await using copy = await copyExample("floe-fusion-facts-");
    const project = { projectDir: copy.dir, profilesDir: copy.dir };
    const rt = new FusionRuntime({ fallback_to_core: false });
    const events: ProgressEvent[] = [];
    try {
      // A post-hook drops the table dbt built: its count(*) fails.
      await writeFile(
        copy.dir,
        "models/marts/gone.sql",
        "{{ config(materialized='table', post_hook='drop table {{ this }}') }}\nselect 1 as x\n",
      );
      const r = await rt.execute("run", project, { select: ["gone"] }, {
        onEvent: (e) => events.push(e),
      });
      assert.equal(r.success, true, JSON.stringify(r.metadata.errors));
      const facts =
        (r.metadata.nodes as NodeFactsMap)["model.jaffle_duck.gone"];
      assert.equal(facts.row_count, null);
      assert.equal(facts.relation, "jaffle_duck.main.gone");
      assert.ok(
        events.some((e) =>
          e.type === "log" && e.level === "debug" &&
          /the facts query failed/.test(e.message)
        ),
        JSON.stringify(events.filter((e) => e.type === "log")),
      );
    } finally {
      await rt.close();
    }
  },
);

Deno.test("fusion node facts: only plain relation names reach the query", () => {
  const q = factsQuery(
    "duckdb",
    [
      { uid: "model.p.a", relation: '"db"."main"."a"' },
      { uid: "model.p.b", relation: "main.b; drop table x" },
    ],
    [
      { database: "db", schema: "main", name: "a" },
      { database: "db", schema: "it's", name: "b" },
    ],
  )!;
  assert.deepEqual(q.counted, ["model.p.a"]);
  assert.match(q.sql, /from "db"\."main"\."a"/);
  assert.doesNotMatch(q.sql, /drop table|it's/);
  assert.equal(factsQuery("snowflake", [], []), undefined);
  assert.equal(
    factsQuery("bigquery", [{ uid: "model.p.a", relation: "a" }], []),
    undefined,
  );
});
