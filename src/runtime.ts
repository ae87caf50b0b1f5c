/**
 * The runtime contract (seed REQ-086 / DBTPlugin): one interface, three
 * runtimes behind it (`runtimes/local`, `runtimes/fusion`, `runtimes/cloud`).
 *
 * @module
 */
import type {
  DbtCommand,
  LintResult,
  ProgressEvent,
  RunResult,
} from "./schemas.ts";

/** Where a dbt project lives and which profile target to use. */
export interface ProjectRef {
  /** The dbt project directory (holds dbt_project.yml). */
  projectDir: string;
  /** The directory holding profiles.yml. */
  profilesDir: string;
  /** The profile target; undefined means the profile's default target. */
  target?: string | undefined;
  /**
   * True when the caller chose `profilesDir` (flag, env, job field) rather
   * than taking the default; the cloud runtime refuses it (dbt Cloud keeps
   * its own connection settings).
   */
  profilesDirGiven?: boolean | undefined;
}

/** Options every operation takes. */
export interface CallOptions {
  /** Receives per-node progress as it happens. */
  onEvent?: ((event: ProgressEvent) => void) | undefined;
  /** Cancels the call: the runtime stops dbt (or the remote run). */
  signal?: AbortSignal | undefined;
  /** Bypass any artifact cache (cloud). */
  noCache?: boolean | undefined;
  /**
   * Called once a remote run exists (cloud: the dbt Cloud run id), so a job
   * runner can journal it and reattach after a restart instead of triggering
   * a second run.
   */
  onRemoteRun?: ((runId: string) => void | Promise<void>) | undefined;
  /** Follow an existing remote run instead of starting one (cloud). */
  resumeRunId?: string | undefined;
  /** dbt threads for this call, when the caller sets them (cloud: threads_override). */
  threads?: number | undefined;
  /** The daemon job this call runs for, when there is one (kept with the state). */
  jobId?: string | undefined;
}

/** Node selection shared by run, test, seed and build. */
export interface Selection {
  /** dbt selector(s), e.g. `stg_orders+`; space-separated like dbt's. */
  select?: string[] | undefined;
  /** dbt exclusion selector(s). */
  exclude?: string[] | undefined;
  /** Rebuild incremental models and seeds from scratch. */
  fullRefresh?: boolean | undefined;
  /**
   * Run only what changed since the kept state and its descendants
   * (`state:modified+` within `select`), deferring the rest to that state.
   * Resolved by the state layer (src/state_runtime.ts) into `state`/`defer`.
   */
  changed?: boolean | undefined;
  /** A state directory (holding manifest.json), dbt's `--state`. */
  state?: string | undefined;
  /** Take the state from elsewhere: `cloud` = the dbt Cloud job's newest successful run. */
  stateFrom?: "cloud" | undefined;
  /** dbt's `--defer` (with `state`): unselected refs resolve to the state's relations. */
  defer?: boolean | undefined;
}

/** Runtime-specific metadata for observability. */
export interface RuntimeMetadata {
  /** `local`, `fusion` or `cloud`. */
  type: string;
  [key: string]: unknown;
}

/** Whether a runtime can work on this machine now, and why not. */
export interface Availability {
  available: boolean;
  reason: string;
}

/** The interface every runtime implements (seed DBTPlugin). */
export interface DbtRuntime {
  /** `local`, `fusion` or `cloud`. */
  readonly name: string;
  /** The runtime implementation's version. */
  readonly version: string;
  /** The floe API version implemented. */
  readonly floeApiVersion: string;

  /** Compile the project; returns the path of manifest.json. */
  compileProject(project: ProjectRef, options?: CallOptions): Promise<string>;
  /** `dbt run` with select/exclude/full refresh. */
  runModels(
    project: ProjectRef,
    selection?: Selection,
    options?: CallOptions,
  ): Promise<RunResult>;
  /** `dbt test` with select. */
  testModels(
    project: ProjectRef,
    selection?: Pick<Selection, "select" | "exclude">,
    options?: CallOptions,
  ): Promise<RunResult>;
  /** Any of the dbt commands (seed, build...) returning a run result. */
  execute(
    command: DbtCommand,
    project: ProjectRef,
    selection?: Selection,
    options?: CallOptions,
  ): Promise<RunResult>;
  /** Lint the project's SQL; `fix` applies fixes. */
  lintProject(
    project: ProjectRef,
    options?: CallOptions & { fix?: boolean; select?: string[] },
  ): Promise<LintResult>;
  /** The project's manifest.json (filesystem or API). */
  getManifest(
    project: ProjectRef,
    options?: CallOptions,
  ): Promise<Record<string, unknown>>;
  /** The project's latest run_results.json. */
  getRunResults(
    project: ProjectRef,
    options?: CallOptions,
  ): Promise<Record<string, unknown>>;
  /** False when calls on one project must be serialized (dbt-core). */
  supportsParallelExecution(): boolean;
  /** True when lintProject works. */
  supportsSqlLinting(): boolean;
  /** Metadata for observability (never secrets). */
  getRuntimeMetadata(): RuntimeMetadata;
  /** Whether the runtime can work here now, with the reason. */
  availability(): Promise<Availability>;
  /** Release processes and connections (warm workers). */
  close(): Promise<void>;
}
