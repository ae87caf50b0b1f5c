/**
 * The project routes on a project never built: 404 (as the OpenAPI document
 * says) with the missing file named and what to run, never a 500.
 *
 * @module
 */
import assert from "node:assert/strict";
import { copyExample } from "./_helpers.ts";
import { startDaemonProcess } from "./_daemon.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "project routes: a project with no target/ yet is 404 naming the artifact, on local and fusion",
  opts,
  async () => {
    await using copy = await copyExample("floe-unbuilt-");
    const state = await Deno.makeTempDir({ prefix: "floe-unbuilt-state-" });
    const d = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--state-dir",
      state,
    ]);
    try {
      const q = `project_dir=${encodeURIComponent(copy.dir)}`;
      for (
        const [path, file] of [
          [`/v1/project/manifest?${q}`, "manifest.json"],
          [`/v1/project/run_results?${q}`, "run_results.json"],
          [`/v1/project/manifest?${q}&runtime=fusion`, "manifest.json"],
        ]
      ) {
        const res = await d.fetch(path!);
        const body = await res.json();
        assert.equal(res.status, 404, `${path}: ${JSON.stringify(body)}`);
        assert.equal(body.code, "FLOE-DBT-E002");
        assert.ok(body.message.includes(`target/${file}' is missing`), path);
        assert.match(body.hint, /run a dbt command/);
      }
    } finally {
      d.child.kill("SIGTERM");
      await d.exit();
      await Deno.remove(state, { recursive: true }).catch(() => {});
    }
  },
);
