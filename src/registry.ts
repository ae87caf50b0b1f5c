/**
 * The fixed record of runtimes, chosen by `plugins.dbt_runtime`. Static
 * imports only, so a bundled or compiled agent carries all three.
 *
 * @module
 */
import { CloudRuntime } from "../runtimes/cloud/mod.ts";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { configFile, type PlatformConfig, type RuntimeName } from "./config.ts";
import { configError } from "./errors.ts";
import { lineageRuntime } from "./lineage/mod.ts";
import type { DbtRuntime } from "./runtime.ts";
import { skipRuntime } from "./skip/runtime.ts";
import { stateRuntime } from "./state_runtime.ts";
import { tracedRuntime } from "./telemetry/mod.ts";

/** Every runtime name, in display order. */
export const RUNTIME_NAMES: readonly RuntimeName[] = [
  "local",
  "fusion",
  "cloud",
];

/**
 * Create the runtime `name` from the platform config, traced (a span per
 * operation) and, when `plugins.lineage` is set, sending OpenLineage events;
 * runs and builds keep input keys for `--skip-unchanged` (src/skip).
 */
export function createRuntime(
  name: RuntimeName,
  config: PlatformConfig,
): DbtRuntime {
  return tracedRuntime(
    lineageRuntime(
      stateRuntime(
        skipRuntime(baseRuntime(name, config)),
        config.plugins.dbt_runtime_config.cloud,
      ),
      config.plugins.lineage,
    ),
  );
}

function baseRuntime(name: RuntimeName, config: PlatformConfig): DbtRuntime {
  const section = config.plugins.dbt_runtime_config;
  switch (name) {
    case "local":
      return new LocalRuntime(section.local ?? {});
    case "fusion":
      return new FusionRuntime(section.fusion ?? {}, section.local ?? {});
    case "cloud":
      if (!section.cloud) {
        throw configError(
          "The cloud runtime needs dbt_runtime_config.cloud in manifest.yaml",
          "add account_id, api_token_ref, base_url and job_ids under plugins.dbt_runtime_config.cloud",
        );
      }
      if (!section.cloud.base_url) {
        const file = configFile(config);
        throw configError(
          `The cloud runtime needs plugins.dbt_runtime_config.cloud.base_url${
            file ? ` in '${file}'` : ""
          }`,
          "set base_url to your account's access URL (Account settings > Access URLs), e.g. https://ACCOUNT_PREFIX.us1.dbt.com",
          { key: "plugins.dbt_runtime_config.cloud.base_url" },
        );
      }
      return new CloudRuntime({
        ...section.cloud,
        base_url: section.cloud.base_url,
      });
  }
}
