/**
 * A fake runtime for testing the job runner and daemon logic (never used in
 * the contract suite): each call waits until released (or finishes at once),
 * recording when it ran.
 *
 * @module
 */
import { ERROR_CODES, FloeDbtError } from "../src/contract/errors.ts";
import type {
  CallOptions,
  DbtRuntime,
  ProjectRef,
  RuntimeMetadata,
} from "../src/contract/runtime.ts";
import {
  FLOE_API_VERSION,
  type LintResult,
  type RunResult,
} from "../src/contract/schemas.ts";

/** A call the fake runtime saw. */
export interface FakeCall {
  project: string;
  start: number;
  end: number;
}

/** A runtime whose calls are controlled by the test. */
export class FakeRuntime implements DbtRuntime {
  readonly version = "0.0.0";
  readonly floeApiVersion = FLOE_API_VERSION;
  readonly calls: FakeCall[] = [];
  /** When set, calls wait for release(); else they finish at once. */
  hold = false;
  #waiters: (() => void)[] = [];
  running = 0;
  maxRunning = 0;

  constructor(readonly name: string, readonly parallel: boolean) {}

  /** Let every waiting call finish. */
  release(): void {
    this.hold = false;
    for (const w of this.#waiters.splice(0)) w();
  }

  async execute(
    _c: string,
    project: ProjectRef,
    _s?: unknown,
    options: CallOptions = {},
  ): Promise<RunResult> {
    const call: FakeCall = {
      project: project.projectDir,
      start: performance.now(),
      end: 0,
    };
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      options.onEvent?.({
        v: 1,
        type: "node_started",
        unique_id: "model.fake.a",
        resource_type: "model",
        name: "a",
        index: 1,
        total: 1,
        ts: new Date().toISOString(),
      });
      if (this.hold) {
        await new Promise<void>((resolve, reject) => {
          this.#waiters.push(resolve);
          options.signal?.addEventListener(
            "abort",
            () => reject(new FloeDbtError(ERROR_CODES.cancelled, "cancelled")),
            { once: true },
          );
        });
      }
      options.onEvent?.({
        v: 1,
        type: "node_finished",
        unique_id: "model.fake.a",
        resource_type: "model",
        name: "a",
        status: "success",
        execution_time: 0,
        message: null,
        index: 1,
        total: 1,
        ts: new Date().toISOString(),
      });
      return {
        success: true,
        manifest_path: `${project.projectDir}/target/manifest.json`,
        run_results_path: `${project.projectDir}/target/run_results.json`,
        catalog_path: null,
        execution_time_seconds: 0,
        models_run: 1,
        tests_run: 0,
        failures: 0,
        metadata: { runtime: this.name },
      };
    } finally {
      this.running--;
      call.end = performance.now();
      this.calls.push(call);
    }
  }
  compileProject(p: ProjectRef, o?: CallOptions): Promise<string> {
    return this.execute("compile", p, {}, o).then((r) => r.manifest_path);
  }
  runModels(p: ProjectRef, s?: unknown, o?: CallOptions): Promise<RunResult> {
    return this.execute("run", p, s, o);
  }
  testModels(p: ProjectRef, s?: unknown, o?: CallOptions): Promise<RunResult> {
    return this.execute("test", p, s, o);
  }
  lintProject(): Promise<LintResult> {
    return Promise.resolve({
      total_issues: 0,
      errors: 0,
      warnings: 0,
      infos: 0,
      issues: [],
      passed: true,
    });
  }
  getManifest(): Promise<Record<string, unknown>> {
    return Promise.resolve({});
  }
  getRunResults(): Promise<Record<string, unknown>> {
    return Promise.resolve({});
  }
  supportsParallelExecution(): boolean {
    return this.parallel;
  }
  supportsSqlLinting(): boolean {
    return true;
  }
  getRuntimeMetadata(): RuntimeMetadata {
    return { type: this.name };
  }
  availability() {
    return Promise.resolve({ available: true, reason: "fake" });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
