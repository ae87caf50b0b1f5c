/**
 * Lineage and tracing carry dbt's error class and the failing node, never
 * dbt's text (issue 19, item 8): a failed cast quotes the data value and a
 * compiler error quotes what the project wrote; the OpenLineage FAIL event's
 * errorMessage and the span status hold neither, while the job's own result
 * keeps the full text. Real dbt-core, real receivers.
 */
import assert from "node:assert/strict";
import type { RunEvent } from "../src/lineage/mod.ts";
import { RunResultSchema } from "../src/contract/schemas.ts";
import { copyExample, runAgent, writeFile } from "./_helpers.ts";
import { otelEnv, spansOf, startReceiver } from "./_receivers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const DATA = "secret-value-4242";

async function lineageConfig(dir: string, url: string): Promise<string> {
  const file = `${dir}/floe-manifest.yaml`;
  await Deno.writeTextFile(
    file,
    `plugins:\n  dbt_runtime: local\n  lineage:\n    url: ${url}\n    namespace: duckdb-test\n    timeout_seconds: 5\n`,
  );
  return file;
}

Deno.test(
  "a failing model's data value reaches neither lineage nor the span; the result keeps it",
  opts,
  async () => {
    const ol = startReceiver();
    const otlp = startReceiver();
    try {
      await using copy = await copyExample();
      await writeFile(
        copy.dir,
        "models/oops.sql",
        `{{ config(materialized='table') }}\nselect cast('${DATA}' as integer) as n\n`,
      );
      const config = await lineageConfig(copy.dir, ol.url);
      const r = await runAgent([
        "run",
        "-s",
        "oops",
        "--project-dir",
        copy.dir,
        "--config",
        config,
        "--json",
        "--quiet",
      ], { env: otelEnv(otlp) });
      assert.equal(r.code, 1, r.stderr);
      // The caller's own result: dbt's full text, the value included.
      const result = RunResultSchema.parse(JSON.parse(r.stdout.trim()));
      assert.ok(JSON.stringify(result.metadata.errors).includes(DATA));

      const events = ol.bodies("/") as RunEvent[];
      assert.deepEqual(events.map((e) => e.eventType), ["START", "FAIL"]);
      const error = events[1]!.run.facets?.errorMessage as { message: string };
      assert.match(
        error.message,
        /^model\.jaffle_duck\.oops: error \([A-Za-z ]*Error\)$/,
      );
      assert.ok(!JSON.stringify(events).includes(DATA));

      const spans = spansOf(otlp);
      assert.ok(spans.length > 0);
      assert.ok(!JSON.stringify(spans).includes(DATA));
    } finally {
      await ol.close();
      await otlp.close();
    }
  },
);

Deno.test(
  "a compiler error's text reaches neither lineage nor the span status: code, class and node only",
  opts,
  async () => {
    const ol = startReceiver();
    const otlp = startReceiver();
    try {
      await using copy = await copyExample();
      await writeFile(
        copy.dir,
        "models/oops.sql",
        `{{ exceptions.raise_compiler_error("${DATA}") }}\nselect 1 as n\n`,
      );
      const config = await lineageConfig(copy.dir, ol.url);
      const r = await runAgent([
        "run",
        "-s",
        "oops",
        "--project-dir",
        copy.dir,
        "--config",
        config,
      ], { env: otelEnv(otlp) });
      assert.notEqual(r.code, 0);
      // The caller sees dbt's message in full.
      assert.ok(r.stderr.includes(DATA), r.stderr);

      const events = ol.bodies("/") as RunEvent[];
      assert.deepEqual(events.map((e) => e.eventType), ["START", "FAIL"]);
      const error = events[1]!.run.facets?.errorMessage as { message: string };
      assert.match(
        error.message,
        /^FLOE-DBT-E001 compilation failed \([A-Za-z]*Error\) in model oops$/,
      );
      assert.ok(!JSON.stringify(events).includes(DATA));

      const exec = spansOf(otlp).find((s) => s.name === "floe_dbt.execute");
      assert.ok(exec, JSON.stringify(spansOf(otlp).map((s) => s.name)));
      assert.equal(exec.status.code, 2); // ERROR
      assert.match(
        exec.status.message ?? "",
        /^FLOE-DBT-E001 compilation failed \([A-Za-z]*Error\) in model oops$/,
      );
      assert.ok(!JSON.stringify(spansOf(otlp)).includes(DATA));
    } finally {
      await ol.close();
      await otlp.close();
    }
  },
);
