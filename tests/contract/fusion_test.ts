import { join } from "node:path";
import { FusionRuntime } from "../../runtimes/fusion/mod.ts";
import { copyExample } from "../_helpers.ts";
import { contractSuite } from "./suite.ts";

/**
 * dbt Fusion 2.0.0-preview.196 rejects `meta:` directly on a source
 * ("[UnusedConfigKey (dbt1060)]: Ignored unexpected key `meta`", exit 1):
 * it only reads `config: meta:`, which dbt-core 1.11 and dbt-duckdb read too.
 * The example still uses the old place, so this fixture moves it in its own
 * temporary copy (the example itself is unchanged; see
 * tests/fusion_runtime_test.ts for the failure on the old form).
 */
export async function migrateSourceMeta(dir: string): Promise<void> {
  const file = join(dir, "models", "staging", "_sources.yml");
  const text = await Deno.readTextFile(file);
  const moved = text.replace(
    /^ {4}meta:\n {6}external_location:/m,
    "    config:\n      meta:\n        external_location:",
  );
  if (moved !== text) await Deno.writeTextFile(file, moved);
}

contractSuite("fusion", async () => {
  const copy = await copyExample();
  await migrateSourceMeta(copy.dir);
  const runtime = new FusionRuntime();
  return {
    runtime,
    project: { projectDir: copy.dir, profilesDir: copy.dir },
    async cleanup() {
      await runtime.close();
      await copy[Symbol.asyncDispose]();
    },
  };
}, { readsProjectFiles: true });
