import assert from "node:assert/strict";
import type { Job } from "../src/jobs/schemas.ts";
import { copyExample, runAgent } from "./_helpers.ts";
import { startDaemonProcess } from "./_daemon.ts";
import { otelEnv, spansOf, startReceiver } from "./_receivers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN = "00f067aa0ba902b7";
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_SPAN}-01`;
const TOKEN = "otel-test-token-0123456789abcdef";

Deno.test(
  "cli: TRACEPARENT makes the floe_dbt.execute span of a real build a child of the caller's trace",
  opts,
  async () => {
    const otlp = startReceiver();
    try {
      await using copy = await copyExample();
      const r = await runAgent(
        ["build", "--project-dir", copy.dir, "--quiet"],
        { env: { ...otelEnv(otlp), TRACEPARENT } },
      );
      assert.equal(r.code, 0, r.stderr);
      const spans = spansOf(otlp).filter((s) => s.scope === "floe-dbt");
      const exec = spans.find((s) => s.name === "floe_dbt.execute");
      assert.ok(exec, `spans: ${spans.map((s) => s.name)}`);
      assert.equal(exec.traceId, TRACE_ID);
      assert.equal(exec.parentSpanId, PARENT_SPAN);
      assert.equal(exec.attributes["floe_dbt.runtime"], "local");
      assert.equal(exec.attributes["floe_dbt.command"], "build");
      assert.equal(exec.attributes["floe_dbt.project"], copy.dir);
      assert.equal(exec.attributes["floe_dbt.models_run"], 5);
      assert.equal(exec.attributes["floe_dbt.tests_run"], 14);
      assert.equal(exec.attributes["floe_dbt.failures"], 0);
      assert.equal(exec.attributes["floe_dbt.success"], true);
      assert.equal(exec.attributes["floe_dbt.fallback"], false);
      const nodes = exec.events.filter((e) => e.name === "dbt.node");
      assert.equal(nodes.length, 5 + 14 + 1, "models, tests and the seed");
      const customers = nodes.find((e) =>
        e.attributes["dbt.node.unique_id"] === "model.jaffle_duck.customers"
      );
      assert.equal(customers?.attributes["dbt.node.status"], "success");
      assert.equal(customers?.attributes["dbt.node.resource_type"], "model");
    } finally {
      await otlp.close();
    }
  },
);

Deno.test(
  "daemon: a job with a traceparent header traces floe_dbt.job > floe_dbt.execute, flushed on SIGTERM; JSON log lines carry job and trace ids, never the token",
  opts,
  async () => {
    const otlp = startReceiver();
    await using copy = await copyExample();
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/token`, TOKEN);
    const d = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--state-dir",
      `${dir}/state`,
      "--token-file",
      `${dir}/token`,
      "--log-format",
      "json",
    ], otelEnv(otlp));
    const auth = { authorization: `Bearer ${TOKEN}` };
    let job: Job;
    try {
      assert.ok(d.url, d.logs());
      const res = await fetch(`${d.url}/v1/jobs`, {
        method: "POST",
        headers: {
          ...auth,
          "content-type": "application/json",
          traceparent: TRACEPARENT,
        },
        body: JSON.stringify({
          command: "run",
          project_dir: copy.dir,
          select: "stg_customers",
        }),
      });
      assert.equal(res.status, 202);
      const submitted = await res.json() as Job;
      assert.equal(submitted.traceparent, TRACEPARENT, "kept in the record");
      for (;;) {
        job = await (await fetch(`${d.url}/v1/jobs/${submitted.id}`, {
          headers: auth,
        })).json() as Job;
        if (job.status !== "queued" && job.status !== "running") break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(job.status, "succeeded", JSON.stringify(job.error));
      assert.equal(job.trace_id, TRACE_ID);
    } finally {
      d.child.kill("SIGTERM");
    }
    assert.equal(await d.exit(), 0, d.logs());
    await otlp.close();

    const spans = spansOf(otlp).filter((s) => s.scope === "floe-dbt");
    const jobSpan = spans.find((s) => s.name === "floe_dbt.job");
    const exec = spans.find((s) => s.name === "floe_dbt.execute");
    assert.ok(jobSpan && exec, `spans: ${spans.map((s) => s.name)}`);
    assert.equal(jobSpan.traceId, TRACE_ID);
    assert.equal(jobSpan.parentSpanId, PARENT_SPAN);
    assert.equal(jobSpan.attributes["floe_dbt.job.id"], job.id);
    assert.equal(jobSpan.attributes["floe_dbt.job.status"], "succeeded");
    assert.equal(exec.traceId, TRACE_ID);
    assert.equal(exec.parentSpanId, jobSpan.spanId);
    assert.equal(exec.attributes["floe_dbt.command"], "run");
    assert.deepEqual(exec.attributes["floe_dbt.select"], ["stg_customers"]);
    assert.equal(exec.attributes["floe_dbt.models_run"], 1);

    const lines = d.logs().trim().split("\n").map((l) => JSON.parse(l));
    for (const l of lines) {
      assert.equal(typeof l.level, "string");
      assert.ok(!Number.isNaN(Date.parse(l.time)), l.time);
      assert.equal(typeof l.message, "string");
    }
    const finished = lines.find((l) => l.message === "job finished");
    assert.equal(finished?.job_id, job.id);
    assert.equal(finished?.trace_id, TRACE_ID);
    assert.equal(finished?.status, "succeeded");
    assert.ok(lines.some((l) => l.message === "stopped"));
    assert.doesNotMatch(
      d.logs(),
      new RegExp(TOKEN),
      "the token is never logged",
    );
  },
);
