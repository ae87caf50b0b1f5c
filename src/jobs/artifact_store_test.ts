import assert from "node:assert/strict";
import { join } from "node:path";
import { artifactName, ArtifactStore } from "./artifact_store.ts";
import type { ProgressEvent, RunResult } from "../contract/schemas.ts";

const ID = "0d7e6d8e-6c5b-4c57-9a39-4f0b2f1c9a11";
const ID2 = "1d7e6d8e-6c5b-4c57-9a39-4f0b2f1c9a12";

async function project(): Promise<{ dir: string; result: RunResult }> {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "target"));
  await Deno.writeTextFile(join(dir, "target", "manifest.json"), '{"m":1}');
  await Deno.writeTextFile(join(dir, "target", "run_results.json"), '{"r":1}');
  return {
    dir,
    result: {
      success: true,
      manifest_path: join(dir, "target", "manifest.json"),
      run_results_path: join(dir, "target", "run_results.json"),
      catalog_path: null,
      execution_time_seconds: 1,
      models_run: 1,
      tests_run: 0,
      failures: 0,
      metadata: {},
    },
  };
}

const events: ProgressEvent[] = [
  {
    v: 1,
    type: "node_finished",
    unique_id: "model.p.a",
    resource_type: "model",
    name: "a",
    status: "success",
    execution_time: 0.5,
    message: null,
    index: 1,
    total: 1,
    ts: "2026-01-01T00:00:00Z",
  },
];

Deno.test("artifactName() takes names with and without .json", () => {
  assert.deepEqual(artifactName("run_results"), "run_results");
  assert.deepEqual(artifactName("run_results.json"), "run_results");
  assert.deepEqual(artifactName("dbt.log"), "dbt_log");
  assert.deepEqual(artifactName("../etc/passwd"), undefined);
  assert.deepEqual(artifactName("profiles.yml"), undefined);
});

Deno.test("keep() copies a job's artifacts so the next run cannot change them", async () => {
  const { dir, result } = await project();
  const store = new ArtifactStore(join(await Deno.makeTempDir(), "artifacts"));
  const kept = await store.keep(ID, result, events) as RunResult;
  assert(kept.run_results_path.startsWith(store.root));
  assert.deepEqual(kept.catalog_path, null);
  // dbt rewrites target/ in place on the next run
  await Deno.writeTextFile(result.run_results_path, '{"r":2}');
  assert.deepEqual(await Deno.readTextFile(kept.run_results_path), '{"r":1}');
  const log = await Deno.readTextFile(join(store.root, ID, "dbt.log"));
  assert(log.includes("model.p.a success in 0.50s"), log);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("keep() refuses an artifact that is a link out of the project", async () => {
  const { dir, result } = await project();
  await Deno.remove(result.run_results_path);
  await Deno.symlink("/dev/zero", result.run_results_path);
  const store = new ArtifactStore(join(await Deno.makeTempDir(), "artifacts"));
  await assert.rejects(
    () => store.keep(ID, result, [], dir),
    /is a symbolic link \(to .\/dev\/zero.\)/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("find() tells kept, missing and pruned apart; prune() removes only job folders", async () => {
  const { result } = await project();
  const store = new ArtifactStore(join(await Deno.makeTempDir(), "artifacts"));
  await store.keep(ID, result, []);
  await store.keep(ID2, result, []);
  await Deno.writeTextFile(join(store.root, "not.a.job"), "x");
  assert("path" in await store.find(ID, "manifest"));
  assert("missing" in await store.find(ID, "catalog"));
  assert.deepEqual(await store.prune(new Set([ID2])), [ID]);
  assert("pruned" in await store.find(ID, "manifest"));
  assert("path" in await store.find(ID2, "manifest"));
  assert.deepEqual(await Deno.readTextFile(join(store.root, "not.a.job")), "x");
  await assert.rejects(() => store.find("../x", "manifest"), /No job/);
});

Deno.test("keep() refuses an artifact over the size cap (E003) before copying anything", async () => {
  const { dir, result } = await project();
  await Deno.writeTextFile(result.run_results_path, "x".repeat(4096));
  const store = new ArtifactStore(join(dir, "state", "artifacts"));
  Deno.env.set("FLOE_DBT_MAX_ARTIFACT_BYTES", "1024");
  try {
    await assert.rejects(
      () => store.keep(ID, result, events, dir),
      (e: unknown) => {
        const err = e as { code?: string; message?: string };
        assert.equal(err.code, "FLOE-DBT-E003");
        assert.match(
          err.message ?? "",
          /run_results\.json.*over the 1024-byte limit/,
        );
        return true;
      },
    );
    const copy = join(dir, "state", "artifacts", ID, "run_results.json");
    assert.equal(
      await Deno.lstat(copy).then(() => true, () => false),
      false,
      "nothing copied",
    );
  } finally {
    Deno.env.delete("FLOE_DBT_MAX_ARTIFACT_BYTES");
    await Deno.remove(dir, { recursive: true });
  }
});
