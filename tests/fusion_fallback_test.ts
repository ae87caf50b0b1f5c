/**
 * Fallback to dbt-core for a target dbt Fusion does not serve, for real:
 * PostgreSQL (Debian's server, a throwaway cluster) through dbt-postgres.
 */
import assert from "node:assert/strict";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import type { ProgressEvent } from "../src/contract/schemas.ts";
import { writeFile } from "./_helpers.ts";
import { startPostgres } from "./_postgres.ts";

async function pgProject(port: number, user: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "floe-fusion-pg-" });
  await writeFile(
    dir,
    "dbt_project.yml",
    "name: pg_demo\nversion: '1.0.0'\nconfig-version: 2\nprofile: pg_demo\n",
  );
  await writeFile(
    dir,
    "profiles.yml",
    `pg_demo:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      host: 127.0.0.1\n      port: ${port}\n      user: ${user}\n      password: ""\n      dbname: postgres\n      schema: floe\n      threads: 1\n`,
  );
  await writeFile(dir, "seeds/people.csv", "id,name\n1,ada\n2,grace\n");
  await writeFile(
    dir,
    "models/named.sql",
    "select id, upper(name) as name from {{ ref('people') }}\n",
  );
  await writeFile(
    dir,
    "models/schema.yml",
    "version: 2\nmodels:\n  - name: named\n    columns:\n      - name: id\n        data_tests: [not_null, unique]\n",
  );
  return dir;
}

Deno.test({
  name: "fusion fallback: postgres target runs through dbt-core, E006 when off",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await using pg = await startPostgres();
    const dir = await pgProject(pg.port, pg.user);
    const project = { projectDir: dir, profilesDir: dir };
    try {
      await t.step(
        "default: falls back, records why, builds in Postgres",
        async () => {
          const rt = new FusionRuntime();
          try {
            const events: ProgressEvent[] = [];
            const r = await rt.execute("build", project, {}, {
              onEvent: (e) => events.push(e),
            });
            assert.equal(r.success, true, JSON.stringify(r.metadata));
            assert.equal(r.models_run, 1);
            assert.equal(r.tests_run, 2);
            assert.equal(r.metadata.runtime, "fusion");
            assert.equal(r.metadata.executed_by, "local");
            assert.equal(r.metadata.fallback, true);
            assert.equal(r.metadata.adapter, "postgres");
            assert.match(String(r.metadata.fallback_reason), /'postgres'/);
            assert.ok(
              events.some((e) => e.type === "log" && e.level === "warn"),
              "a warning event about the fallback",
            );
            assert.equal(
              await pg.sql(
                "select string_agg(name, ',' order by id) from floe.named",
              ),
              "ADA,GRACE",
            );
            const meta = rt.getRuntimeMetadata();
            assert.equal(meta.fallbacks, 1);
            assert.equal(meta.adapter, "postgres");
          } finally {
            await rt.close();
          }
        },
      );

      await t.step("Fusion's own dbt1005 refusal also falls back", async () => {
        // Claim Fusion serves postgres: Fusion itself then refuses at run time.
        const rt = new FusionRuntime({ adapters: ["duckdb", "postgres"] });
        try {
          const r = await rt.runModels(project, { select: ["named"] });
          assert.equal(r.success, true);
          assert.equal(r.models_run, 1);
          assert.equal(r.metadata.executed_by, "local");
          assert.match(
            String(r.metadata.fallback_reason),
            /refused.*not yet supported by dbt Fusion/,
          );
        } finally {
          await rt.close();
        }
      });

      await t.step(
        "fallback_to_core: false is E006 naming the adapters",
        async () => {
          const rt = new FusionRuntime({ fallback_to_core: false });
          await assert.rejects(
            () => rt.runModels(project),
            (e: unknown) =>
              e instanceof FloeDbtError && e.code === "FLOE-DBT-E006" &&
              /'postgres'/.test(e.message) && /duckdb/.test(e.message) &&
              /snowflake/.test(e.message) && Boolean(e.hint),
          );
          assert.equal(rt.getRuntimeMetadata().fallbacks, 0);
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
