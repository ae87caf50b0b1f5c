/**
 * Per-node facts from the cloud runtime, against the fake dbt Cloud serving
 * the artifacts of a real dbt-core build of the example project (with a
 * model that renames and aggregates): a job that generates docs (its last
 * step's run_results.json is `docs generate`'s, so the build step's is
 * fetched with `?step=N`, and catalog.json gives the columns' types), and a
 * job without docs (the manifest's columns). No row counts: the agent has no
 * warehouse access.
 */
import assert from "node:assert/strict";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import type { NodeFactsMap } from "../src/dbt/node_facts.ts";
import type { ProgressEvent } from "../src/contract/schemas.ts";
import { copyExample } from "./_helpers.ts";
import { join } from "./_path.ts";
import { ACCOUNT, cloudSetup } from "./cloud/setup.ts";
import {
  addRevenueModel,
  assertBuiltIds,
  assertColumnsAsRelation,
  assertExampleLineage,
  assertNoLineageWithoutUpstream,
  assertRevenueDescriptions,
  assertSeedLoad,
  BUILT,
  REVENUE,
} from "./_facts.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const DOCS_JOB = 102;

async function read(dir: string, names: string[]) {
  const out: Record<string, string> = {};
  for (const n of names) {
    out[n] = await Deno.readTextFile(join(dir, "target", n));
  }
  return out;
}

Deno.test(
  "cloud node facts: from a real build's artifacts, with and without docs",
  opts,
  async (t) => {
    // The real thing dbt Cloud would run: dbt build, then dbt docs generate.
    await using copy = await copyExample("floe-cloud-facts-");
    // A column type the manifest declares (used when there is no catalog).
    await addRevenueModel(copy.dir, "decimal(38,2)");
    const local = new LocalRuntime();
    const project = { projectDir: copy.dir, profilesDir: copy.dir };
    let build: Record<string, string>;
    let docs: Record<string, string>;
    try {
      const b = await local.execute("build", project);
      assert.equal(b.success, true);
      build = await read(copy.dir, ["manifest.json", "run_results.json"]);
      const d = await local.execute("docs-generate", project);
      assert.equal(d.success, true);
      docs = await read(copy.dir, [
        "manifest.json",
        "run_results.json",
        "catalog.json",
      ]);
    } finally {
      await local.close();
    }
    assert.equal(JSON.parse(docs["run_results.json"]!).args.which, "generate");
    /** A build job ending in docs generate, its steps' files as given. */
    const docsJob = async (stepArtifacts: Record<string, string>[]) => {
      const s = await cloudSetup({ job_ids: { run: 101, build: DOCS_JOB } });
      s.server.jobs.set(DOCS_JOB, ["dbt build", "dbt docs generate"]);
      s.server.executor = () =>
        Promise.resolve({ ok: true, artifacts: docs, stepArtifacts });
      return s;
    };

    await t.step("a job that generates docs: catalog types", async () => {
      await using s = await docsJob([build, docs]);
      const events: ProgressEvent[] = [];
      const r = await s.runtime.execute("build", s.project, {}, {
        onEvent: (e) => events.push(e),
      });
      assert.equal(r.success, true);
      // The counts are the build step's, not docs generate's (no tests).
      const built = JSON.parse(build["run_results.json"]!) as {
        results: { unique_id: string }[];
      };
      const count = (prefix: string) =>
        built.results.filter((n) => n.unique_id.startsWith(prefix)).length;
      assert.ok(count("test.") > 0);
      assert.equal(r.tests_run, count("test."));
      assert.equal(r.models_run, count("model."));
      const nodes = r.metadata.nodes as NodeFactsMap;
      assertBuiltIds(nodes);
      // The build step's run_results.json, asked for by its step index.
      const stepGets = s.server.calls(/\/artifacts\/run_results\.json$/)
        .filter((c) => c.query.step !== undefined);
      // Index 3: after the clone and profile set-up steps.
      assert.deepEqual(stepGets.map((c) => c.query.step), ["3"]);
      assert.ok(
        stepGets[0]!.path.startsWith(`/api/v2/accounts/${ACCOUNT}/runs/`),
      );
      await assertColumnsAsRelation(copy.dir, nodes);
      for (const id of BUILT) assert.equal(nodes[id]!.row_count, null, id);
      await assertSeedLoad(copy.dir, nodes);
      assertRevenueDescriptions(nodes);
      assertExampleLineage((id) => nodes[id]!.column_lineage);
      // An external CSV source has no catalog entry: no lineage, no error.
      assertNoLineageWithoutUpstream(nodes);
      assert.ok(
        events.some((e) =>
          e.type === "log" && e.level === "debug" &&
          /stg_orders/.test(e.message)
        ),
      );
    });

    await t.step("a job without docs: the manifest's columns", async () => {
      await using s = await cloudSetup();
      s.server.executor = () => Promise.resolve({ ok: true, artifacts: build });
      const r = await s.runtime.execute("build", s.project);
      assert.equal(r.success, true);
      const nodes = r.metadata.nodes as NodeFactsMap;
      assertBuiltIds(nodes);
      assert.equal(
        s.server.calls(/\/artifacts\//).filter((c) => c.query.step).length,
        0,
      );
      const rev = nodes[REVENUE]!;
      assert.deepEqual(rev.columns, [{
        name: "revenue",
        data_type: "decimal(38,2)",
        description: "Sum of the customer's order amounts.",
      }]);
      assert.equal(rev.row_count, null);
      // The manifest declares customers' columns; the orders mart's too.
      const cust = nodes["model.jaffle_duck.customers"]!;
      assert.ok(cust.columns.some((c) => c.name === "customer_id"));
      // Its parents declare only some columns: sqlglot refuses to guess.
      assert.equal(cust.column_lineage, null);
    });

    await t.step(
      "the build step's run_results.json missing: zero counts, why, and docs generate's file neither kept nor read",
      async () => {
        await using s = await docsJob([{}, docs]);
        const r = await s.runtime.execute("build", s.project);
        assert.equal(r.success, true);
        assert.equal(r.models_run, 0);
        assert.equal(r.tests_run, 0);
        assert.equal(r.run_results_path, "");
        assert.match(
          String(r.metadata.run_results_unavailable),
          /no run_results\.json for step 3/,
        );
        assert.equal(r.metadata.nodes, undefined);
        const kept = String(r.metadata.artifacts_dir);
        await assert.rejects(Deno.stat(`${kept}/run_results.json`));
        await Deno.stat(`${kept}/manifest.json`);
      },
    );

    await t.step("node_facts: false reports none", async () => {
      await using s = await cloudSetup({ node_facts: false });
      s.server.executor = () => Promise.resolve({ ok: true, artifacts: build });
      const r = await s.runtime.execute("build", s.project);
      assert.equal(r.success, true);
      assert.equal(r.metadata.nodes, undefined);
    });

    await t.step("a test run reports no node facts", async () => {
      await using s = await cloudSetup();
      s.server.executor = () => Promise.resolve({ ok: true, artifacts: build });
      const r = await s.runtime.execute("test", s.project);
      assert.equal(r.metadata.nodes, undefined);
    });
  },
);
