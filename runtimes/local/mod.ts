/**
 * The local runtime: real dbt-core driven through dbtRunner in a warm Python
 * worker per project (a bounded pool, pool.ts), one dbt-core run at a time
 * per project (in-process mutex + flock), each under a deadline.
 *
 * @module
 */
import { join } from "node:path";
import { childEnv } from "../../src/os/child_env.ts";
import {
  type LocalConfig,
  LocalConfigSchema,
} from "../../src/config/config.ts";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import { DbtEventTranslator } from "../../src/dbt/dbt_events.ts";
import {
  artifactPaths,
  commandResultFrom,
  readArtifact,
} from "../../src/dbt/artifacts.ts";
import {
  checkOptions,
  checkVars,
  optionArgs,
  optionMetadata,
  varsArgs,
} from "../../src/dbt/dbt_options.ts";
import { dbtCorePython, venvCandidates } from "../../src/os/paths.ts";
import { deadlineError } from "../../src/contract/deadline.ts";
import { FACT_COMMANDS, parseNodeFacts } from "../../src/dbt/node_facts.ts";
import {
  type ResolvedProject,
  resolveProject,
  targetDir,
} from "../../src/dbt/project.ts";
import { RuntimeBase } from "../../src/contract/runtime_base.ts";
import type {
  Availability,
  CallOptions,
  DbtInspector,
  DbtRuntime,
  ProjectRef,
  RuntimeMetadata,
  Selection,
} from "../../src/contract/runtime.ts";
import {
  type DbtCommand,
  dbtCommandWords,
  type LintResult,
  type RunResult,
} from "../../src/contract/schemas.ts";
import { errorFromDbt } from "./errors.ts";
import { projectFingerprint } from "./fingerprint.ts";
import { acquireProjectLock } from "./lock.ts";
import { type InvokeRequest, Worker, type WorkerResult } from "./worker.ts";
import { lintWithSqlfluff } from "./lint.ts";
import { type VenvVersions, venvVersions } from "./venv_info.ts";
import { checkCall } from "../../src/dbt/validate.ts";
import { abortable } from "../../src/os/abortable.ts";
import { probePython } from "../../src/os/spawn.ts";
import { TtlCache } from "../../src/os/ttl_cache.ts";
import { WorkerPool } from "./pool.ts";

/** The local dbt-core runtime. */
export class LocalRuntime extends RuntimeBase implements DbtRuntime {
  readonly name = "local";
  readonly version = "0.1.0";
  readonly config: LocalConfig;
  readonly #pool: WorkerPool<Worker>;
  #recycles: { reason: string; at: string }[] = [];
  #workerStarts = 0;
  #lastReady: Worker["ready"] | undefined;
  /** Availability: a good answer for 5 minutes, a bad one for 30 s. */
  #available = new TtlCache<Availability>(300_000, 30_000);
  #installed: { python: string; versions: VenvVersions } | undefined;

