/**
 * The contract suite: written once, run by every runtime (local, fusion, and
 * cloud against the stand-in dbt Cloud server). Each runtime's test file
 * calls `contractSuite` with a fixture factory.
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { FloeDbtError } from "../../src/contract/errors.ts";
import type { DbtRuntime, ProjectRef } from "../../src/contract/runtime.ts";
import {
  FLOE_API_VERSION,
  LintResultSchema,
  type ProgressEvent,
  ProgressEventSchema,
  RunResultSchema,
} from "../../src/contract/schemas.ts";

/** What a runtime's test gives the suite. */
export interface ContractFixture {
  runtime: DbtRuntime;
  /** A fresh copy of the example project (jaffle_duck). */
  project: ProjectRef;
  /** Tear down servers, temp dirs, workers. */
  cleanup(): Promise<void>;
}

/** Options of the suite for one runtime. */
export interface ContractOptions {
  /** The runtime reads project files itself (not true of cloud). */
  readsProjectFiles: boolean;
  /**
   * Which engine versions `getRuntimeMetadata()` names before the first call
   * (local: dbt and Python; fusion: dbt only, it has no Python; cloud: the
   * remote environment's, unknown until a run).
   */
  versions: { dbt: boolean; python: boolean };
}

/** A model that fails at run time (DuckDB cannot cast the text). */
const BROKEN_MODEL = "{{ config(materialized='table') }}\n" +
  "select cast('not a number' as integer) as id\n";
/** A model downstream of it: dbt skips it when the parent errors. */
const AFTER_BROKEN = "select id from {{ ref('broken_cast') }}\n";
/** A singular data test that returns a row, so it fails. */
const FAILING_TEST = "select 1 as id\n";

/** The example's models, tests and seeds (what a full build covers). */
export const EXAMPLE_COUNTS = { models: 5, tests: 14, seeds: 1 };

