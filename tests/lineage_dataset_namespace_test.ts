/**
 * `plugins.lineage.dataset_namespace`: the datasets of the agent's OpenLineage
 * events are in the warehouse's namespace (as the Python client's Airflow
 * Assets name them) while the job keeps `namespace`; a value with a user or
 * password is refused when the file is loaded.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { RunEvent } from "../src/lineage/mod.ts";
import { LineageConfigSchema } from "../src/config/config.ts";
import { copyExample, runAgent } from "./_helpers.ts";
import { startReceiver } from "./_receivers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "lineage: with dataset_namespace a real seed's datasets are in it and the job keeps namespace",
  opts,
  async () => {
    const ol = startReceiver();
    try {
      await using copy = await copyExample();
      const config = `${copy.dir}/floe-manifest.yaml`;
      await Deno.writeTextFile(
        config,
        `plugins:\n  dbt_runtime: local\n  lineage:\n    url: ${ol.url}/api/v1/lineage\n    namespace: jobs-here\n    dataset_namespace: duckdb://analytics-host\n`,
      );
      const r = await runAgent([
        "seed",
        "--project-dir",
        copy.dir,
        "--config",
        config,
        "--quiet",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const events = ol.bodies("/api/v1/lineage") as RunEvent[];
      assert.deepEqual(events.map((e) => e.eventType), ["START", "COMPLETE"]);
      const done = events[1]!;
      assert.equal(done.job.namespace, "jobs-here");
      assert.deepEqual(
        done.outputs.map((d) => [d.namespace, d.name]),
        [["duckdb://analytics-host", "jaffle_duck.main.raw_payments"]],
      );
    } finally {
      await ol.close();
    }
  },
);

Deno.test("lineage: dataset_namespace with credentials is refused", () => {
  const bad = LineageConfigSchema.safeParse({
    url: "https://marquez.example.com/api/v1/lineage",
    dataset_namespace: "postgres://user:secret@db.internal:5432",
  });
  assert.equal(bad.success, false);
  assert.match(JSON.stringify(bad.error?.issues), /no user or password/);
  const good = LineageConfigSchema.parse({
    url: "https://marquez.example.com/api/v1/lineage",
    dataset_namespace: "postgres://db.internal:5432",
  });
  assert.equal(good.dataset_namespace, "postgres://db.internal:5432");
  assert.equal(good.namespace, "floe-dbt");
});