  constructor(config: Partial<LocalConfig> = {}) {
    super();
    this.config = LocalConfigSchema.parse(config);
    this.#pool = new WorkerPool<Worker>({
      maxWorkers: this.config.max_workers,
      memoryBudgetMb: this.config.memory_budget_mb,
      killGraceMs: this.config.kill_grace_seconds * 1000,
    });
  }

  /** The Python of the dbt-core environment, or undefined when none is found. */
  python(): string | undefined {
    return dbtCorePython(this.config.python);
  }

  /** What the venv holds, read from disk once per Python (no process). */
  #installedVersions(): VenvVersions | undefined {
    const python = this.python();
    if (!python) return undefined;
    if (this.#installed?.python !== python) {
      this.#installed = { python, versions: venvVersions(python) };
    }
    return this.#installed.versions;
  }

  #requirePython(): string {
    const python = this.python();
    if (!python) {
      throw new FloeDbtError(
        ERROR_CODES.configuration,
        `No dbt-core Python found: looked in ${
          venvCandidates("dbt-core", "python").join(", ")
        }`,
        {
          hint:
            "run scripts/setup, or set FLOE_DBT_PYTHON or dbt_runtime_config.local.python",
        },
      );
    }
    return python;
  }

  #recycled(reason: string): void {
    this.#recycles.push({ reason, at: new Date().toISOString() });
    if (this.#recycles.length > 100) this.#recycles.shift();
  }

  /**
   * The project's warm worker, taken from the pool for this run (started,
   * or recycled, as needed; between runs only). Give it back with
   * `#pool.release` or `#pool.discard`.
   */
  async #ensureWorker(project: string, signal: AbortSignal): Promise<Worker> {
    const w = this.#pool.take(project);
    if (w) {
      let reason: string | undefined;
      if (w.invocations >= this.config.max_invocations) {
        reason = `invocation limit ${this.config.max_invocations} reached`;
      } else {
        const rss = await w.rssMb();
        if (rss !== undefined && rss > this.config.max_rss_mb) {
          reason = `resident memory ${
            rss.toFixed(0)
          } MiB over ${this.config.max_rss_mb} MiB`;
        }
      }
      if (!reason) return w;
      this.#recycled(reason);
      await this.#pool.discard(project, w);
    } else if (this.#pool.snapshot().some((e) => e.project === project)) {
      this.#recycled("worker exited");
    }
    const python = this.#requirePython();
    const fresh = await this.#pool.start(
      project,
      () => Worker.start(python),
      signal,
    );
    this.#workerStarts++;
    this.#lastReady = fresh.ready;
    return fresh;
  }

  /** E007 for a call past its deadline. */
  #deadlineError(command: string, projectDir: string, seconds: number) {
    return deadlineError(
      `dbt ${command} on '${projectDir}'`,
      seconds,
      "the dbt-core worker and its processes were stopped",
      "look for what it waits on (a database lock held by another process, a slow query), or raise timeout_seconds (the job's, or dbt_runtime_config.local.timeout_seconds); the next call starts a fresh worker",
      { project_dir: projectDir },
    );
  }

  /** The agent's own dbt flags for a project (after the caller's). */
  #common(
    project: ResolvedProject,
    vars: Record<string, unknown> | undefined,
    allowJinjaVars = false,
  ): string[] {
    return [
      "--project-dir",
      project.projectDir,
      "--profiles-dir",
      project.profilesDir,
      ...(project.target ? ["--target", project.target] : []),
      // Events reach the agent through callbacks; dbt's own console output is
      // not shown anywhere, so it is not produced (a measured ~20% of a warm
      // compile). logs/dbt.log keeps the configured level.
      "--log-level",
      "none",
      "--log-level-file",
      this.config.log_level_file,
      // vars shape parsing: the parse gets them too, and they are part of
      // the fingerprint (other vars, another parse).
      ...varsArgs(vars, allowJinjaVars),
    ];
  }

  override async execute(
    command: DbtCommand,
    ref: ProjectRef,
    selection: Selection = {},
    options: CallOptions = {},
  ): Promise<RunResult> {
    const started = performance.now();
    const project = resolveProject(ref);
    checkCall(project, selection);
    checkOptions(command, selection, options);
    if (command === "retry") await requirePreviousRun(project);
    const args = [
      ...optionArgs(command, selection, options),
      // compile runs no materialization: the relation cache is not needed.
      ...(command === "compile" ? ["--no-populate-cache"] : []),
    ];
    return await this.#withWorker(
      `dbt ${command}`,
      command,
      project,
      options,
      async (call, w, lock) => {
        // After the lock: a catalog.json written before this point is not ours.
        const since = new Date();
        const target = targetDir(project);
        const result = await call({
          command: dbtCommandWords(command).join(" "),
          common: this.#common(
            project,
            selection.vars,
            selection.allowJinjaVars,
          ),
          args,
          facts: this.config.node_facts && FACT_COMMANDS.has(command)
            ? { row_counts: this.config.row_counts }
            : null,
        }, [target]);
        if (result.exception) throw errorFromDbt(command, result.exception);
        const res = await commandResultFrom(
          command,
          target,
          {
            runtime: "local",
            command,
            dbt_version: w.ready.dbt_version,
            python_version: w.ready.python_version,
            worker_pid: w.ready.pid,
            reused_manifest: result.reused_manifest ?? false,
            parse_seconds: result.parse_seconds ?? 0,
            lock_wait_seconds: lock.waitedMs / 1000,
            target: project.target ?? null,
            select: selection.select ?? [],
            exclude: selection.exclude ?? [],
            ...optionMetadata(command, selection, options),
          },
          result.success,
          { since },
        );
        res.execution_time_seconds = (performance.now() - started) / 1000;
        const facts = parseNodeFacts(result.node_facts);
        if (facts) res.metadata.nodes = facts;
        return res;
      },
    );
  }

  /**
   * Read-only looks through the same warm worker (src/contract/runtime.ts
   * DbtInspector): the parsed manifest, dbt's selection, a query's rows.
   */
  readonly inspect: DbtInspector = {
    parseProject: (ref, vars, options = {}, allowJinjaVars = false) =>
      this.#parseProject(ref, vars, options, allowJinjaVars),
    listNodes: (ref, selection, options = {}) =>
      this.#listNodes(ref, selection, options),
    queryRows: (ref, sql, options = {}) => this.#queryRows(ref, sql, options),
  };

  async #parseProject(
    ref: ProjectRef,
    vars: Record<string, unknown> | undefined,
    options: CallOptions,
    allowJinjaVars: boolean,
  ): Promise<string> {
    const project = resolveProject(ref);
    checkCall(project);
    if (vars !== undefined) checkVars(vars, "vars", allowJinjaVars);
    const target = targetDir(project);
    // Not dbt's manifest.json: each run compiles into that one.
    const path = join(target, "floe_parsed_manifest.json");
    return await this.#withWorker(
      "dbt parse",
      "parse",
      project,
      options,
      async (call) => {
        await Deno.mkdir(target, { recursive: true });
        const result = await call({
          command: "parse",
          common: this.#common(project, vars, allowJinjaVars),
          args: [],
          write_manifest: path,
        }, [target]);
        if (result.exception || !result.success) {
          throw errorFromDbt(
            "parse",
            result.exception ??
              {
                type: "ParseError",
                module: "dbt",
                message: "dbt parse failed",
              },
          );
        }
        return path;
      },
    );
  }

  async #listNodes(
    ref: ProjectRef,
    selection: Selection,
    options: CallOptions,
  ): Promise<string[]> {
    const project = resolveProject(ref);
    checkCall(project, selection);
    checkOptions("run", selection, options);
    const args = [
      ...optionArgs("run", {
        select: selection.select,
        exclude: selection.exclude,
        selector: selection.selector,
        indirectSelection: selection.indirectSelection,
        state: selection.state,
      }),
      "--output",
      "json",
      "--output-keys",
      "unique_id",
    ];
    return await this.#withWorker(
      "dbt ls",
      "ls",
      project,
      options,
      async (call) => {
        const result = await call({
          command: "ls",
          common: this.#common(
            project,
            selection.vars,
            selection.allowJinjaVars,
          ),
          args,
          capture: true,
        }, [targetDir(project)]);
        if (result.exception) throw errorFromDbt("ls", result.exception);
        return (result.lines ?? []).map((line) => {
          try {
            return String(
              (JSON.parse(line) as { unique_id?: unknown }).unique_id ?? "",
            );
          } catch {
            return "";
          }
        }).filter(Boolean);
      },
    );
  }

  async #queryRows(
    ref: ProjectRef,
    sql: string,
    options: CallOptions,
  ): Promise<Record<string, unknown>[]> {
    const project = resolveProject(ref);
    checkCall(project);
    return await this.#withWorker(
      "dbt show",
      "show",
      project,
      options,
      async (call) => {
        const result = await call({
          command: "show",
          common: this.#common(project, undefined),
          // No Jinja: the agent's own SQL goes to the adapter as written.
          args: ["--inline-direct", sql, "--output", "json", "--limit", "-1"],
          capture: true,
        }, null);
        if (result.exception || !result.success) {
          throw errorFromDbt(
            "show",
            result.exception ??
              {
                type: "DbtRuntimeError",
                module: "dbt",
                message: "the query failed",
              },
          );
        }
        return parsePreview(result.preview);
      },
    );
  }

  /**
   * One dbt call on the project's warm worker: the project lock, the
   * deadline, cancellation and the worker's return to the pool. `body`
   * gets `call(request, fingerprintDirs)` (null dirs: no parse wanted).
   */
  async #withWorker<T>(
    label: string,
    command: string,
    project: ResolvedProject,
    options: CallOptions,
    body: (
      call: (
        req: Omit<InvokeRequest, "cwd" | "env" | "fingerprint">,
        fingerprintDirs: string[] | null,
      ) => Promise<WorkerResult>,
      w: Worker,
      lock: { waitedMs: number },
    ) => Promise<T>,
  ): Promise<T> {
    options.signal?.throwIfAborted();
    const lock = await acquireProjectLock(
      project.projectDir,
      label,
      this.config.lock_timeout_seconds,
      options.signal,
    );
    // The run's own signal: the caller's cancel, or the deadline.
    const seconds = options.timeoutSeconds ?? this.config.timeout_seconds;
    const run = new AbortController();
    const deadline = setTimeout(
      () =>
        run.abort(
          this.#deadlineError(command, project.projectDir, seconds),
        ),
      seconds * 1000,
    );
    const onCancel = () => run.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onCancel, { once: true });
    if (options.signal?.aborted) onCancel();
    const key = project.projectDir;
    let worker: Worker | undefined;
    let stopped = false;
    try {
      // A cancel (or the deadline) while the worker starts ends the call at
      // once; the worker goes on starting and is handed back to the pool
      // idle, for the next call.
      const starting = this.#ensureWorker(key, run.signal);
      try {
        worker = await abortable(starting, run.signal);
      } catch (e) {
        if (run.signal.aborted) {
          starting.then((w) => this.#pool.release(key, w), () => {});
          throw this.#abortError(command, run.signal, e);
        }
        throw e;
      }
      if (run.signal.aborted) throw this.#abortError(command, run.signal);
      const w = worker;
      const call = async (
        req: Omit<InvokeRequest, "cwd" | "env" | "fingerprint">,
        fingerprintDirs: string[] | null,
      ): Promise<WorkerResult> => {
        // The worker replaces its whole environment with this one per call.
        const env = childEnv();
        // Like the fusion runtime: no usage statistics unless the user asks.
        env.DBT_SEND_ANONYMOUS_USAGE_STATS ??= "false";
        const fingerprint = fingerprintDirs === null
          ? null
          : await projectFingerprint(
            project.projectDir,
            project.profilesDir,
            req.common,
            env,
            fingerprintDirs,
          );
        const translator = new DbtEventTranslator();
        const onEvent = options.onEvent;
        return await this.#invokeCancellable(
          w,
          { ...req, cwd: project.projectDir, env, fingerprint },
          (ev) => {
            if (!onEvent) return;
            for (const p of translator.translate(ev)) onEvent(p);
          },
          run.signal,
          () => {
            stopped = true;
            return this.#pool.discard(key, w);
          },
        );
      };
      return await body(call, w, lock);
    } finally {
      clearTimeout(deadline);
      options.signal?.removeEventListener("abort", onCancel);
      if (worker && !stopped) await this.#pool.release(key, worker);
      lock.release();
    }
  }

  /** The error for a run stopped by its signal: E007 (deadline) or E008. */
  #abortError(command: string, signal: AbortSignal, cause?: unknown) {
    const reason = signal.reason;
    if (reason instanceof FloeDbtError && reason.code === ERROR_CODES.timeout) {
      return reason;
    }
    return new FloeDbtError(
      ERROR_CODES.cancelled,
      `dbt ${command} was cancelled; the dbt-core worker and its processes were stopped`,
      { hint: "the next call starts a fresh worker", cause },
    );
  }

  async #invokeCancellable(
    worker: Worker,
    req: Parameters<Worker["invoke"]>[0],
    onEvent: Parameters<Worker["invoke"]>[1],
    signal: AbortSignal,
    stop: () => Promise<void>,
  ): Promise<WorkerResult> {
    let stopping: Promise<void> | undefined;
    const onAbort = () => {
      const timedOut = signal.reason instanceof FloeDbtError &&
        signal.reason.code === ERROR_CODES.timeout;
      this.#recycled(timedOut ? "deadline passed" : "cancelled");
      stopping = stop();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      signal.throwIfAborted();
      return await worker.invoke(req, onEvent);
    } catch (e) {
      if (signal.aborted) {
        // The group is gone before the project is freed.
        await stopping;
        throw this.#abortError(req.command, signal, e);
      }
      throw e;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  async compileProject(
    ref: ProjectRef,
    options?: CallOptions,
  ): Promise<string> {
    const result = await this.execute("compile", ref, {}, options);
    if (!result.success) {
      const first =
        (result.metadata.errors as { message?: string }[] | undefined)
          ?.[0];
      throw new FloeDbtError(
        ERROR_CODES.compilation,
        `dbt compile failed: ${first?.message ?? "see dbt's log"}`,
        { hint: "fix the model dbt names, then compile again" },
      );
    }
    return result.manifest_path;
  }

  lintProject(
    ref: ProjectRef,
    options: CallOptions & { fix?: boolean; select?: string[] } = {},
  ): Promise<LintResult> {
    return lintWithSqlfluff(
      this.#requirePython(),
      ref,
      {
        ...options,
        timeoutSeconds: options.timeoutSeconds ?? this.config.timeout_seconds,
      },
      this.config.lock_timeout_seconds,
      this.config.kill_grace_seconds,
    );
  }

  getManifest(ref: ProjectRef): Promise<Record<string, unknown>> {
    return readArtifact(artifactPaths(targetDir(resolveProject(ref))).manifest);
  }

  getRunResults(ref: ProjectRef): Promise<Record<string, unknown>> {
    return readArtifact(
      artifactPaths(targetDir(resolveProject(ref))).runResults,
    );
  }

  supportsParallelExecution(): boolean {
    return false;
  }

  supportsSqlLinting(): boolean {
    return true;
  }

  getRuntimeMetadata(): RuntimeMetadata {
    // The worker's own report once it ran; before that, the venv on disk.
    const installed = this.#lastReady ? undefined : this.#installedVersions();
    const live = this.#pool.snapshot().filter((e) => !e.worker.exited);
    const latest = this.#pool.latest();
    return {
      type: "local",
      runtime_version: this.version,
      floe_api_version: this.floeApiVersion,
      python: this.python() ?? null,
      dbt_version: this.#lastReady?.dbt_version ?? installed?.dbt_version ??
        null,
      python_version: this.#lastReady?.python_version ??
        installed?.python_version ?? null,
      adapters: this.#lastReady
        ? Object.fromEntries(
          Object.entries(this.#lastReady).filter(([k]) => k.startsWith("dbt-")),
        )
        : Object.fromEntries(
          Object.entries(installed?.packages ?? {}).filter(([k]) =>
            k.startsWith("dbt-")
          ),
        ),
      // The most recently used worker (one per project: see `workers`).
      worker_pid: latest ? latest.ready.pid : null,
      worker_starts: this.#workerStarts,
      worker_invocations: latest?.invocations ?? 0,
      workers: live.map((e) => ({
        project_dir: e.project,
        pid: e.worker.ready.pid,
        invocations: e.worker.invocations,
        busy: e.busy,
      })),
      max_workers: this.config.max_workers,
      memory_budget_mb: this.config.memory_budget_mb,
      timeout_seconds: this.config.timeout_seconds,
      evictions: this.#pool.evictions.length,
      eviction_log: this.#pool.evictions.slice(-10),
      recycles: this.#recycles.length,
      recycle_log: this.#recycles.slice(-10),
      parallel_execution: false,
    };
  }

  /**
   * Whether dbt-core can run here. A live worker proves it; otherwise one
   * bounded import check, cached (5 minutes when available, 30 s when not),
   * so readiness probes start no process once warm.
   */
  async availability(): Promise<Availability> {
    const latest = this.#pool.latest();
    if (latest) {
      return {
        available: true,
        reason:
          `dbt-core ${latest.ready.dbt_version} at ${this.python()} (worker pid ${latest.ready.pid})`,
      };
    }
    const python = this.python();
    if (!python) {
      return {
        available: false,
        reason: "no dbt-core virtual environment found (run scripts/setup)",
      };
    }
    const { value } = await this.#available.get(python, async () => {
      const a = await checkDbtCore(python);
      return { value: a, ok: a.available };
    });
    return value;
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

/** One bounded `import dbt-core` check with the given Python. */
async function checkDbtCore(python: string): Promise<Availability> {
  try {
    const out = await probePython(
      python,
      "import importlib.metadata as m; print(m.version('dbt-core'))",
      30_000,
    );
    if (out.timedOut) {
      return {
        available: false,
        reason: `${python} did not answer within 30 s`,
      };
    }
    if (!out.success) {
      return {
        available: false,
        reason: `dbt-core is not installed in ${python}`,
      };
    }
    return {
      available: true,
      reason: `dbt-core ${out.stdout.trim()} at ${python}`,
    };
  } catch (e) {
    return {
      available: false,
      reason: `cannot run ${python}: ${(e as Error).message}`,
    };
  }
}

/** The rows of a show's JSON preview (`{"COL": value}` objects). */
function parsePreview(preview: string | null | undefined): Record<
  string,
  unknown
>[] {
  if (!preview) return [];
  const rows = JSON.parse(preview) as unknown;
  return Array.isArray(rows) ? rows as Record<string, unknown>[] : [];
}

/** dbt retry needs the previous run's run_results.json in the target path. */
async function requirePreviousRun(
  project: ReturnType<typeof resolveProject>,
): Promise<void> {
  const path = artifactPaths(targetDir(project)).runResults;
  try {
    await Deno.lstat(path);
  } catch {
    throw new FloeDbtError(
      ERROR_CODES.usage,
      `The local runtime has no previous run to retry in '${project.projectDir}' (no ${path})`,
      { hint: "run the command first (floe-dbt run), then retry" },
    );
  }
}
