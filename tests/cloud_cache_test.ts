import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "./_path.ts";
import { ArtifactCache } from "../runtimes/cloud/cache.ts";
import { cloudSetup } from "./cloud/setup.ts";

const artifactGets = /\/artifacts\//;

Deno.test("a run's artifacts land in .floe/dbt-cloud-cache/{run_id}/ with metadata.json", async () => {
  await using s = await cloudSetup();
  const r = await s.runtime.runModels(s.project);
  const dir = join(
    s.project.projectDir,
    ".floe",
    "dbt-cloud-cache",
    String(r.metadata.run_id),
  );
  assert.equal(r.manifest_path, join(dir, "manifest.json"));
  assert.equal(r.run_results_path, join(dir, "run_results.json"));
  assert.equal(r.catalog_path, null, "a missing catalog.json is not an error");
  const meta = JSON.parse(await Deno.readTextFile(join(dir, "metadata.json")));
  assert.equal(meta.run_id, r.metadata.run_id);
  assert.equal(meta.account_id, "42");
  assert.equal(meta.job_id, "101");
  assert.deepEqual(meta.artifacts, ["manifest.json", "run_results.json"]);
  assert.ok(!Number.isNaN(Date.parse(meta.cached_at)));
});

Deno.test("getManifest() hits the cache, refetches after the TTL, and bypasses it by flag and env", async () => {
  await using s = await cloudSetup({ cache_ttl_seconds: 60 });
  await s.runtime.runModels(s.project);
  const count = () => s.server.calls(artifactGets).length;
  const after = count();
  await s.runtime.getManifest(s.project);
  assert.equal(count(), after, "hit: no request");
  s.time.advance(61_000);
  await s.runtime.getManifest(s.project);
  assert.equal(count(), after + 1, "expired: refetched");
  await s.runtime.getManifest(s.project);
  assert.equal(count(), after + 1, "fresh again");
  await s.runtime.getManifest(s.project, { noCache: true });
  assert.equal(count(), after + 2, "--no-cache reads the API");
  Deno.env.set("FLOE_DISABLE_CACHE", "true");
  try {
    await s.runtime.getRunResults(s.project);
    assert.equal(count(), after + 3, "FLOE_DISABLE_CACHE reads the API");
  } finally {
    Deno.env.delete("FLOE_DISABLE_CACHE");
  }
});

Deno.test("a bypassed cache is neither read nor written", async () => {
  await using s = await cloudSetup();
  Deno.env.set("FLOE_DISABLE_CACHE", "true");
  try {
    const r = await s.runtime.runModels(s.project);
    assert.ok(existsSync(r.manifest_path));
    assert.ok(!r.manifest_path.startsWith(s.project.projectDir));
    assert.equal(existsSync(join(s.project.projectDir, ".floe")), false);
    await Deno.remove(join(r.manifest_path, ".."), { recursive: true });
  } finally {
    Deno.env.delete("FLOE_DISABLE_CACHE");
  }
  const r = await s.runtime.runModels(s.project, {}, { noCache: true });
  assert.equal(existsSync(join(s.project.projectDir, ".floe")), false);
  await Deno.remove(join(r.manifest_path, ".."), { recursive: true });
});

Deno.test("getManifest() without a run uses the job's latest artifact and caches it under job-{id}", async () => {
  await using s = await cloudSetup({ cache_dir: "cache" });
  const other = new (s.runtime.constructor as new (
    c: typeof s.runtime.config,
  ) => typeof s.runtime)(s.runtime.config);
  await s.runtime.runModels(s.project);
  const m = await other.getManifest(s.project);
  assert.ok(
    (m.nodes as Record<string, unknown>)["model.jaffle_duck.customers"],
  );
  assert.equal(
    s.server.calls(/\/jobs\/101\/artifacts\/manifest\.json$/).length,
    1,
  );
  assert.ok(
    existsSync(join(s.project.projectDir, "cache", "job-101", "manifest.json")),
  );
});

Deno.test("a crash mid-write is never trusted: temp files and entries without metadata are misses", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cache = new ArtifactCache(dir, 3600);
    await Deno.mkdir(join(dir, "7"), { recursive: true });
    await Deno.writeTextFile(
      join(dir, "7", "manifest.json.tmp-dead"),
      '{"half',
    );
    await Deno.writeTextFile(join(dir, "7", "manifest.json"), '{"half');
    assert.equal(await cache.path("7", "manifest.json"), undefined);
    await cache.write("8", { "manifest.json": "{}" }, {
      run_id: "8",
      account_id: "1",
      job_id: "2",
    });
    assert.equal(
      await cache.path("8", "manifest.json"),
      join(dir, "8", "manifest.json"),
    );
    assert.deepEqual(
      [...Deno.readDirSync(join(dir, "8"))].map((e) => e.name).sort(),
      ["manifest.json", "metadata.json"],
    );
    assert.deepEqual(await cache.gc(), ["7"]);
    assert.equal(await cache.clear(), 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
