/**
 * `--skip-unchanged` on Fusion parses and queries the warehouse in one
 * process (`dbt show --inline`, which writes the manifest it parsed), with
 * the query of the last plan (`.floe/state/<target>/look.json`) as a guess.
 * Against real dbt Fusion and DuckDB: the guess is used when it covers what
 * the new manifest needs, and when it is wrong (a new source, a source
 * pointed at another table, its old table dropped) the decision is still
 * exactly the right one; the query's own `inline` node never reaches the
 * plan nor the manifest the call reports; a tampered look is never run.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "./_path.ts";
import { duckdb, makeSkipProject, writeModel } from "./_skip_project.ts";
import { writeFile } from "./_helpers.ts";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { skipRuntime } from "../src/skip/runtime.ts";
import { lookCovers, lookSql, type WarehouseLook } from "../src/skip/data.ts";
import { LOOK_FILE, readLook } from "../src/skip/store.ts";
import { keptStateDir } from "../src/dbt/state.ts";
import type {
  DbtRuntime,
  ProjectRef,
  Selection,
} from "../src/contract/runtime.ts";
import type { RunResult } from "../src/contract/schemas.ts";

const AUDIT = "model.skipper.audit_copy";
const STG_ORDERS = "model.skipper.stg_orders";
const STG_PAYMENTS = "model.skipper.stg_payments";

async function build(
  rt: DbtRuntime,
  ref: ProjectRef,
  selection: Selection = {},
): Promise<RunResult> {
  const r = await rt.execute("build", ref, selection);
  assert.ok(r.success, `build failed: ${JSON.stringify(r.metadata.errors)}`);
  return r;
}

function models(r: RunResult): Record<string, string> {
  return Object.fromEntries(
    Object.entries(r.metadata.rebuilt as Record<string, string>).filter((
      [id],
    ) => !id.startsWith("test.")).sort(),
  );
}

function planSteps(r: RunResult): string[] {
  return Object.keys(
    (r.metadata.skip_unchanged as { plan_ms: Record<string, number> }).plan_ms,
  );
}

const SOURCES = (orders: string, payments: boolean) =>
  `version: 2
sources:
  - name: raw
    schema: raw
    tables:
      - name: orders${orders}
      - name: customers
${payments ? "      - name: payments\n" : ""}      - name: events
        config:
          loaded_at_field: loaded_at
          freshness:
            warn_after: {count: 100000, period: day}
  - name: ext
    schema: raw
    tables:
      - name: audit
        config:
          meta:
            floe_fingerprint: false
`;

Deno.test({
  name:
    "skip-unchanged on Fusion: one process parses and queries; a wrong guess (new source, renamed or dropped relation) still decides right",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "floe-skip-look-" });
    const ref: ProjectRef = { projectDir: dir, profilesDir: dir };
    const rt = skipRuntime(new FusionRuntime());
    try {
      await makeSkipProject(dir);
      // An ordinary build keeps the look (the sources it fingerprinted and
      // the schemas of the nodes it builds).
      await build(rt, ref);
      const look = await readLook(dir, "dev");
      assert.ok(look, "no look kept after a build");
      assert.deepEqual(look.prints.sort(), [
        '"wh"."raw"."customers"',
        '"wh"."raw"."orders"',
      ]);
      assert.deepEqual(look.schemas, ["main", "raw"]);

      // Nothing changed: the guess covers everything, one process.
      const same = await build(rt, ref, { skipUnchanged: true });
      assert.deepEqual(Object.keys(models(same)), [AUDIT]);
      assert.ok(planSteps(same).includes("parse_and_query_ms"));
      assert.ok(!planSteps(same).includes("parse_ms"));

      // A new source and a model on it: the guess lacks it, a second query
      // takes its fingerprint; only the new model is built.
      await duckdb(
        dir,
        "create table raw.payments (id integer, amount integer); insert into raw.payments values (1, 5)",
      );
      await writeFile(dir, "models/sources.yml", SOURCES("", true));
      await writeFile(
        dir,
        "models/staging/stg_payments.sql",
        "select id, amount from {{ source('raw', 'payments') }}\n",
      );
      const added = await build(rt, ref, { skipUnchanged: true });
      assert.deepEqual(models(added), {
        [AUDIT]: "source has no freshness signal: source.skipper.ext.audit",
        [STG_PAYMENTS]: "no previous build",
      });
      const versions = (added.metadata.skip_unchanged as {
        data_versions: Record<string, { method: string }>;
      }).data_versions;
      assert.equal(
        versions["source.skipper.raw.payments"]?.method,
        "fingerprint",
      );
      assert.ok(
        (await readLook(dir, "dev"))!.prints.includes(
          '"wh"."raw"."payments"',
        ),
        "the new source's relation is not in the kept look",
      );
      // Now the guess covers the new source: new rows there are seen.
      await duckdb(dir, "insert into raw.payments values (2, 7)");
      const paid = await build(rt, ref, { skipUnchanged: true });
      assert.deepEqual(Object.keys(models(paid)), [AUDIT, STG_PAYMENTS]);
      assert.equal(
        models(paid)[STG_PAYMENTS],
        "source data changed: source.skipper.raw.payments",
      );
      assert.ok(planSteps(paid).includes("parse_and_query_ms"));

      // The orders source now reads another table (the old one stays): the
      // guess fingerprints the old table, the plan must use the new one's.
      await duckdb(
        dir,
        "create table raw.orders_v2 as select * from raw.orders; insert into raw.orders_v2 values (9, 2, 99)",
      );
      await writeFile(
        dir,
        "models/sources.yml",
        SOURCES("\n        identifier: orders_v2", true),
      );
      const renamed = await build(rt, ref, { skipUnchanged: true });
      assert.equal(
        models(renamed)[STG_ORDERS],
        "source data changed: source.skipper.raw.orders",
      );
      assert.equal(
        await duckdb(dir, "select count(*) from main.stg_orders"),
        "[[5]]",
      );
      // Unchanged again: reused.
      const again = await build(rt, ref, { skipUnchanged: true });
      assert.deepEqual(Object.keys(models(again)), [AUDIT]);

      // The guessed table is dropped: the guessed query fails, the plan
      // parses alone and still sees the change of the source's data.
      await duckdb(
        dir,
        "create table raw.orders_v3 as select * from raw.orders_v2 where id <> 9; drop table raw.orders_v2",
      );
      await writeFile(
        dir,
        "models/sources.yml",
        SOURCES("\n        identifier: orders_v3", true),
      );
      const dropped = await build(rt, ref, { skipUnchanged: true });
      assert.ok(planSteps(dropped).includes("parse_ms"));
      assert.equal(
        models(dropped)[STG_ORDERS],
        "source data changed: source.skipper.raw.orders",
      );
      assert.equal(
        await duckdb(dir, "select count(*) from main.stg_orders"),
        "[[4]]",
      );

      // Within a selection (resolved by `dbt ls` while the parse runs):
      // only the selected node whose source changed is built, an edited
      // model outside the selection is not.
      await duckdb(dir, "insert into raw.orders_v3 values (10, 1, 3)");
      await writeModel(dir, "stg_customers", 1);
      const picked = await build(rt, ref, {
        skipUnchanged: true,
        select: ["stg_orders", "stg_payments"],
      });
      assert.deepEqual(models(picked), {
        [STG_ORDERS]: "source data changed: source.skipper.raw.orders",
      });
      assert.deepEqual(picked.metadata.reused, [STG_PAYMENTS]);
      assert.equal(
        await duckdb(dir, "select count(*) from main.stg_orders"),
        "[[5]]",
      );

      // Nothing to build (a selection of reused nodes): dbt does not run,
      // and the manifest reported is the project's, without the query's
      // own node.
      const none = await build(rt, ref, {
        skipUnchanged: true,
        select: ["stg_payments"],
      });
      assert.equal(none.metadata.dbt_invoked, false);
      assert.deepEqual(none.metadata.reused, [STG_PAYMENTS]);
      const manifest = JSON.parse(await Deno.readTextFile(none.manifest_path));
      const inline = Object.entries(
        manifest.nodes as Record<
          string,
          { config?: { materialized?: string } }
        >,
      ).filter(([id, n]) =>
        id.endsWith(".inline") || n.config?.materialized === "inline"
      );
      assert.deepEqual(inline.map(([id]) => id), []);
      assert.ok(manifest.nodes[STG_PAYMENTS], "the project's node is missing");
    } finally {
      await rt.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "skip-unchanged on Fusion: a tampered kept look is never run as SQL, and the decision stays right",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "floe-skip-look-bad-" });
    const ref: ProjectRef = { projectDir: dir, profilesDir: dir };
    const rt = skipRuntime(new FusionRuntime());
    try {
      await makeSkipProject(dir);
      await build(rt, ref);
      const bad: WarehouseLook = {
        adapterType: "duckdb",
        prints: ['"wh"."raw"."orders"; drop table raw.customers; --'],
        schemas: ["raw') or ('1'='1"],
      };
      assert.equal(lookSql(bad), undefined);
      await Deno.writeTextFile(
        join(keptStateDir(dir, "dev"), LOOK_FILE),
        JSON.stringify(bad),
      );
      const r = await build(rt, ref, { skipUnchanged: true });
      assert.deepEqual(Object.keys(models(r)), [AUDIT]);
      assert.ok(planSteps(r).includes("parse_ms"));
      assert.equal(
        await duckdb(dir, "select count(*) from raw.customers"),
        "[[3]]",
      );
      // The plan keeps a good look again.
      assert.ok(lookSql((await readLook(dir, "dev"))!));
    } finally {
      await rt.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("skip look: a guess covers a need only with every relation and schema, on the same adapter", () => {
  const done: WarehouseLook = {
    adapterType: "duckdb",
    prints: ['"wh"."raw"."a"', '"wh"."raw"."b"'],
    schemas: ["main", "raw"],
  };
  assert.ok(lookCovers(done, { ...done, prints: ['"wh"."raw"."b"'] }));
  assert.ok(!lookCovers(done, { ...done, prints: ['"wh"."raw"."c"'] }));
  assert.ok(!lookCovers(done, { ...done, schemas: ["main", "other"] }));
  assert.ok(!lookCovers(done, { ...done, adapterType: "postgres" }));
  assert.equal(
    lookSql({ adapterType: "snowflake", prints: ['"a"."b"'], schemas: [] }),
    undefined,
  );
  const sql = lookSql(done)!;
  assert.match(sql, /from "wh"\."raw"\."a" as t/);
  assert.match(sql, /lower\(table_schema\) in \('main', 'raw'\)/);
});
