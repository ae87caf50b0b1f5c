/**
 * Fusion test helpers.
 *
 * @module
 */
import { join } from "./_path.ts";
import { copyExample } from "./_helpers.ts";

/**
 * dbt Fusion 2.0.0-preview.196 rejects `meta:` directly on a source
 * ("[UnusedConfigKey (dbt1060)]: Ignored unexpected key `meta`", exit 1):
 * it only reads `config: meta:`, which dbt-core 1.11 and dbt-duckdb read too.
 * The example still uses the old place, so Fusion tests move it in their own
 * temporary copy (the example itself is unchanged; tests/fusion_runtime_test.ts
 * shows the failure on the old form).
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

/** A fresh copy of the example that Fusion accepts. */
export async function fusionExample(prefix = "floe-fusion-") {
  const copy = await copyExample(prefix);
  await migrateSourceMeta(copy.dir);
  return copy;
}
