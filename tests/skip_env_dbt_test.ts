/**
 * `--skip-unchanged` keys `env_var()` values, against real dbt-core on
 * DuckDB: a model reading a variable (in its code or through a macro) is
 * rebuilt when the variable changes and reused while it does not; a model
 * whose `env_var` name is an expression is never reused; skip.json never
 * holds a value.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "./_path.ts";
import { duckdb, makeSkipProject } from "./_skip_project.ts";
import { writeFile } from "./_helpers.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { skipRuntime } from "../src/skip/runtime.ts";
import { stateRuntime } from "../src/wrappers/state.ts";
import type { ProjectRef } from "../src/contract/runtime.ts";
import type { RunResult } from "../src/contract/schemas.ts";

const P = "model.skipper.";
const REGION = "FLOE_SKIP_TEST_REGION";
const MACRO = "FLOE_SKIP_TEST_MACRO";

function rebuilt(r: RunResult): Record<string, string> {
  return r.metadata.rebuilt as Record<string, string>;
}

Deno.test({
  name: "env_var values are keyed; a non-literal env_var name is never reused",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "floe-skip-env-" });
    await makeSkipProject(dir);
    await writeFile(
      dir,
      "models/marts/env_m.sql",
      `select '{{ env_var("${REGION}", "none") }}' as region\n`,
    );
    await writeFile(
      dir,
      "macros/env_macro.sql",
      `{% macro from_env() %}'{{ env_var('${MACRO}', 'm') }}'{% endmacro %}\n`,
    );
    await writeFile(
      dir,
      "models/marts/env_macro.sql",
      "select {{ from_env() }} as v\n",
    );
    await writeFile(
      dir,
      "models/marts/env_dyn.sql",
      `select '{{ env_var("FLOE_SKIP_" ~ "TEST_DYN", "d") }}' as v\n`,
    );
    const rt = stateRuntime(skipRuntime(new LocalRuntime()));
    const ref = { projectDir: dir, profilesDir: dir } as ProjectRef;
    const build = async (region: string, macro: string) => {
      Deno.env.set(REGION, region);
      Deno.env.set(MACRO, macro);
      const r = await rt.execute("build", ref, { skipUnchanged: true });
      assert.ok(r.success, JSON.stringify(r.metadata.errors));
      return r;
    };
    try {
      Deno.env.set(REGION, "west-7c1f9e");
      Deno.env.set(MACRO, "m1");
      let r = await rt.execute("build", ref, {});
      assert.ok(r.success, JSON.stringify(r.metadata.errors));

      r = await build("west-7c1f9e", "m1");
      let why = rebuilt(r);
      assert.ok(!(`${P}env_m` in why), JSON.stringify(why));
      assert.ok(!(`${P}env_macro` in why), JSON.stringify(why));
      assert.match(
        why[`${P}env_dyn`] ?? "",
        /^unknown input: env_var name not a literal/,
      );

      r = await build("east-7c1f9e", "m1");
      why = rebuilt(r);
      assert.equal(why[`${P}env_m`], "vars changed");
      assert.ok(!(`${P}env_macro` in why), JSON.stringify(why));
      assert.equal(
        await duckdb(dir, "select region from main.env_m"),
        '[["east-7c1f9e"]]',
      );

      r = await build("east-7c1f9e", "m2");
      why = rebuilt(r);
      assert.equal(why[`${P}env_macro`], "vars changed");
      assert.ok(!(`${P}env_m` in why), JSON.stringify(why));

      const kept = await Deno.readTextFile(
        join(dir, ".floe", "state", "dev", "skip.json"),
      );
      assert.ok(kept.includes(`${P}env_m`));
      assert.ok(!kept.includes("7c1f9e"), "an env_var value was kept");
    } finally {
      Deno.env.delete(REGION);
      Deno.env.delete(MACRO);
      await rt.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
