/**
 * `--skip-unchanged` after calls other than run and build, against real
 * dbt-core on DuckDB: a seed loaded again by `seed` (or a snapshot taken
 * again by `snapshot`) is recorded, so the
 * next `run --skip-unchanged` rebuilds its child on the new rows instead of
 * reusing it; `--skip-unchanged` on `seed` is still refused; a deferred
 * call (`--changed`) drops the records of the nodes it executed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { duckdb, makeSkipProject, writeModel } from "./_skip_project.ts";
import { writeFile } from "./_helpers.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { skipRuntime } from "../src/skip/runtime.ts";
import { stateRuntime } from "../src/wrappers/state.ts";
import type { ProjectRef } from "../src/contract/runtime.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import {
  forgetRecords,
  readSkipStore,
  updateSkipStore,
} from "../src/skip/store.ts";

const P = "model.skipper.";

Deno.test({
  name:
    "a seed loaded again by `seed` makes its child rebuilt at the next run --skip-unchanged",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "floe-skip-seed-" });
    await makeSkipProject(dir);
    const rt = stateRuntime(skipRuntime(new LocalRuntime()));
    const ref = { projectDir: dir, profilesDir: dir } as ProjectRef;
    try {
      let r = await rt.execute("build", ref, {});
      assert.ok(r.success, JSON.stringify(r.metadata.errors));
      const before = await duckdb(dir, "select count(*) from main.region_list");
      await assert.rejects(
        () => rt.execute("seed", ref, { skipUnchanged: true }),
        (e) =>
          e instanceof FloeDbtError &&
          /applies to run and build/.test(e.message),
      );
      await writeFile(
        dir,
        "seeds/regions.csv",
        "region_id,region\n1,north\n2,south\n3,east\n4,west\n5,up\n",
      );
      r = await rt.execute("seed", ref, {});
      assert.ok(r.success, JSON.stringify(r.metadata.errors));
      r = await rt.execute("run", ref, { skipUnchanged: true });
      assert.ok(r.success, JSON.stringify(r.metadata.errors));
      const rebuilt = r.metadata.rebuilt as Record<string, string>;
      assert.ok(
        `${P}region_list` in rebuilt,
        `region_list reused on the old rows: ${JSON.stringify(rebuilt)}`,
      );
      assert.ok(!(r.metadata.reused as string[]).includes(`${P}region_list`));
      const after = await duckdb(dir, "select count(*) from main.region_list");
      assert.notEqual(after, before);
      assert.equal(
        after,
        await duckdb(dir, "select count(*) from main.regions"),
      );
      // The records are fresh: the seed's children are reused now (only
      // the model on a source opted out of fingerprints is rebuilt).
      r = await rt.execute("run", ref, { skipUnchanged: true });
      assert.ok(r.success);
      assert.deepEqual(Object.keys(r.metadata.rebuilt as object), [
        `${P}audit_copy`,
      ]);

      // A deferred call (--changed): the records of what it executed are
      // dropped (built on the state's relations), the others kept.
      await writeModel(dir, "region_list", 1);
      r = await rt.execute("run", ref, { changed: true });
      assert.ok(r.success, JSON.stringify(r.metadata.errors));
      const kept = (await readSkipStore(dir, "dev")).nodes;
      assert.ok(!(`${P}region_list` in kept), Object.keys(kept).join());
      assert.ok(`${P}customer_orders` in kept);
      r = await rt.execute("run", ref, { skipUnchanged: true });
      assert.ok(r.success, JSON.stringify(r.metadata.errors));
      assert.equal(
        (r.metadata.rebuilt as Record<string, string>)[`${P}region_list`],
        "no previous build",
      );
    } finally {
      await rt.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "a snapshot taken again by `snapshot` makes its child rebuilt at the next run --skip-unchanged",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "floe-skip-snap-" });
    await makeSkipProject(dir);
    await writeFile(
      dir,
      "snapshots/cust_snap.sql",
      `{% snapshot cust_snap %}
{{ config(target_schema='main', unique_key='id', strategy='check', check_cols=['name']) }}
select id, name from {{ source('raw', 'customers') }}
{% endsnapshot %}
`,
    );
    await writeFile(
      dir,
      "models/marts/snap_child.sql",
      "select count(*) as n from {{ ref('cust_snap') }}\n",
    );
    const rt = stateRuntime(skipRuntime(new LocalRuntime()));
    const ref = { projectDir: dir, profilesDir: dir } as ProjectRef;
    try {
      let r = await rt.execute("build", ref, {});
      assert.ok(r.success, JSON.stringify(r.metadata.errors));
      assert.equal(
        await duckdb(dir, "select n from main.snap_child"),
        "[[3]]",
      );
      await duckdb(dir, "update raw.customers set name = 'Ann B' where id = 1");
      r = await rt.execute("snapshot", ref, {});
      assert.ok(r.success, JSON.stringify(r.metadata.errors));
      r = await rt.execute("run", ref, { skipUnchanged: true });
      assert.ok(r.success, JSON.stringify(r.metadata.errors));
      const rebuilt = r.metadata.rebuilt as Record<string, string>;
      assert.equal(
        rebuilt[`${P}snap_child`],
        "upstream changed: snapshot.skipper.cust_snap",
        JSON.stringify(rebuilt),
      );
      assert.equal(
        await duckdb(dir, "select n from main.snap_child"),
        "[[4]]",
      );
    } finally {
      await rt.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("a deferred call's nodes are forgotten: their records dropped, others kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "floe-skip-forget-" });
  try {
    const rec = {
      key: "k",
      parts: { code: "", config: "", macros: "", vars: "", target: "" },
      parents: {},
      status: "success",
      built_at: "2026-01-01T00:00:00Z",
      invocation_id: null,
    };
    await updateSkipStore(dir, "dev", { [`${P}a`]: rec, [`${P}b`]: rec });
    await forgetRecords(dir, "dev", [`${P}a`, `${P}gone`]);
    const kept = await readSkipStore(dir, "dev");
    assert.deepEqual(Object.keys(kept.nodes), [`${P}b`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
