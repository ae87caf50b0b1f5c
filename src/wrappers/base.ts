/**
 * A runtime that hands every operation to an inner runtime: the base of the
 * decorators (traces, lineage, state), which override only what they
 * observe. `runModels` and `testModels` go through this wrapper's own
 * `execute`, so a decorator of dbt commands overrides `execute` alone.
 *
 * @module
 */
import type {
  Availability,
  CallOptions,
  DbtInspector,
  DbtRuntime,
  ProjectRef,
  RuntimeMetadata,
  Selection,
} from "../contract/runtime.ts";
import type { DbtCommand, LintResult, RunResult } from "../contract/schemas.ts";

/** Delegates the whole contract to `inner`. */
export class RuntimeWrapper implements DbtRuntime {
  /** The wrapped runtime. */
  protected readonly inner: DbtRuntime;

  constructor(inner: DbtRuntime) {
    this.inner = inner;
  }

  get name(): string {
    return this.inner.name;
  }
  get version(): string {
    return this.inner.version;
  }
  get floeApiVersion(): string {
    return this.inner.floeApiVersion;
  }
  get inspect(): DbtInspector | undefined {
    return this.inner.inspect;
  }
  compileProject(project: ProjectRef, options?: CallOptions): Promise<string> {
    return this.inner.compileProject(project, options);
  }
  runModels(
    project: ProjectRef,
    selection?: Selection,
    options?: CallOptions,
  ): Promise<RunResult> {
    return this.execute("run", project, selection, options);
  }
  testModels(
    project: ProjectRef,
    selection?: Pick<Selection, "select" | "exclude">,
    options?: CallOptions,
  ): Promise<RunResult> {
    return this.execute("test", project, selection, options);
  }
  execute(
    command: DbtCommand,
    project: ProjectRef,
    selection?: Selection,
    options?: CallOptions,
  ): Promise<RunResult> {
    return this.inner.execute(command, project, selection, options);
  }
  lintProject(
    project: ProjectRef,
    options?: CallOptions & { fix?: boolean; select?: string[] },
  ): Promise<LintResult> {
    return this.inner.lintProject(project, options);
  }
  getManifest(
    project: ProjectRef,
    options?: CallOptions,
  ): Promise<Record<string, unknown>> {
    return this.inner.getManifest(project, options);
  }
  getRunResults(
    project: ProjectRef,
    options?: CallOptions,
  ): Promise<Record<string, unknown>> {
    return this.inner.getRunResults(project, options);
  }
  supportsParallelExecution(): boolean {
    return this.inner.supportsParallelExecution();
  }
  supportsSqlLinting(): boolean {
    return this.inner.supportsSqlLinting();
  }
  getRuntimeMetadata(): RuntimeMetadata {
    return this.inner.getRuntimeMetadata();
  }
  availability(): Promise<Availability> {
    return this.inner.availability();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
