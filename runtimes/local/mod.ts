/**
 * The local runtime: real dbt-core driven through dbtRunner in a warm Python
 * worker, one dbt-core run at a time per project (in-process mutex + flock).
 *
 * @module
 */
import { childEnv } from "../../src/child_env.ts";
import { type LocalConfig, LocalConfigSchema } from "../../src/config.ts";
import { ERROR_CODES, FloeDbtError } from "../../src/errors.ts";
import { DbtEventTranslator } from "../../src/dbt_events.ts";
import {
  artifactPaths,
  readArtifact,
  runResultFrom,
} from "../../src/artifacts.ts";
import { firstExisting, venvCandidates } from "../../src/paths.ts";
import { resolveProject, targetDir } from "../../src/project.ts";
import { RuntimeBase } from "../../src/runtime_base.ts";
import type {
  Availability,
  CallOptions,
  DbtRuntime,
  ProjectRef,
  RuntimeMetadata,
  Selection,
} from "../../src/runtime.ts";
import type { DbtCommand, LintResult, RunResult } from "../../src/schemas.ts";
import { errorFromDbt } from "./errors.ts";
import { projectFingerprint } from "./fingerprint.ts";
import { acquireProjectLock } from "./lock.ts";
import { Worker, type WorkerResult } from "./worker.ts";
import { lintWithSqlfluff } from "./lint.ts";
import { type VenvVersions, venvVersions } from "./venv_info.ts";
import { checkCall } from "../../src/validate.ts";

/** dbt selection flags as an argument list. */
export function selectionArgs(selection: Selection = {}): string[] {
  const args: string[] = [];
  if (selection.select?.length) args.push("--select", ...selection.select);
  if (selection.exclude?.length) args.push("--exclude", ...selection.exclude);
  if (selection.fullRefresh) args.push("--full-refresh");
  if (selection.state) args.push("--state", selection.state);
  if (selection.state && selection.defer) args.push("--defer");
  return args;
}

/** The local dbt-core runtime. */
export class LocalRuntime extends RuntimeBase implements DbtRuntime {
  readonly name = "local";
  readonly version = "0.1.0";
  readonly config: LocalConfig;
  #worker: Worker | undefined;
  #starting: Promise<Worker> | undefined;
  #recycles: { reason: string; at: string }[] = [];
  #workerStarts = 0;
  #lastReady: Worker["ready"] | undefined;
  #installed: { python: string; versions: VenvVersions } | undefined;

  constructor(config: Partial<LocalConfig> = {}) {
    super();
    this.config = LocalConfigSchema.parse(config);
  }

