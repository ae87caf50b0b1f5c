import assert from "node:assert/strict";
import type { Job } from "../src/jobs/schemas.ts";
import { type DaemonProcess, startDaemonProcess, waitJob } from "./_daemon.ts";
import { copyExample } from "./_helpers.ts";
import { cloudDaemonWorld } from "./cloud/daemon_world.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TOKEN = "artifacts-test-token-0123456789";
const H = { authorization: `Bearer ${TOKEN}` };

async function submit(
  d: DaemonProcess,
  body: Record<string, unknown>,
): Promise<Job> {
  const r = await fetch(`${d.url}/v1/jobs`, {
    method: "POST",
    headers: { ...H, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 202, await r.clone().text());
  return await r.json() as Job;
}

async function get(d: DaemonProcess, path: string): Promise<Response> {
  return await fetch(`${d.url}${path}`, { headers: H });
}

async function serve(dir: string, extra: string[] = [], env = {}) {
  return await startDaemonProcess([
    "--project-root",
    dir,
    "--state-dir",
    `${dir}/.state`,
    "--token-file",
    `${dir}/.token`,
    ...extra,
  ], env);
}

Deno.test(
  "daemon: each job keeps its own artifacts; names with and without .json; project routes; 410 once pruned",
  opts,
  async () => {
    await using p = await copyExample();
    await Deno.writeTextFile(`${p.dir}/.token`, TOKEN);
    let d = await serve(p.dir);
    let first: Job, second: Job;
    try {
      assert.ok(d.url, d.logs());
      first = await submit(d, {
        command: "run",
        project_dir: p.dir,
        select: "stg_orders",
      });
      first = await waitJob(d, first.id, ["succeeded", "failed"]);
      assert.equal(first.status, "succeeded", JSON.stringify(first.error));
      second = await submit(d, { command: "build", project_dir: p.dir });
      second = await waitJob(d, second.id, ["succeeded", "failed"]);
      assert.equal(second.status, "succeeded", JSON.stringify(second.error));

      // The first job's results are its own, not the build's.
      for (const name of ["run_results", "run_results.json"]) {
        const r = await get(d, `/v1/jobs/${first.id}/artifacts/${name}`);
        assert.equal(r.status, 200);
        assert.equal(r.headers.get("content-type"), "application/json");
        const rr = await r.json() as { results: { unique_id: string }[] };
        assert.deepEqual(rr.results.map((x) => x.unique_id), [
          "model.jaffle_duck.stg_orders",
        ]);
      }
      const build = await (await get(
        d,
        `/v1/jobs/${second.id}/artifacts/run_results`,
      )).json() as { results: unknown[] };
      assert.ok(build.results.length > 10, `${build.results.length}`);
      // The job's result paths point at its own folder in the state dir.
      const result = first.result as { run_results_path: string };
      assert.ok(
        result.run_results_path.startsWith(`${p.dir}/.state/artifacts/`),
        result.run_results_path,
      );
      const log = await get(d, `/v1/jobs/${first.id}/artifacts/dbt.log`);
      assert.equal(log.status, 200);
      assert.match(await log.text(), /model\.jaffle_duck\.stg_orders success/);
      const noCatalog = await get(d, `/v1/jobs/${first.id}/artifacts/catalog`);
      assert.equal(noCatalog.status, 404);
      await noCatalog.body?.cancel();
      const bad = await get(d, `/v1/jobs/${first.id}/artifacts/profiles.yml`);
      assert.equal(bad.status, 400);
      await bad.body?.cancel();

      // The project's manifest and latest run results, without a job.
      const q = `project_dir=${encodeURIComponent(p.dir)}`;
      const m = await get(d, `/v1/project/manifest?${q}`);
      assert.equal(m.status, 200);
      const manifest = await m.json() as { nodes: Record<string, unknown> };
      assert.ok("model.jaffle_duck.orders" in manifest.nodes);
      const latest = await (await get(d, `/v1/project/run_results?${q}`))
        .json() as { results: unknown[] };
      assert.equal(latest.results.length, build.results.length);
      const outside = await get(d, `/v1/project/manifest?project_dir=/etc`);
      assert.equal(outside.status, 403);
      await outside.body?.cancel();
      const unknown = await get(d, `/v1/project/manifest?${q}&threads=4`);
      assert.equal(unknown.status, 400);
      await unknown.body?.cancel();
      // The fusion runtime: its newest call's manifest, after a compile job.
      let fusion = await submit(d, {
        command: "compile",
        project_dir: p.dir,
        runtime: "fusion",
      });
      fusion = await waitJob(d, fusion.id, ["succeeded", "failed"]);
      assert.equal(fusion.status, "succeeded", JSON.stringify(fusion.error));
      const fm = await get(d, `/v1/project/manifest?${q}&runtime=fusion`);
      assert.equal(fm.status, 200, await fm.clone().text());
      const fusionManifest = await fm.json() as {
        nodes: Record<string, unknown>;
        metadata: { dbt_version: string };
      };
      assert.ok("model.jaffle_duck.orders" in fusionManifest.nodes);
      assert.match(fusionManifest.metadata.dbt_version, /^2\./);
      const meta = await (await get(d, `/v1/runtimes/local`)).json();
      assert.equal(meta.name, "local");
      assert.equal(meta.supports_parallel_execution, false);
      const version = await (await get(d, `/v1/version`)).json();
      assert.match(version.agent_version, /^\d+\.\d+\.\d+/);
    } finally {
      d.child.kill("SIGTERM");
      assert.equal(await d.exit(), 0);
    }

    // Restarted with a shorter artifact retention: the jobs stay listed,
    // their artifacts are pruned and answer 410.
    d = await serve(p.dir, ["--artifact-retention-hours", "0"]);
    try {
      const j = await (await get(d, `/v1/jobs/${first.id}`)).json() as Job;
      assert.equal(j.status, "succeeded");
      const gone = await get(d, `/v1/jobs/${first.id}/artifacts/manifest`);
      assert.equal(gone.status, 410);
      assert.equal((await gone.json()).code, "FLOE-DBT-E012");
    } finally {
      d.child.kill("SIGTERM");
      assert.equal(await d.exit(), 0);
    }
  },
);

Deno.test(
  "daemon + cloud: project manifest and run results come from the latest run's artifacts, never a trigger",
  opts,
  async () => {
    await using w = await cloudDaemonWorld("artifacts-cloud");
    const { server, token, dir } = w;
    await Deno.writeTextFile(`${dir}/.token`, TOKEN);
    // One finished run exists in dbt Cloud already (triggered by someone
    // else, driven to success through the API as a poller would).
    const api = `${server.url}/api/v2/accounts/42`;
    const auth = { authorization: `Bearer ${token}` };
    const trigger = await (await fetch(`${api}/jobs/101/run/`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ cause: "earlier run" }),
    })).json() as { data: { id: number } };
    for (let i = 0; i < 5; i++) {
      await (await fetch(`${api}/runs/${trigger.data.id}/`, { headers: auth }))
        .body?.cancel();
    }
    assert.equal(server.runs.get(trigger.data.id)?.status, 10);
    const d = await serve(dir, ["--config", `${dir}/manifest.yaml`], w.env);
    try {
      assert.ok(d.url, d.logs());
      const q = `project_dir=${encodeURIComponent(`${dir}/proj`)}`;
      const m = await get(d, `/v1/project/manifest?${q}`);
      assert.equal(m.status, 200, await m.clone().text());
      const manifest = await m.json() as { nodes: Record<string, unknown> };
      assert.ok(Object.keys(manifest.nodes).length > 0);
      const rr = await get(d, `/v1/project/run_results?${q}`);
      assert.equal(rr.status, 200, await rr.clone().text());
      await rr.body?.cancel();
      const triggers = server.requests.filter((r) =>
        r.method === "POST" && r.path.endsWith("/run/")
      );
      assert.equal(triggers.length, 1, "only the test's own earlier run");
    } finally {
      d.child.kill("SIGTERM");
      assert.equal(await d.exit(), 0);
    }
  },
);
