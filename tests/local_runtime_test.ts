import assert from "node:assert/strict";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import { copyExample, writeFile } from "./_helpers.ts";
import { rows } from "./_facts.ts";

/** The first value of a query on the project's DuckDB file. */
async function query(projectDir: string, sql: string): Promise<unknown> {
  const [[value]] = await rows(projectDir, sql);
  return value;
}

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "local runtime: failures, errors and refresh behave like dbt",
  opts,
  async (t) => {
    await using copy = await copyExample();
    const rt = new LocalRuntime();
    const project = { projectDir: copy.dir, profilesDir: copy.dir };
    try {
      await t.step("a full build succeeds", async () => {
        const r = await rt.execute("build", project);
        assert.equal(r.success, true);
      });

      await t.step("full refresh rebuilds the incremental model", async () => {
        const before = await query(
          copy.dir,
          "select epoch_ms(min(loaded_at)) from orders",
        );
        const inc = await rt.runModels(project, { select: ["orders"] });
        assert.equal(inc.models_run, 1);
        assert.equal(
          await query(copy.dir, "select epoch_ms(min(loaded_at)) from orders"),
          before,
          "an incremental run keeps the old rows",
        );
        const full = await rt.runModels(project, {
          select: ["orders"],
          fullRefresh: true,
        });
        assert.equal(full.success, true);
        assert.equal(full.metadata.full_refresh, true);
        const after = await query(
          copy.dir,
          "select epoch_ms(min(loaded_at)) from orders",
        );
        assert.ok(Number(after) > Number(before), `${after} > ${before}`);
      });

      await t.step(
        "a model with a SQL error: success false, failures 1, E002 with dbt's message",
        async () => {
          await writeFile(
            copy.dir,
            "models/marts/broken.sql",
            "select no_such_column from {{ ref('stg_orders') }}\n",
          );
          const r = await rt.runModels(project, { select: ["broken"] });
          assert.equal(r.success, false);
          assert.equal(r.failures, 1);
          assert.equal(r.metadata.error_code, "FLOE-DBT-E002");
          const errors = r.metadata.errors as {
            unique_id: string;
            message: string;
          }[];
          assert.equal(errors[0]!.unique_id, "model.jaffle_duck.broken");
          assert.match(errors[0]!.message, /no_such_column/);
          await Deno.remove(`${copy.dir}/models/marts/broken.sql`);
        },
      );

      await t.step("failing data tests are counted", async () => {
        await writeFile(
          copy.dir,
          "tests/assert_always_fails.sql",
          "select customer_id from {{ ref('customers') }}\n",
        );
        const r = await rt.testModels(project, {
          select: ["assert_always_fails", "customers"],
        });
        assert.equal(r.success, false);
        assert.equal(r.failures, 1);
        assert.equal(r.tests_run, 5);
        const errors = r.metadata.errors as {
          status: string;
          failures: number;
        }[];
        assert.equal(errors[0]!.status, "fail");
        assert.equal(errors[0]!.failures, 8);
        await Deno.remove(`${copy.dir}/tests/assert_always_fails.sql`);
      });

      await t.step("a Jinja error is E001 with dbt's message", async () => {
        await writeFile(
          copy.dir,
          "models/marts/bad_jinja.sql",
          "select {{ ref('stg_orders' }}\n",
        );
        await assert.rejects(
          () => rt.runModels(project),
          (e: unknown) => {
            assert.ok(e instanceof FloeDbtError);
            assert.equal(e.code, "FLOE-DBT-E001");
            assert.match(e.message, /bad_jinja/);
            return true;
          },
        );
        await Deno.remove(`${copy.dir}/models/marts/bad_jinja.sql`);
        assert.equal(
          (await rt.runModels(project, { select: ["stg_orders"] })).success,
          true,
        );
      });

      await t.step("a ref to a missing model is E001 naming it", async () => {
        await writeFile(
          copy.dir,
          "models/marts/bad_ref.sql",
          "select * from {{ ref('does_not_exist') }}\n",
        );
        await assert.rejects(
          () => rt.compileProject(project),
          (e: unknown) =>
            e instanceof FloeDbtError && e.code === "FLOE-DBT-E001" &&
            /does_not_exist/.test(e.message),
        );
        await Deno.remove(`${copy.dir}/models/marts/bad_ref.sql`);
      });

      await t.step("broken profiles.yml is E003", async () => {
        const good = await Deno.readTextFile(`${copy.dir}/profiles.yml`);
        await Deno.writeTextFile(
          `${copy.dir}/profiles.yml`,
          "jaffle_duck:\n  target: dev\n  outputs: [not, a, mapping\n",
        );
        await assert.rejects(
          () => rt.runModels(project),
          (e: unknown) =>
            e instanceof FloeDbtError && e.code === "FLOE-DBT-E003",
        );
        await Deno.writeTextFile(`${copy.dir}/profiles.yml`, good);
      });

      await t.step("an unknown target is E003", async () => {
        await assert.rejects(
          () => rt.runModels({ ...project, target: "nope" }),
          (e: unknown) =>
            e instanceof FloeDbtError && e.code === "FLOE-DBT-E003",
        );
      });

      await t.step(
        "a missing profiles dir and a dir without dbt_project.yml are E003",
        async () => {
          await assert.rejects(
            () => rt.runModels({ ...project, profilesDir: `${copy.dir}/nope` }),
            (e: unknown) =>
              e instanceof FloeDbtError && e.code === "FLOE-DBT-E003" &&
              /Profiles directory/.test(e.message),
          );
          await assert.rejects(
            () =>
              rt.compileProject({
                ...project,
                projectDir: `${copy.dir}/models`,
              }),
            (e: unknown) =>
              e instanceof FloeDbtError && e.code === "FLOE-DBT-E003" &&
              /dbt_project.yml/.test(e.message),
          );
        },
      );
    } finally {
      await rt.close();
    }
  },
);
