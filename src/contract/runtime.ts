/**
 * The runtime contract (seed REQ-086 / DBTPlugin): one interface, three
 * runtimes behind it (`runtimes/local`, `runtimes/fusion`, `runtimes/cloud`).
 *
 * @module
 */
import type {
  DbtCommand,
  IndirectSelection,
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
  /**
   * Called with the nonce of a remote trigger before the trigger is sent
   * (cloud), so a job runner can journal it: after a crash mid-trigger the
   * run is found by it (`resumeTrigger`) instead of being triggered twice.
   */
  onTrigger?: ((nonce: string) => void | Promise<void>) | undefined;
  /**
   * A trigger that may have been sent before a crash (its nonce, and a time
   * before it was sent): the run it made is adopted, or, when there is none,
   * the call triggers as usual with that nonce (cloud).
   */
  resumeTrigger?: { nonce: string; sinceMs: number } | undefined;
  /**
   * Stops following a remote run without cancelling it: the agent is going
   * away and the run is reattached after the restart (cloud). Local work
   * ignores it and stops on `signal` only.
   */
  detach?: AbortSignal | undefined;
  /** dbt `--threads` for this call (cloud: threads_override). */
  threads?: number | undefined;
  /**
   * Deadline of this call, seconds (local and fusion; default: the
   * runtime's `timeout_seconds`). Past it the run is stopped: E007.
   */
  timeoutSeconds?: number | undefined;
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
  /** dbt `--vars`: a mapping, given to dbt as one JSON argument. */
  vars?: Record<string, unknown> | undefined;
  /**
   * The operator allows Jinja in `vars` (`--allow-jinja-vars`): dbt renders
   * a var's text, so whoever writes the vars can run any SQL. Without it a
   * Jinja delimiter in a key or string of `vars` is refused (E010).
   */
  allowJinjaVars?: boolean | undefined;
  /** dbt `--fail-fast`: stop at the first failure. */
  failFast?: boolean | undefined;
  /** dbt `--selector`: the name of a YAML selector of the project. */
  selector?: string | undefined;
  /** dbt `--indirect-selection`. */
  indirectSelection?: IndirectSelection | undefined;
  /**
   * Run only what changed since the kept state and its descendants
   * (`state:modified+` within `select`), deferring the rest to that state.
   * Resolved by the state layer (src/wrappers/state.ts) into `state`/`defer`.
   */
  changed?: boolean | undefined;
  /** A state directory (holding manifest.json), dbt's `--state`. */
  state?: string | undefined;
  /** Take the state from elsewhere: `cloud` = the dbt Cloud job's newest successful run. */
  stateFrom?: "cloud" | undefined;
  /** dbt's `--defer` (with `state`): unselected refs resolve to the state's relations. */
  defer?: boolean | undefined;
  /**
   * Reuse every node whose input key equals the key of its last success on
   * the target (run and build; src/skip/runtime.ts).
   */
  skipUnchanged?: boolean | undefined;
  /**
   * Leave out the nodes downstream of a source whose dbt freshness is
   * `error` (run and build; src/skip/runtime.ts).
   */
  skipStaleSources?: boolean | undefined;
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

/**
 * Read-only looks at a project through dbt, for wrappers that plan a call
 * (src/skip: `--skip-unchanged`). A runtime that runs dbt where the agent
 * is (local, fusion) offers it; dbt Cloud does not.
 */
export interface DbtInspector {
  /**
   * Parse the project (no SQL compiled); the path of the manifest.json
   * written. `allowJinjaVars`: the operator's allowance, as in Selection.
   */
  parseProject(
    project: ProjectRef,
    vars: Record<string, unknown> | undefined,
    options?: CallOptions,
    allowJinjaVars?: boolean,
  ): Promise<string>;
  /** The unique_ids dbt selects for this selection (`dbt ls`). */
  listNodes(
    project: ProjectRef,
    selection: Selection,
    options?: CallOptions,
  ): Promise<string[]>;
  /**
   * The rows of one read-only SQL statement written by the agent itself
   * (never a caller's text), run by dbt's adapter on the project's target.
   */
  queryRows(
    project: ProjectRef,
    sql: string,
    options?: CallOptions,
  ): Promise<Record<string, unknown>[]>;
  /**
   * Optional: `parseProject` and `queryRows` in one dbt process, where that
   * is cheaper (fusion: `dbt show --inline` writes the manifest it parsed).
   * Nodes whose `original_file_path` lies under `queryDir` are the query's
   * own, not the project's.
   */
  parseAndQuery?(
    project: ProjectRef,
    vars: Record<string, unknown> | undefined,
    sql: string,
    options?: CallOptions,
    allowJinjaVars?: boolean,
  ): Promise<ParsedQuery>;
}

/** What `DbtInspector.parseAndQuery` returns. */
export interface ParsedQuery {
  /** The manifest.json written by the call. */
  manifestPath: string;
  /** The query's rows. */
  rows: Record<string, unknown>[];
  /** The directory (absolute) of the files of the query's own node(s). */
  queryDir: string;
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
  /** Read-only looks through dbt, where the runtime offers them. */
  readonly inspect?: DbtInspector | undefined;
}
