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

async function tempDirs(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(Deno.env.get("TMPDIR") ?? "/tmp")) {
    if (e.name.startsWith("floe-dbt-cloud-") && !e.name.includes("fixture")) {
      out.push(e.name);
    }
  }
  return out.sort();
}

Deno.test("with the cache disabled a run writes the project's target/ like dbt, leaves no temp dir, and drops a stale catalog", async () => {
  await using s = await cloudSetup();
  const before = await tempDirs();
  const target = join(s.project.projectDir, "target");
  await Deno.mkdir(target);
  await Deno.writeTextFile(join(target, "catalog.json"), "{}");
  Deno.env.set("FLOE_DISABLE_CACHE", "true");
  try {
    const r = await s.runtime.runModels(s.project);
    assert.equal(r.manifest_path, join(target, "manifest.json"));
    assert.equal(r.run_results_path, join(target, "run_results.json"));
    assert.ok(existsSync(r.manifest_path));
    assert.equal(r.catalog_path, null, "this run produced no catalog");
    assert.equal(existsSync(join(target, "catalog.json")), false);
    assert.equal(existsSync(join(s.project.projectDir, ".floe")), false);
  } finally {
    Deno.env.delete("FLOE_DISABLE_CACHE");
  }
  assert.deepEqual(await tempDirs(), before, "no temp dir survives the run");
});

Deno.test("--no-cache on a run still keeps that run's entry; on manifest it refreshes the entry", async () => {
  await using s = await cloudSetup();
  const r = await s.runtime.runModels(s.project, {}, { noCache: true });
  const entry = join(
    s.project.projectDir,
    ".floe",
    "dbt-cloud-cache",
    String(r.metadata.run_id),
  );
  assert.equal(r.manifest_path, join(entry, "manifest.json"));
  await Deno.writeTextFile(join(entry, "manifest.json"), '{"nodes": {}}');
  const stale = await s.runtime.getManifest(s.project);
  assert.deepEqual(stale.nodes, {}, "a cache hit reads the entry");
  const fresh = await s.runtime.getManifest(s.project, { noCache: true });
  assert.ok(
    (fresh.nodes as Record<string, unknown>)["model.jaffle_duck.customers"],
  );
  const again = JSON.parse(
    await Deno.readTextFile(join(entry, "manifest.json")),
  );
  assert.ok(again.nodes["model.jaffle_duck.customers"], "entry refreshed");
});

Deno.test("manifest in a fresh process serves the cache only for the job's newest successful run (one list call)", async () => {
  await using s = await cloudSetup({ cache_dir: "cache" });
  const fresh = () =>
    new (s.runtime.constructor as new (
      c: typeof s.runtime.config,
    ) => typeof s.runtime)(s.runtime.config);
  const first = await s.runtime.runModels(s.project);
  const firstId = String(first.metadata.run_id);
  const entry = join(s.project.projectDir, "cache", firstId, "manifest.json");
  await Deno.writeTextFile(entry, '{"nodes": {}, "marker": "first run"}');
  const lists = () =>
    s.server.calls(/\/runs\/$/, "GET").filter((c) => c.query.status === "10");
  const hit = await fresh().getManifest(s.project);
  assert.equal(hit.marker, "first run", "newest success is cached: hit");
  assert.equal(lists().length, 1);
  assert.deepEqual(lists()[0]!.query, {
    job_definition_id: "101",
    status: "10",
    order_by: "-id",
    limit: "1",
  });
  // A newer run (triggered elsewhere) makes the old entry stale.
  await s.runtime.runModels(s.project, {}, {});
  const latest = String([...s.server.runs.keys()].at(-1));
  const gets = s.server.calls(/\/artifacts\/manifest\.json$/).length;
  const m = await fresh().getManifest(s.project);
  assert.equal(m.marker, undefined, "the older run's entry is not used");
  assert.ok(
    (m.nodes as Record<string, unknown>)["model.jaffle_duck.customers"],
  );
  assert.equal(
    s.server.calls(/\/artifacts\/manifest\.json$/).length,
    gets,
    "the newest run's own entry answered",
  );
  assert.ok(existsSync(join(s.project.projectDir, "cache", latest)));
  assert.equal(s.server.calls(/\/jobs\/\d+\/run\/$/).length, 2, "no trigger");
});

Deno.test("manifest with no successful run is a clear E009 and triggers nothing", async () => {
  await using s = await cloudSetup();
  await assert.rejects(
    () => s.runtime.getManifest(s.project),
    /job 101 has no successful run, so there is no manifest\.json/,
  );
  assert.equal(s.server.calls(/\/jobs\/\d+\/run\/$/).length, 0);
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

Deno.test("with the cache disabled a target/ that links out of the project is refused (E003) and nothing is written through it", async () => {
  await using s = await cloudSetup();
  const outside = await Deno.makeTempDir({ prefix: "floe-outside-target-" });
  await Deno.symlink(outside, join(s.project.projectDir, "target"));
  Deno.env.set("FLOE_DISABLE_CACHE", "true");
  try {
    await assert.rejects(
      () => s.runtime.runModels(s.project),
      (e: unknown) => {
        const err = e as { code?: string; message?: string };
        assert.equal(err.code, "FLOE-DBT-E003");
        assert.match(err.message ?? "", /target directory/);
        assert.match(err.message ?? "", /link/);
        return true;
      },
    );
    const left: string[] = [];
    for await (const e of Deno.readDir(outside)) left.push(e.name);
    assert.deepEqual(left, [], "no artifact was written outside the project");
    assert.equal(
      s.server.calls(/\/run\/$/, "POST").length,
      0,
      "refused before dbt Cloud runs anything",
    );
  } finally {
    Deno.env.delete("FLOE_DISABLE_CACHE");
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("a cached artifact over the size cap is refused with E003, not read into memory", async () => {
  await using s = await cloudSetup();
  const r = await s.runtime.runModels(s.project);
  const manifest = r.manifest_path!;
  const size = (await Deno.stat(manifest)).size;
  Deno.env.set("FLOE_DBT_MAX_ARTIFACT_BYTES", String(size - 1));
  try {
    await assert.rejects(
      () => s.runtime.getManifest(s.project),
      (e: unknown) => {
        const err = e as { code?: string; message?: string };
        assert.equal(err.code, "FLOE-DBT-E003");
        assert.match(
          err.message ?? "",
          /cached artifact .* over the \d+-byte limit/,
        );
        return true;
      },
    );
  } finally {
    Deno.env.delete("FLOE_DBT_MAX_ARTIFACT_BYTES");
  }
});

Deno.test("an artifact download over the size cap is a clear E009 and nothing is cached", async () => {
  await using s = await cloudSetup();
  Deno.env.set("FLOE_DBT_MAX_ARTIFACT_BYTES", "20000");
  try {
    await assert.rejects(
      () => s.runtime.runModels(s.project),
      (e: unknown) => {
        const err = e as { code?: string; message?: string };
        assert.equal(err.code, "FLOE-DBT-E009");
        assert.match(
          err.message ?? "",
          /artifacts\/.* bytes, over the 20000-byte limit/,
        );
        return true;
      },
    );
  } finally {
    Deno.env.delete("FLOE_DBT_MAX_ARTIFACT_BYTES");
  }
  const cache = join(s.project.projectDir, ".floe", "dbt-cloud-cache");
  const entries = existsSync(cache) ? [...Deno.readDirSync(cache)] : [];
  assert.deepEqual(entries.map((e) => e.name), [], "nothing cached");
});
