/**
 * `--skip-unchanged` and dbt hooks, against real dbt-core on DuckDB: a
 * project-wide audit post-hook writing the time into another table does
 * not make every model "read the clock" (dbt records hook macros among
 * the node's own); a hook that writes the time into `{{ this }}` does.
 *
 * @module
 */
import assert from "node:assert/strict";
import { duckdb, makeSkipProject } from "./_skip_project.ts";
import { writeFile } from "./_helpers.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { skipRuntime } from "../src/skip/runtime.ts";
import { stateRuntime } from "../src/wrappers/state.ts";
import type { ProjectRef } from "../src/contract/runtime.ts";

const P = "model.skipper.";

Deno.test({
  name:
    "an audit post-hook into another table keeps models reusable; a hook stamping {{ this }} does not",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "floe-skip-hook-" });
    await makeSkipProject(dir);
    await writeFile(
      dir,
      "dbt_project.yml",
      `name: skipper\nversion: "1.0.0"\nconfig-version: 2\nprofile: skipper\nvars:\n  min_amount: 0\nmodels:\n  skipper:\n    +materialized: table\n    +post-hook: "{{ audit_row() }}"\n    staging:\n      +materialized: view\n    marts:\n      stamped:\n        +post-hook: "update {{ this }} set loaded_at = now()"\n`,
    );
    await writeFile(
      dir,
      "macros/audit.sql",
      "{% macro audit_row() %}insert into raw.audit_log select '{{ this }}', now(){% endmacro %}\n",
    );
    await writeFile(
      dir,
      "models/marts/stamped.sql",
      "select 1 as id, cast(null as timestamp) as loaded_at\n",
    );

    await duckdb(dir, "create table raw.audit_log (rel varchar, ts timestamp)");
    const rt = stateRuntime(skipRuntime(new LocalRuntime()));
    const ref = { projectDir: dir, profilesDir: dir } as ProjectRef;
    try {
      let r = await rt.execute("build", ref, {});
      assert.ok(r.success, JSON.stringify(r.metadata.errors));
      r = await rt.execute("build", ref, { skipUnchanged: true });
      assert.ok(r.success, JSON.stringify(r.metadata.errors));
      const rebuilt = r.metadata.rebuilt as Record<string, string>;
      assert.deepEqual(
        Object.keys(rebuilt).filter((id) => id.startsWith("model.")).sort(),
        [`${P}audit_copy`, `${P}stamped`],
        JSON.stringify(rebuilt),
      );
      assert.equal(rebuilt[`${P}stamped`], "reads the clock: hook: now()");
      assert.ok(
        (r.metadata.reused as string[]).includes(`${P}customer_orders`),
      );
      // The audit hook ran for each model built (and only those).
      assert.notEqual(
        await duckdb(dir, "select count(*) from raw.audit_log"),
        "0",
      );
    } finally {
      await rt.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
