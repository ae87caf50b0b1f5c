import assert from "node:assert/strict";
import type { Job } from "../src/jobs/schemas.ts";
import type { RunEvent } from "../src/lineage/mod.ts";
import { RunResultSchema } from "../src/contract/schemas.ts";
import { copyExample, runAgent, writeFile } from "./_helpers.ts";
import { startDaemonProcess } from "./_daemon.ts";
import { startReceiver } from "./_receivers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function lineageConfig(dir: string, url: string): Promise<string> {
  const file = `${dir}/floe-manifest.yaml`;
  await Deno.writeTextFile(
    file,
    `plugins:\n  dbt_runtime: local\n  lineage:\n    url: ${url}\n    namespace: duckdb-test\n    timeout_seconds: 5\n`,
  );
  return file;
}

const names = (ds: { name: string }[]) => ds.map((d) => d.name);

Deno.test(
  "lineage: a real build sends START then COMPLETE with the models built out and their sources and refs in",
  opts,
  async () => {
    const ol = startReceiver();
    try {
      await using copy = await copyExample();
      const config = await lineageConfig(
        copy.dir,
        `${ol.url}/api/v1/lineage`,
      );
      const r = await runAgent([
        "build",
        "--project-dir",
        copy.dir,
        "--config",
        config,
        "--json",
        "--quiet",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const result = RunResultSchema.parse(JSON.parse(r.stdout));
      assert.deepEqual(result.metadata.lineage, {
        events_sent: 2,
        events_failed: 0,
      });
      const events = ol.bodies("/api/v1/lineage") as RunEvent[];
      assert.deepEqual(events.map((e) => e.eventType), ["START", "COMPLETE"]);
      const [start, done] = events as [RunEvent, RunEvent];
      assert.match(start.run.runId, UUID);
      assert.equal(done.run.runId, start.run.runId);
      for (const e of events) {
        assert.deepEqual(e.job, {
          namespace: "duckdb-test",
          name: "jaffle_duck.build",
        });
        assert.equal(
          e.schemaURL,
          "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        );
        assert.match(e.producer, /^https:\/\//);
        assert.ok(!Number.isNaN(Date.parse(e.eventTime)));
      }
      const out = names(done.outputs);
      for (
        const m of [
          "customers",
          "orders",
          "stg_customers",
          "stg_orders",
          "stg_payments",
          "raw_payments",
        ]
      ) {
        assert.ok(out.includes(`jaffle_duck.main.${m}`), `${m} in ${out}`);
      }
      assert.ok(done.outputs.every((d) => d.namespace === "duckdb-test"));
      // The node facts become the schema and columnLineage dataset facets.
      const customers = done.outputs.find((d) =>
        d.name === "jaffle_duck.main.customers"
      )!;
      const schema = customers.facets?.schema as {
        fields: { name: string; type?: string }[];
      };
      assert.deepEqual(schema.fields.map((f) => f.name), [
        "customer_id",
        "first_name",
        "last_name",
        "number_of_orders",
        "lifetime_value",
      ]);
      assert.equal(schema.fields[0]!.type, "BIGINT");
      const columns = customers.facets?.columnLineage as {
        _schemaURL: string;
        fields: Record<string, { inputFields: unknown[] }>;
      };
      assert.match(columns._schemaURL, /ColumnLineageDatasetFacet/);
      assert.deepEqual(columns.fields.lifetime_value!.inputFields, [{
        namespace: "duckdb-test",
        name: "jaffle_duck.main.stg_payments",
        field: "amount",
      }]);
      const inputs = names(done.inputs);
      assert.ok(inputs.includes("jaffle_duck.main.stg_customers"), `${inputs}`);
      assert.ok(
        inputs.some((n) => n.endsWith(".raw_customers")),
        `the source raw_customers is an input: ${inputs}`,
      );
      assert.ok(!inputs.some((n) => n.includes("not_null")), "no tests");
      const facet = done.run.facets?.floe_dbt_run as {
        success: boolean;
        nodes: { unique_id: string; status: string }[];
      };
      assert.equal(facet.success, true);
      assert.equal(facet.nodes.length, 20);
      assert.ok(
        facet.nodes.some((n) =>
          n.unique_id === "model.jaffle_duck.customers" &&
          n.status === "success"
        ),
      );
    } finally {
      await ol.close();
    }
  },
);

Deno.test(
  "lineage: a model error sends FAIL with the errorMessage facet",
  opts,
  async () => {
    const ol = startReceiver();
    try {
      await using copy = await copyExample();
      await writeFile(
        copy.dir,
        "models/oops.sql",
        "select * from missing_table_xyz\n",
      );
      const config = await lineageConfig(copy.dir, ol.url);
      const r = await runAgent([
        "run",
        "-s",
        "oops stg_customers",
        "--project-dir",
        copy.dir,
        "--config",
        config,
        "--quiet",
      ]);
      assert.equal(r.code, 1, r.stderr);
      const events = ol.bodies("/") as RunEvent[];
      assert.deepEqual(events.map((e) => e.eventType), ["START", "FAIL"]);
      const fail = events[1]!;
      assert.equal(fail.job.name, "jaffle_duck.run");
      const error = fail.run.facets?.errorMessage as { message: string };
      // dbt's class and the node; its SQL text stays in the job's result.
      assert.match(
        error.message,
        /^model\.jaffle_duck\.oops: error \(.*Error\)$/,
      );
      assert.ok(!error.message.includes("missing_table_xyz"));
      assert.ok(names(fail.outputs).includes("jaffle_duck.main.stg_customers"));
    } finally {
      await ol.close();
    }
  },
);

Deno.test(
  "lineage: a dead lineage endpoint does not fail a daemon job; the failures are counted and logged",
  opts,
  async () => {
    const dead = startReceiver();
    const url = dead.url;
    await dead.close();
    await using copy = await copyExample();
    const config = await lineageConfig(copy.dir, url);
    const d = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--state-dir",
      `${copy.dir}/.floe/state`,
      "--config",
      config,
    ]);
    try {
      assert.ok(d.url, d.logs());
      const submitted = await (await d.fetch(`/v1/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          command: "run",
          project_dir: copy.dir,
          select: "stg_customers",
        }),
      })).json() as Job;
      let job: Job;
      for (;;) {
        job = await (await d.fetch(`/v1/jobs/${submitted.id}`))
          .json() as Job;
        if (job.status !== "queued" && job.status !== "running") break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(job.status, "succeeded", JSON.stringify(job.error));
      const result = RunResultSchema.parse(job.result);
      assert.deepEqual(result.metadata.lineage, {
        events_sent: 0,
        events_failed: 2,
      });
      const sse = await (await d.fetch(`/v1/jobs/${job.id}/events`))
        .text();
      assert.match(sse, /OpenLineage START event not delivered/);
      assert.match(sse, /OpenLineage COMPLETE event not delivered/);
    } finally {
      d.child.kill("SIGTERM");
      assert.equal(await d.exit(), 0);
    }
  },
);
