import assert from "node:assert/strict";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { copyExample } from "./_helpers.ts";

Deno.test(
  "local and fusion share one project's DuckDB file (same DuckDB storage version)",
  {
    sanitizeResources: false,
    sanitizeOps: false,
  },
  async () => {
    await using copy = await copyExample();
    const project = { projectDir: copy.dir, profilesDir: copy.dir };
    const local = new LocalRuntime();
    const fusion = new FusionRuntime();
    try {
      assert.equal((await local.execute("build", project)).success, true);
      // Fusion opens the file dbt-core wrote (the incremental model reads it).
      const f = await fusion.execute("build", project);
      assert.equal(f.success, true, JSON.stringify(f.metadata.errors));
      assert.equal(f.models_run, 5);
      // ...and dbt-core reads what Fusion wrote.
      const l = await local.runModels(project, { select: ["orders"] });
      assert.equal(l.success, true, JSON.stringify(l.metadata.errors));
    } finally {
      await local.close();
      await fusion.close();
    }
  },
);
