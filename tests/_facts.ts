/**
 * Shared parts of the node facts tests (local, fusion, cloud): a model that
 * renames and aggregates columns, and DuckDB's own answers on a project's
 * database file (through the dbt-core environment's duckdb module).
 *
 * @module
 */
import assert from "node:assert/strict";
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

/** A model that renames and aggregates, with documented columns. */
export async function addRevenueModel(dir: string): Promise<void> {
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
`,
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
