/**
 * The cloud runtime: dbt Cloud Admin and Discovery APIs. (Being built: see the
 * cloud issue; until then every operation reports that honestly.)
 *
 * @module
 */
import { type CloudConfig, CloudConfigSchema } from "../../src/config.ts";
import { ERROR_CODES, FloeDbtError } from "../../src/errors.ts";
import type {
  Availability,
  DbtRuntime,
  RuntimeMetadata,
} from "../../src/runtime.ts";
import { FLOE_API_VERSION } from "../../src/schemas.ts";

function notYet(): Promise<never> {
  return Promise.reject(
    new FloeDbtError(
      ERROR_CODES.configuration,
      "The cloud runtime is not available in this build of floe-dbt",
      { hint: "use --runtime local" },
    ),
  );
}

/** The dbt Cloud runtime. */
export class CloudRuntime implements DbtRuntime {
  readonly name = "cloud";
  readonly version = "0.1.0";
  readonly floeApiVersion = FLOE_API_VERSION;
  readonly config: CloudConfig;
  constructor(config: CloudConfig) {
    this.config = CloudConfigSchema.parse(config);
  }
  compileProject = notYet;
  runModels = notYet;
  testModels = notYet;
  execute = notYet;
  lintProject = notYet;
  getManifest = notYet;
  getRunResults = notYet;
  supportsParallelExecution(): boolean {
    return true;
  }
  supportsSqlLinting(): boolean {
    return false;
  }
  getRuntimeMetadata(): RuntimeMetadata {
    return { type: "cloud" };
  }
  availability(): Promise<Availability> {
    return Promise.resolve({ available: false, reason: "not built yet" });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
