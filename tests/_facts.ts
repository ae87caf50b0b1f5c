/**
 * Shared parts of the node facts tests (local, fusion, cloud): a model that
 * renames and aggregates columns, DuckDB's own answers on a project's
 * database file (through the dbt-core environment's duckdb module), the
 * checks each runtime's facts must pass, and `nodeFactsSuite`: the one set of
 * steps every runtime that reads the warehouse (local, fusion) runs on a
 * build of the example. Runtime-specific checks stay in each test file.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { DbtRuntime, ProjectRef } from "../src/contract/runtime.ts";
import type { RunResult } from "../src/contract/schemas.ts";
import type { NodeFactsMap } from "../src/dbt/node_facts.ts";
import { ROOT, writeFile } from "./_helpers.ts";

/** The dbt-core environment's Python. */
export const PY = `${ROOT}/.venv/dbt-core/bin/python`;

/** Rows of a query on the project's DuckDB file (the venv's duckdb). */
export async function rows(
  projectDir: string,
  sql: string,
): Promise<unknown[][]> {
  const out = await new Deno.Command(PY, {
    args: [
      "-c",
      "import duckdb,json,sys; c=duckdb.connect(sys.argv[1], read_only=True); print(json.dumps(c.execute(sys.argv[2]).fetchall(), default=str))",
      `${projectDir}/.floe/jaffle_duck.duckdb`,
      sql,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/**
 * A model that renames and aggregates, with documented columns; with
 * `revenueType`, the manifest also declares the revenue column's type.
 */
export async function addRevenueModel(
  dir: string,
  revenueType?: string,
): Promise<void> {
  await writeFile(
    dir,
    "models/marts/customer_revenue.sql",
    `select
    o.customer_id as buyer_id,
    count(*) as order_count,
    sum(o.amount) as revenue,
    max(o.order_date) as last_order_on,
    upper(c.first_name) || ' ' || c.last_name as buyer_name
from {{ ref('orders') }} as o
join {{ ref('customers') }} as c on c.customer_id = o.customer_id
group by 1, 5
`,
  );
  await writeFile(
    dir,
    "models/marts/customer_revenue.yml",
    `version: 2
models:
  - name: customer_revenue
    columns:
      - name: revenue
        description: Sum of the customer's order amounts.
${revenueType ? `        data_type: ${revenueType}\n` : ""}`,
  );
}

/** The revenue model's unique id. */
export const REVENUE = "model.jaffle_duck.customer_revenue";

/** Asserts the revenue model's lineage and the example's (all runtimes agree). */
export function assertExampleLineage(
  lineage: (
    uid: string,
  ) => Record<string, { unique_id: string; column: string }[]> | null,
): void {
  const l = lineage(REVENUE)!;
  const orders = "model.jaffle_duck.orders";
  const customers = "model.jaffle_duck.customers";
  assert.deepEqual(l.buyer_id, [{ unique_id: orders, column: "customer_id" }]);
  assert.deepEqual(l.revenue, [{ unique_id: orders, column: "amount" }]);
  assert.deepEqual(l.last_order_on, [{
    unique_id: orders,
    column: "order_date",
  }]);
  assert.deepEqual(
    [...l.buyer_name].sort((a, b) => a.column.localeCompare(b.column)),
    [
      { unique_id: customers, column: "first_name" },
      { unique_id: customers, column: "last_name" },
    ],
  );
  // count(*) reads no particular column
  assert.deepEqual(l.order_count, []);
  const c = lineage(customers)!;
  assert.deepEqual(c.lifetime_value, [
    { unique_id: "model.jaffle_duck.stg_payments", column: "amount" },
  ]);
  assert.deepEqual(c.number_of_orders, [
    { unique_id: "model.jaffle_duck.stg_orders", column: "order_id" },
  ]);
  const p = lineage("model.jaffle_duck.stg_payments")!;
  assert.deepEqual(p.payment_id, [
    { unique_id: "seed.jaffle_duck.raw_payments", column: "id" },
  ]);
}

/** The example's nodes a build reports facts for: models and the seed, no tests. */
export const BUILT = [
  "model.jaffle_duck.customer_revenue",
  "model.jaffle_duck.customers",
  "model.jaffle_duck.orders",
  "model.jaffle_duck.stg_customers",
  "model.jaffle_duck.stg_orders",
  "model.jaffle_duck.stg_payments",
  "seed.jaffle_duck.raw_payments",
];

/** The seed's unique id. */
const SEED = "seed.jaffle_duck.raw_payments";

/** Asserts one entry per model and seed built (BUILT), none for tests. */
export function assertBuiltIds(nodes: NodeFactsMap): void {
  assert.deepEqual(Object.keys(nodes).sort(), BUILT);
}

/**
 * Asserts the seed's load is the adapter's own count (DuckDB's `count(*)`)
 * and its relation the one dbt built.
 */
export async function assertSeedLoad(
  dir: string,
  nodes: NodeFactsMap,
): Promise<void> {
  const [[seeded]] = await rows(dir, "select count(*) from main.raw_payments");
  assert.equal(nodes[SEED]!.rows_affected, seeded);
  assert.equal(nodes[SEED]!.relation, "jaffle_duck.main.raw_payments");
}

/** Asserts every node's columns and types are the relation's (information_schema). */
export async function assertColumnsAsRelation(
  dir: string,
  nodes: NodeFactsMap,
): Promise<void> {
  for (const id of Object.keys(nodes)) {
    const name = id.split(".").at(-1)!;
    const want = await rows(
      dir,
      `select column_name, data_type from information_schema.columns where table_schema = 'main' and table_name = '${name}' order by ordinal_position`,
    );
    assert.ok(want.length > 0, name);
    assert.deepEqual(
      nodes[id]!.columns.map((c) => [c.name, c.data_type]),
      want,
      name,
    );
  }
}

/** Asserts the revenue model's descriptions are the manifest's (none: null). */
export function assertRevenueDescriptions(nodes: NodeFactsMap): void {
  const cols = nodes[REVENUE]!.columns;
  assert.equal(
    cols.find((c) => c.name === "revenue")?.description,
    "Sum of the customer's order amounts.",
  );
  assert.equal(cols.find((c) => c.name === "buyer_id")?.description, null);
}

/**
 * Asserts a model over unknown upstream columns (stg_orders reads an
 * external CSV source) and the seed have columns but no lineage.
 */
export function assertNoLineageWithoutUpstream(nodes: NodeFactsMap): void {
  const stg = nodes["model.jaffle_duck.stg_orders"]!;
  assert.equal(stg.column_lineage, null);
  assert.ok(stg.columns.length > 0);
  assert.equal(nodes[SEED]!.column_lineage, null);
}

/** Asserts a build with `row_counts: false`: no counts, the seed's load still reported. */
export function assertNoRowCounts(nodes: NodeFactsMap): void {
  assert.equal(nodes["model.jaffle_duck.customers"]!.row_count, null);
  assert.equal(nodes[SEED]!.row_count, null);
  assert.ok((nodes[SEED]!.rows_affected ?? 0) > 0);
}

/** Asserts a runtime with `node_facts: false` runs one model and reports no facts. */
export async function assertFactsOff(
  rt: DbtRuntime,
  project: ProjectRef,
): Promise<void> {
  const r = await rt.execute("run", project, { select: ["customers"] });
  assert.equal(r.success, true);
  assert.equal(r.models_run, 1);
  assert.equal(r.metadata.nodes, undefined);
}

/** A build of the example (with the revenue model) and its node facts. */
export interface FactsBuild {
  /** The project's copy. */
  dir: string;
  /** The project as the runtime takes it. */
  project: ProjectRef;
  /** The build's run result. */
  result: RunResult;
  /** Its `metadata.nodes`. */
  nodes: NodeFactsMap;
}

/** Builds the example at `dir` (the revenue model added) with `rt`. */
export async function buildWithFacts(
  rt: DbtRuntime,
  dir: string,
): Promise<FactsBuild> {
  await addRevenueModel(dir);
  const project = { projectDir: dir, profilesDir: dir };
  const result = await rt.execute("build", project);
  assert.equal(result.success, true, JSON.stringify(result.metadata.errors));
  const nodes = result.metadata.nodes as NodeFactsMap;
  assert.ok(nodes, "metadata.nodes is present");
  return { dir, project, result, nodes };
}

/**
 * The node facts checks every runtime that reads the warehouse runs on its
 * build of the example, one step each: ids, row counts, columns, lineage,
 * none for a model over unknown columns, none for a test run.
 */
export async function nodeFactsSuite(
  t: Deno.TestContext,
  rt: DbtRuntime,
  { dir, project, nodes }: FactsBuild,
): Promise<void> {
  await t.step(
    "one entry per model and seed built, none for tests",
    () => assertBuiltIds(nodes),
  );

  await t.step(
    "row counts equal DuckDB's count(*); views are not counted",
    async () => {
      for (
        const table of [
          "customers",
          "orders",
          "raw_payments",
          "customer_revenue",
        ]
      ) {
        const id = Object.keys(nodes).find((k) => k.endsWith(`.${table}`))!;
        const [[count]] = await rows(dir, `select count(*) from main.${table}`);
        assert.equal(nodes[id]!.row_count, count, table);
        assert.ok((count as number) > 0);
      }
      assert.equal(nodes["model.jaffle_duck.stg_orders"]!.row_count, null);
      // The seed's load is reported by the adapter itself.
      await assertSeedLoad(dir, nodes);
    },
  );

  await t.step(
    "columns and types are the relation's, descriptions the manifest's",
    async () => {
      await assertColumnsAsRelation(dir, nodes);
      assertRevenueDescriptions(nodes);
    },
  );

  await t.step(
    "column lineage through renames, aggregates and expressions",
    () => assertExampleLineage((id) => nodes[id]!.column_lineage),
  );

  await t.step(
    "a model over unknown upstream columns: no lineage, no error",
    () => assertNoLineageWithoutUpstream(nodes),
  );

  await t.step("a test run reports no node facts", async () => {
    const tested = await rt.execute("test", project, {
      select: ["customers"],
    });
    assert.equal(tested.success, true);
    assert.equal(tested.metadata.nodes, undefined);
  });
}
