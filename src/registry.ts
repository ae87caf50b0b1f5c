/**
 * The fixed record of runtimes, chosen by `plugins.dbt_runtime`. Static
 * imports only, so a bundled or compiled agent carries all three.
 *
 * @module
 */
import { CloudRuntime } from "../runtimes/cloud/mod.ts";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import {
  configFile,
  type PlatformConfig,
  type RuntimeName,
} from "./config/config.ts";
import { configError } from "./contract/errors.ts";
import { lineageRuntime } from "./lineage/mod.ts";
import type { DbtRuntime } from "./contract/runtime.ts";
import { skipRuntime } from "./skip/runtime.ts";
import { type CloudStateSource, stateRuntime } from "./wrappers/state.ts";
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
  const base = skipRuntime(baseRuntime(name, config));
  // dbt Cloud keeps its own state: only runtimes that run dbt here keep it.
  const stated = name === "cloud" ? base : stateRuntime(
    base,
    cloudStateSource(config.plugins.dbt_runtime_config.cloud),
  );
  return tracedRuntime(lineageRuntime(stated, config.plugins.lineage));
}

/**
 * `--state-from cloud`'s source: the dbt Cloud job's newest manifest through
 * a cloud runtime built on first use; none without a dbt Cloud section.
 */
export function cloudStateSource(
  cloud: PlatformConfig["plugins"]["dbt_runtime_config"]["cloud"],
): CloudStateSource | undefined {
  if (!cloud?.base_url) return undefined;
  const base_url = cloud.base_url;
  let rt: CloudRuntime | undefined;
  return {
    async newestManifest(project, options) {
      rt ??= new CloudRuntime({ ...cloud, base_url });
      return await rt.newestArtifact(project, "manifest.json", options);
    },
    async close() {
      await rt?.close();
    },
  };
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
