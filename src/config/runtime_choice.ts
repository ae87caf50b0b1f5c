/**
 * Who chooses the runtime (seed REQ-091: "data engineers cannot override"):
 * with a platform `manifest.yaml` in effect, `plugins.dbt_runtime` decides
 * and a different `--runtime` or job `runtime` is refused, unless the file
 * sets `plugins.allow_runtime_override: true`. With no platform config (the
 * laptop case) the caller chooses freely. The CLI and the job runner both
 * call `chooseRuntime`.
 *
 * @module
 */
import {
  configFile,
  type PlatformConfig,
  type RuntimeName,
  RuntimeNameSchema,
} from "./config.ts";
import { configError, ERROR_CODES, FloeDbtError } from "../contract/errors.ts";

/**
 * The runtime to use for a call that asked for `requested` (undefined: the
 * platform's choice). `file` is the manifest.yaml in effect; it defaults to
 * the file `config` was loaded from (none for `defaultConfig()`). An unknown
 * name is E010; an override the platform does not allow is E003.
 */
export function chooseRuntime(
  requested: string | undefined,
  config: PlatformConfig,
  file: string | undefined = configFile(config),
): RuntimeName {
  const platform = config.plugins.dbt_runtime;
  if (requested === undefined) return platform;
  const parsed = RuntimeNameSchema.safeParse(requested);
  if (!parsed.success) {
    throw new FloeDbtError(
      ERROR_CODES.usage,
      `Unknown runtime '${requested}'`,
      { hint: `use one of: ${RuntimeNameSchema.options.join(", ")}` },
    );
  }
  const name = parsed.data;
  if (
    name === platform || file === undefined ||
    config.plugins.allow_runtime_override
  ) {
    return name;
  }
  throw configError(
    `Runtime '${name}' was requested, but the platform config '${file}' chooses '${platform}' (plugins.dbt_runtime) and does not allow overriding it`,
    `leave out the runtime to use '${platform}', or have the platform team set plugins.allow_runtime_override: true in '${file}'`,
    { file, key: "plugins.dbt_runtime" },
  );
}