  /** The Python of the dbt-core environment, or undefined when none is found. */
  python(): string | undefined {
    if (this.config.python) return this.config.python;
    const env = Deno.env.get("FLOE_DBT_PYTHON");
    if (env) return env;
    return firstExisting(venvCandidates("dbt-core", "python"));
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

  /** The warm worker, started (or recycled) as needed; between runs only. */
  async #ensureWorker(): Promise<Worker> {
    const w = this.#worker;
    if (w && !w.exited) {
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
      this.#recycles.push({ reason, at: new Date().toISOString() });
      this.#worker = undefined;
      await w.stop(this.config.kill_grace_seconds * 1000);
    } else if (w?.exited) {
      this.#recycles.push({
        reason: "worker exited",
        at: new Date().toISOString(),
      });
      this.#worker = undefined;
    }
    this.#starting ??= Worker.start(this.#requirePython()).finally(() => {
      this.#starting = undefined;
    });
    const fresh = await this.#starting;
    this.#workerStarts++;
    this.#worker = fresh;
    this.#lastReady = fresh.ready;
    return fresh;
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
    const common = [
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
    ];
    const args = [
      ...selectionArgs(
        command === "compile" || command === "test"
          ? { ...selection, fullRefresh: false }
          : selection,
      ),
      // compile runs no materialization: the relation cache is not needed.
      ...(command === "compile" ? ["--no-populate-cache"] : []),
    ];
    options.signal?.throwIfAborted();
    const lock = await acquireProjectLock(
      project.projectDir,
      `dbt ${command}`,
      this.config.lock_timeout_seconds,
      options.signal,
    );
    // After the lock: a catalog.json written before this point is not ours.
    const since = new Date();
    try {
      const worker = await this.#ensureWorker();
      // The worker replaces its whole environment with this one per call.
      const env = childEnv();
      // Like the fusion runtime: no usage statistics unless the user asks.
      env.DBT_SEND_ANONYMOUS_USAGE_STATS ??= "false";
      const target = targetDir(project);
      const fingerprint = await projectFingerprint(
        project.projectDir,
        project.profilesDir,
        common,
        env,
        [target],
      );
      const translator = new DbtEventTranslator();
      const onEvent = options.onEvent;
      const result = await this.#invokeCancellable(
        worker,
        {
          command,
          common,
          args,
          cwd: project.projectDir,
          env,
          fingerprint,
        },
        (ev) => {
          if (!onEvent) return;
          for (const p of translator.translate(ev)) onEvent(p);
        },
        options.signal,
      );
      if (result.exception) throw errorFromDbt(command, result.exception);
      const run = await runResultFrom(
        target,
        {
          runtime: "local",
          command,
          dbt_version: worker.ready.dbt_version,
          python_version: worker.ready.python_version,
          worker_pid: worker.ready.pid,
          reused_manifest: result.reused_manifest ?? false,
          parse_seconds: result.parse_seconds ?? 0,
          lock_wait_seconds: lock.waitedMs / 1000,
          target: project.target ?? null,
          select: selection.select ?? [],
          exclude: selection.exclude ?? [],
          full_refresh: Boolean(selection.fullRefresh),
        },
        result.success,
        { since },
      );
      run.execution_time_seconds = (performance.now() - started) / 1000;
      return run;
    } finally {
      lock.release();
    }
  }

  async #invokeCancellable(
    worker: Worker,
    req: Parameters<Worker["invoke"]>[0],
    onEvent: Parameters<Worker["invoke"]>[1],
    signal: AbortSignal | undefined,
  ): Promise<WorkerResult> {
    if (!signal) return await worker.invoke(req, onEvent);
    const onAbort = () => {
      this.#worker = undefined;
      this.#recycles.push({
        reason: "cancelled",
        at: new Date().toISOString(),
      });
      worker.stop(this.config.kill_grace_seconds * 1000);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await worker.invoke(req, onEvent);
    } catch (e) {
      if (signal.aborted) {
        throw new FloeDbtError(
          ERROR_CODES.cancelled,
          `dbt ${req.command} was cancelled; the dbt-core worker and its processes were stopped`,
          { hint: "the next call starts a fresh worker", cause: e },
        );
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
      options,
      this.config.lock_timeout_seconds,
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
      worker_pid: this.#worker && !this.#worker.exited
        ? this.#worker.ready.pid
        : null,
      worker_starts: this.#workerStarts,
      worker_invocations: this.#worker?.invocations ?? 0,
      recycles: this.#recycles.length,
      recycle_log: this.#recycles.slice(-10),
      parallel_execution: false,
    };
  }

  async availability(): Promise<Availability> {
    // A live worker has already proved dbt-core imports: no process to start
    // (readiness probes call this every few seconds).
    const w = this.#worker;
    if (w && !w.exited) {
      return {
        available: true,
        reason:
          `dbt-core ${w.ready.dbt_version} at ${this.python()} (worker pid ${w.ready.pid})`,
      };
    }
    const python = this.python();
    if (!python) {
      return {
        available: false,
        reason: "no dbt-core virtual environment found (run scripts/setup)",
      };
    }
    try {
      const out = await new Deno.Command(python, {
        args: [
          "-c",
          "import importlib.metadata as m; print(m.version('dbt-core'))",
        ],
        stdout: "piped",
        stderr: "null",
      }).output();
      if (!out.success) {
        return {
          available: false,
          reason: `dbt-core is not installed in ${python}`,
        };
      }
      const version = new TextDecoder().decode(out.stdout).trim();
      return { available: true, reason: `dbt-core ${version} at ${python}` };
    } catch (e) {
      return {
        available: false,
        reason: `cannot run ${python}: ${(e as Error).message}`,
      };
    }
  }

  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    await w?.stop(this.config.kill_grace_seconds * 1000);
  }
}
