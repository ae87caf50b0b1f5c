/**
 * The fusion runtime: the real dbt Fusion engine binary. (Being built: see the
 * Fusion issue; until then every operation reports E005 honestly.)
 *
 * @module
 */
import {
  type FusionConfig,
  FusionConfigSchema,
  type LocalConfig,
} from "../../src/config.ts";
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
      ERROR_CODES.fusionNotFound,
      "The fusion runtime is not available in this build of floe-dbt",
      { hint: "use --runtime local" },
    ),
  );
}

/** The dbt Fusion runtime. */
export class FusionRuntime implements DbtRuntime {
  readonly name = "fusion";
  readonly version = "0.1.0";
  readonly floeApiVersion = FLOE_API_VERSION;
  readonly config: FusionConfig;
  constructor(
    config: Partial<FusionConfig> = {},
    _local: Partial<LocalConfig> = {},
  ) {
    this.config = FusionConfigSchema.parse(config);
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
    return { type: "fusion" };
  }
  availability(): Promise<Availability> {
    return Promise.resolve({ available: false, reason: "not built yet" });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
