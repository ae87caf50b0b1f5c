/**
 * Per-node facts in the run result (`metadata.nodes`), from the local
 * runtime's real dbt-core worker on a copy of the example project: row counts
 * equal to DuckDB's own `count(*)`, the relations' columns and types, column
 * lineage through renames and aggregations (sqlglot), none for a model whose
 * upstream columns are unknown, and the two opt-outs. Also the CLI's `--json`.
 *
 * sqlglot must be importable by the dbt-core environment's Python (it is
 * pinned in requirements/dbt-core.lock).
 */
import assert from "node:assert/strict";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { type NodeFactsMap, parseNodeFacts } from "../src/dbt/node_facts.ts";
import { copyExample, runAgent, writeFile } from "./_helpers.ts";
import {
  assertFactsOff,
  assertNoRowCounts,
  buildWithFacts,
  nodeFactsSuite,
  rows,
} from "./_facts.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "node facts: rows, columns and column lineage of a build",
  opts,
  async (t) => {
    await using copy = await copyExample();
    const rt = new LocalRuntime();
    try {
      const build = await buildWithFacts(rt, copy.dir);
      const { project } = build;
      await nodeFactsSuite(t, rt, build);

      await t.step(
        "dbt retry reports the facts of the nodes it re-ran",
        async () => {
          await writeFile(
            copy.dir,
            "models/marts/flaky.sql",
            "select * from nowhere_xyz\n",
          );
          const failed = await rt.execute("run", project, {
            select: ["flaky"],
          });
          assert.equal(failed.success, false);
          const none = failed.metadata.nodes as NodeFactsMap;
          assert.equal(none["model.jaffle_duck.flaky"], undefined);
          await writeFile(
            copy.dir,
            "models/marts/flaky.sql",
            "select 1 as x union all select 2\n",
          );
          const retried = await rt.execute("retry", project);
          assert.equal(retried.success, true);
          const facts =
            (retried.metadata.nodes as NodeFactsMap)["model.jaffle_duck.flaky"];
          assert.equal(facts?.row_count, 2);
          assert.deepEqual(facts?.columns.map((c) => c.name), ["x"]);
        },
      );
    } finally {
      await rt.close();
    }
  },
);

Deno.test("node facts: row_counts and node_facts opt out", opts, async () => {
  await using copy = await copyExample();
  const project = { projectDir: copy.dir, profilesDir: copy.dir };
  const noCounts = new LocalRuntime({ row_counts: false });
  try {
    const r = await noCounts.execute("build", project);
    assert.equal(r.success, true);
    const nodes = r.metadata.nodes as NodeFactsMap;
    assertNoRowCounts(nodes);
    assert.ok(nodes["model.jaffle_duck.customers"].column_lineage);
  } finally {
    await noCounts.close();
  }
  const none = new LocalRuntime({ node_facts: false });
  try {
    await assertFactsOff(none, project);
  } finally {
    await none.close();
  }
});

Deno.test("node facts: the CLI's --json carries them", opts, async () => {
  await using copy = await copyExample();
  const seed = await runAgent([
    "seed",
    "--project-dir",
    copy.dir,
    "--runtime",
    "local",
    "--json",
    "--quiet",
  ]);
  assert.equal(seed.code, 0, seed.stderr);
  const out = JSON.parse(seed.stdout.trim().split("\n").at(-1)!);
  const facts = out.metadata.nodes["seed.jaffle_duck.raw_payments"];
  const [[count]] = await rows(
    copy.dir,
    "select count(*) from main.raw_payments",
  );
  assert.equal(facts.row_count, count);
  assert.deepEqual(facts.columns.map((c: { name: string }) => c.name), [
    "id",
    "order_id",
    "payment_method",
    "amount",
  ]);
});

Deno.test("node facts: a worker's entry that does not parse is left out", () => {
  const good = {
    relation: "db.main.t",
    rows_affected: null,
    row_count: 3,
    columns: [{ name: "a", data_type: "INTEGER", description: null }],
    column_lineage: { a: [{ unique_id: "model.p.s", column: "b" }] },
  };
  assert.deepEqual(
    parseNodeFacts({ "model.p.t": good, "model.p.u": { row_count: "x" } }),
    {
      "model.p.t": good,
    },
  );
  assert.equal(parseNodeFacts(null), undefined);
  assert.equal(parseNodeFacts("nope"), undefined);
});
