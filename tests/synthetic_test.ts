import assert from "node:assert/strict";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { generateProject, syntheticTestCount } from "../scripts/synthetic.ts";

Deno.test(
  "synthetic projects (the bench generator) build for real at small size",
  {
    sanitizeResources: false,
    sanitizeOps: false,
  },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-synth-" });
    const rt = new LocalRuntime();
    try {
      await generateProject(dir, 12);
      const r = await rt.execute("build", {
        projectDir: dir,
        profilesDir: dir,
      });
      assert.equal(r.success, true, JSON.stringify(r.metadata.errors));
      assert.equal(r.models_run, 12);
      assert.equal(r.tests_run, syntheticTestCount(12));
    } finally {
      await rt.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
