import assert from "node:assert/strict";
import { ArtifactStore } from "../src/jobs/artifact_store.ts";
import { streamRegularFile } from "../src/safe_fs.ts";
import type { RunResult } from "../src/schemas.ts";
import { join } from "./_path.ts";

function result(target: string): RunResult {
  return {
    success: true,
    manifest_path: join(target, "manifest.json"),
    run_results_path: join(target, "run_results.json"),
    catalog_path: null,
    execution_time_seconds: 1,
    models_run: 1,
    tests_run: 0,
    failures: 0,
    metadata: {},
  };
}

Deno.test("artifact store: a target/ artifact is copied into the job's folder; one over the size cap is refused (E003) and leaves no partial copy", async () => {
  const dir = await Deno.makeTempDir({ prefix: "floe-artifact-store-" });
  const project = join(dir, "project");
  const target = join(project, "target");
  await Deno.mkdir(target, { recursive: true });
  await Deno.writeTextFile(join(target, "manifest.json"), '{"nodes": {}}');
  await Deno.writeTextFile(join(target, "run_results.json"), "x".repeat(4096));
  const store = new ArtifactStore(join(dir, "state", "artifacts"));
  try {
    Deno.env.set("FLOE_DBT_MAX_ARTIFACT_BYTES", "1024");
    await assert.rejects(
      () => store.keep("job-big", result(target), [], project),
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
    const kept = join(dir, "state", "artifacts", "job-big");
    assert.equal(
      await Deno.lstat(join(kept, "run_results.json")).then(
        () => true,
        () => false,
      ),
      false,
      "no partial copy",
    );
    Deno.env.delete("FLOE_DBT_MAX_ARTIFACT_BYTES");
    const ok = await store.keep(
      "job-ok",
      result(target),
      [],
      project,
    ) as RunResult;
    assert.equal(
      ok.run_results_path,
      join(dir, "state", "artifacts", "job-ok", "run_results.json"),
    );
    assert.equal(
      await Deno.readTextFile(ok.run_results_path!),
      "x".repeat(4096),
    );
    // A copy, not a link: the next run rewriting target/ changes nothing kept.
    await Deno.writeTextFile(join(target, "run_results.json"), "next run");
    assert.equal(
      await Deno.readTextFile(ok.run_results_path!),
      "x".repeat(4096),
    );
  } finally {
    Deno.env.delete("FLOE_DBT_MAX_ARTIFACT_BYTES");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safe_fs: a file that grows past the cap while it is streamed stops the stream with E003", async () => {
  const dir = await Deno.makeTempDir({ prefix: "floe-grow-" });
  const path = join(dir, "run_results.json");
  await Deno.writeTextFile(path, "x".repeat(100));
  try {
    const { stream } = await streamRegularFile(path, { maxBytes: 1000 });
    // Grows after it was opened and checked, as a file dbt still writes.
    await Deno.writeTextFile(path, "y".repeat(200_000), { append: true });
    await assert.rejects(
      () => new Response(stream).arrayBuffer(),
      (e: unknown) => {
        assert.equal((e as { code?: string }).code, "FLOE-DBT-E003");
        assert.match((e as Error).message, /more than 1000/);
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
