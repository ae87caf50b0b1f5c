/**
 * What every runtime derives the same way from its `execute`: `runModels`,
 * `testModels` and the floe API version.
 *
 * @module
 */
import type { CallOptions, ProjectRef, Selection } from "./runtime.ts";
import {
  type DbtCommand,
  FLOE_API_VERSION,
  type RunResult,
} from "./schemas.ts";

/** Base of the runtimes in runtimes/: implement `execute`, get run and test. */
export abstract class RuntimeBase {
  /** The floe API version implemented. */
  readonly floeApiVersion: string = FLOE_API_VERSION;

  /** Any of the dbt commands, returning a run result. */
  abstract execute(
    command: DbtCommand,
    project: ProjectRef,
    selection?: Selection,
    options?: CallOptions,
  ): Promise<RunResult>;

  /** `dbt run` with select/exclude/full refresh. */
  runModels(
    project: ProjectRef,
    selection?: Selection,
    options?: CallOptions,
  ): Promise<RunResult> {
    return this.execute("run", project, selection, options);
  }

  /** `dbt test` with select. */
  testModels(
    project: ProjectRef,
    selection?: Pick<Selection, "select" | "exclude">,
    options?: CallOptions,
  ): Promise<RunResult> {
    return this.execute("test", project, selection, options);
  }
}