/** Register the contract suite for one runtime. */
export function contractSuite(
  name: string,
  make: () => Promise<ContractFixture>,
  options: ContractOptions,
): void {
  Deno.test({
    name: `contract[${name}]`,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn(t) {
      const fx = await make();
      const { runtime, project } = fx;
      try {
        await t.step(
          "identity: name, version, floe API version, metadata type",
          () => {
            assert.equal(runtime.name, name);
            assert.match(runtime.version, /^\d+\.\d+\.\d+/);
            assert.equal(runtime.floeApiVersion, FLOE_API_VERSION);
            assert.equal(runtime.getRuntimeMetadata().type, name);
            assert.equal(typeof runtime.supportsParallelExecution(), "boolean");
            assert.equal(typeof runtime.supportsSqlLinting(), "boolean");
          },
        );

        await t.step(
          "metadata names the dbt and Python versions before the first call",
          () => {
            const meta = runtime.getRuntimeMetadata();
            const version = /^\d+\.\d+(\.\d+)?/;
            if (options.versions.dbt) {
              assert.match(String(meta.dbt_version), version);
            }
            if (options.versions.python) {
              assert.match(String(meta.python_version), version);
            } else if (options.versions.dbt) {
              assert.equal(meta.python_version, null);
            }
          },
        );

        await t.step("availability says yes here", async () => {
          const a = await runtime.availability();
          assert.equal(a.available, true, a.reason);
        });

        await t.step(
          "compileProject returns an existing manifest with the example's models",
          async () => {
            const path = await runtime.compileProject(project);
            assert.ok(path.endsWith("manifest.json"), path);
            assert.ok(existsSync(path), `${path} exists`);
            const manifest = JSON.parse(await Deno.readTextFile(path));
            assert.ok(manifest.nodes["model.jaffle_duck.customers"]);
          },
        );

        await t.step(
          "build counts models, tests and seeds, and streams progress",
          async () => {
            if (options.readsProjectFiles) {
              // An earlier `docs generate`'s catalog: not this run's.
              await Deno.mkdir(join(project.projectDir, "target"), {
                recursive: true,
              });
              await Deno.writeTextFile(
                join(project.projectDir, "target", "catalog.json"),
                JSON.stringify({ metadata: {}, nodes: {}, sources: {} }),
              );
            }
            const events: ProgressEvent[] = [];
            const r = await runtime.execute("build", project, {}, {
              onEvent: (e) => events.push(e),
            });
            RunResultSchema.parse(r);
            assert.equal(r.success, true, JSON.stringify(r.metadata));
            assert.equal(r.models_run, EXAMPLE_COUNTS.models);
            assert.equal(r.tests_run, EXAMPLE_COUNTS.tests);
            assert.equal(r.failures, 0);
            assert.equal(r.metadata.seeds_run, EXAMPLE_COUNTS.seeds);
            assert.equal(r.catalog_path, null, "no catalog from a build");
            for (const e of events) ProgressEventSchema.parse(e);
            const finished = events.filter((e) => e.type === "node_finished");
            assert.ok(
              finished.some((e) =>
                e.type === "node_finished" &&
                e.unique_id === "model.jaffle_duck.customers" &&
                e.status === "success"
              ),
              "a node_finished event for customers",
            );
          },
        );

        await t.step(
          "runModels with select runs only the selected model",
          async () => {
            const r = await runtime.runModels(project, {
              select: ["stg_orders"],
            });
            assert.equal(r.success, true);
            assert.equal(r.models_run, 1);
            assert.equal(r.tests_run, 0);
          },
        );

        await t.step("runModels with exclude leaves models out", async () => {
          const r = await runtime.runModels(project, {
            exclude: ["customers", "orders"],
          });
          assert.equal(r.success, true);
          assert.equal(r.models_run, 3);
        });

        await t.step("testModels runs the data tests", async () => {
          const r = await runtime.testModels(project, {
            select: ["stg_orders"],
          });
          assert.equal(r.success, true);
          assert.equal(r.models_run, 0);
          assert.equal(r.tests_run, 4);
        });

        await t.step(
          "getManifest and getRunResults return dbt's artifacts",
          async () => {
            const manifest = await runtime.getManifest(project);
            const meta = manifest.metadata as { dbt_schema_version: string };
            assert.match(meta.dbt_schema_version, /manifest\/v12/);
            const rr = await runtime.getRunResults(project);
            assert.ok(Array.isArray(rr.results));
          },
        );

        await t.step("lintProject matches supportsSqlLinting", async () => {
          if (runtime.supportsSqlLinting()) {
            const r = await runtime.lintProject(project);
            LintResultSchema.parse(r);
            assert.equal(r.passed, r.errors === 0);
          } else {
            await assert.rejects(
              () => runtime.lintProject(project),
              FloeDbtError,
            );
          }
        });

        await t.step(
          "a failing model: models_run counts successes, failures the error, downstream skipped",
          async () => {
            const files = [
              await addFile(project, "models/broken_cast.sql", BROKEN_MODEL),
              await addFile(project, "models/after_broken.sql", AFTER_BROKEN),
            ];
            try {
              const r = await runtime.runModels(project, {
                select: ["broken_cast+", "stg_customers"],
              });
              RunResultSchema.parse(r);
              assert.equal(r.success, false);
              assert.equal(r.models_run, 1, JSON.stringify(r.metadata));
              assert.equal(r.tests_run, 0);
              assert.equal(r.failures, 1);
              assert.equal(r.metadata.skipped, 1);
              assert.equal(r.catalog_path, null);
            } finally {
              for (const f of files) await Deno.remove(f);
            }
          },
        );

        await t.step(
          "a failing test: tests_run counts executed tests, failures the failed one",
          async () => {
            const file = await addFile(
              project,
              "tests/assert_always_fails.sql",
              FAILING_TEST,
            );
            try {
              const r = await runtime.testModels(project, {
                select: ["stg_orders", "assert_always_fails"],
              });
              RunResultSchema.parse(r);
              assert.equal(r.success, false);
              assert.equal(r.models_run, 0);
              assert.equal(r.tests_run, 5, JSON.stringify(r.metadata));
              assert.equal(r.failures, 1);
            } finally {
              await Deno.remove(file);
            }
          },
        );

        if (options.readsProjectFiles) {
          await t.step("a missing project dir is FLOE-DBT-E003", async () => {
            await assert.rejects(
              () =>
                runtime.runModels({
                  ...project,
                  projectDir: "/nonexistent/floe",
                }),
              (e: unknown) =>
                e instanceof FloeDbtError && e.code === "FLOE-DBT-E003",
            );
          });
        }
      } finally {
        await fx.cleanup();
      }
    },
  });
}

/** Write a file into the project (cloud's stand-in runs dbt on it too). */
async function addFile(
  project: ProjectRef,
  rel: string,
  text: string,
): Promise<string> {
  const path = join(project.projectDir, rel);
  await Deno.writeTextFile(path, text);
  return path;
}
