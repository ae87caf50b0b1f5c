/**
 * The fusion runtime: the real dbt Fusion engine binary (PyPI `dbt` 2.x), run
 * as a subprocess per call with its own target and log directories (see
 * calls.ts), so calls may run in parallel. Targets Fusion cannot serve fall
 * back to the local dbt-core runtime (or fail with E006 when
 * `fallback_to_core` is false).
 *
 * @module
 */
import pLimit from "p-limit";
import {
  type FusionConfig,
  FusionConfigSchema,
  type LocalConfig,
  LocalConfigSchema,
} from "../../src/config/config.ts";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import { artifactPaths, readArtifact } from "../../src/dbt/artifacts.ts";
import {
  adapterType,
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
import type {
  DbtCommand,
  LintResult,
  RunResult,
} from "../../src/contract/schemas.ts";
import { fusionSupports, supportedAdapters } from "./adapters.ts";
import { AdapterRefused } from "./call.ts";
import { checkCall } from "../../src/dbt/validate.ts";
import { runCommand } from "./command.ts";
import { latestTarget } from "./calls.ts";
import { detectFusion, detectionKey, type FusionBinary } from "./detect.ts";
import { type Cached, TtlCache } from "../../src/os/ttl_cache.ts";
import { DuckdbTurns } from "./turns.ts";
import { Fallback } from "./fallback.ts";
import { hasLintCommand, lintWithFusion } from "./lint.ts";
import {
  fusionList,
  fusionParse,
  fusionParseAndQuery,
  fusionQuery,
  type LookContext,
} from "./inspect.ts";
import type { LocalRuntime } from "../local/mod.ts";
import { fusionFacts } from "./facts.ts";
import { FACT_COMMANDS } from "../../src/dbt/node_facts.ts";
import { dbtCorePython } from "../../src/os/paths.ts";
import { logEvent } from "../../src/contract/schemas.ts";

/** The dbt Fusion runtime. */
export class FusionRuntime extends RuntimeBase implements DbtRuntime {
  readonly name = "fusion";
  readonly version = "0.1.0";
  readonly config: FusionConfig;
  readonly localConfig: LocalConfig;
  /** Detection: a found binary for 5 minutes, a failure for 30 s. */
  #detected = new TtlCache<FusionBinary | FloeDbtError>(300_000, 30_000);
  /** Whether the binary has `dbt lint`, per binary path. */
  #lint = new Map<string, boolean>();
  #fallback: Fallback;
  #limit: ReturnType<typeof pLimit>;
  #inFlight = new Set<string>();
  #lastAdapter: string | null = null;
  #turns = new DuckdbTurns();

  constructor(
    config: Partial<FusionConfig> = {},
    local: Partial<LocalConfig> = {},
  ) {
    super();
    this.config = FusionConfigSchema.parse(config);
    this.localConfig = LocalConfigSchema.parse(local);
    this.#limit = pLimit(this.config.max_parallel);
    this.#fallback = new Fallback(
      this.config.fallback_to_core,
      this.localConfig,
      supportedAdapters(this.config.adapters),
    );
  }

  #key(): string {
    return detectionKey(this.config.binary_path, this.config.min_version);
  }

  async #detect(): Promise<Cached<FusionBinary | FloeDbtError>> {
    return await this.#detected.get(this.#key(), async () => {
      try {
        const bin = await detectFusion(
          this.config.binary_path,
          this.config.min_version,
        );
        if (!this.#lint.has(bin.path)) {
          this.#lint.set(bin.path, await hasLintCommand(bin.path));
        }
        return { value: bin, ok: true };
      } catch (e) {
        if (!(e instanceof FloeDbtError)) throw e;
        return { value: e, ok: false };
      }
    });
  }

  /**
   * The Fusion binary, E005 when there is none. Detection is cached: a
   * binary found for 5 minutes, a failure for 30 s (then looked for again).
   */
  async binary(): Promise<FusionBinary> {
    const { value } = await this.#detect();
    if (value instanceof FloeDbtError) throw value;
    return value;
  }

  /** The cached binary, without detecting (undefined when unknown or none). */
  #cachedBinary(): FusionBinary | undefined {
    const hit = this.#detected.peek(this.#key());
    return hit?.ok ? hit.value as FusionBinary : undefined;
  }

  /** Per-call deadline: the call's own, else the configured one. */
  #timeoutSeconds(options: CallOptions): number {
    return options.timeoutSeconds ?? this.config.timeout_seconds;
  }

  get #killGraceMs(): number {
    return this.localConfig.kill_grace_seconds * 1000;
  }

  /** The project and its adapter; the reason when Fusion cannot serve it. */
  #prepare(ref: ProjectRef): {
    project: ResolvedProject;
    adapter: string;
    unsupported: string | undefined;
  } {
    checkCall(ref);
    const project = resolveProject(ref);
    const adapter = adapterType(project);
    this.#lastAdapter = adapter;
    const unsupported = fusionSupports(adapter, this.config.adapters)
      ? undefined
      : `dbt Fusion does not support the '${adapter}' adapter`;
    return { project, adapter, unsupported };
  }

  override async execute(
    command: DbtCommand,
    ref: ProjectRef,
    selection: Selection = {},
    options: CallOptions = {},
  ): Promise<RunResult> {
    const started = performance.now();
    const { project, adapter, unsupported } = this.#prepare(ref);
    let reason = unsupported;
    if (!reason) {
      const bin = await this.binary();
      try {
        const run = await this.#limit(() =>
          this.#turns.run(
            adapter,
            project.projectDir,
            options.signal,
            async () => {
              const run = await runCommand(
                bin,
                command,
                project,
                selection,
                options,
                {
                  killGraceMs: this.#killGraceMs,
                  inFlight: this.#inFlight,
                  timeoutSeconds: this.#timeoutSeconds(options),
                },
              );
              // In the same turn: the facts query opens the DuckDB file too.
              if (this.config.node_facts && FACT_COMMANDS.has(command)) {
                await this.#addFacts(run, bin, project, adapter, options);
              }
              return run;
            },
          )
        );
        run.metadata.adapter = adapter;
        run.execution_time_seconds = (performance.now() - started) / 1000;
        return run;
      } catch (e) {
        if (!(e instanceof AdapterRefused)) throw e;
        reason = `dbt Fusion refused the '${adapter}' adapter: ${e.message}`;
      }
    }
    const why = reason;
    const run = await this.#fallback.run(
      adapter,
      why,
      (local) => local.execute(command, ref, selection, options),
      options,
    );
    run.metadata = {
      ...run.metadata,
      ...this.#fallback.metadata(adapter, why),
    };
    return run;
  }

  /**
   * Per-node facts of a finished call into `run.metadata.nodes` (facts.ts):
   * one facts query through Fusion, lineage by sqlglot. Failing facts never
   * fail the run: a debug line and no facts (a warning when the project
   * itself keeps every query from running: a node named `inline`).
   */
  async #addFacts(
    run: RunResult,
    bin: FusionBinary,
    project: ResolvedProject,
    adapter: string,
    options: CallOptions,
  ): Promise<void> {
    const debug = (m: string) =>
      options.onEvent?.(logEvent("debug", `node facts: ${m}`));
    try {
      run.metadata.nodes = await fusionFacts(
        run.manifest_path,
        run.run_results_path,
        {
          adapter,
          rowCounts: this.config.row_counts,
          python: dbtCorePython(this.localConfig.python),
          query: (sql) =>
            fusionQuery(this.#lookContext(bin, project, options), sql),
          debug,
          warn: (m) => options.onEvent?.(logEvent("warn", `node facts: ${m}`)),
        },
      );
    } catch (e) {
      debug(`none: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Read-only looks (src/contract/runtime.ts DbtInspector), each one Fusion call
   * (inspect.ts); on an adapter Fusion cannot serve, the fallback's.
   */
  readonly inspect: DbtInspector = {
    parseProject: (ref, vars, options = {}, allowJinjaVars = false) =>
      this.#look(
        ref,
        options,
        (ctx) => fusionParse(ctx, vars, allowJinjaVars),
        (local) =>
          local.inspect.parseProject(ref, vars, options, allowJinjaVars),
      ),
    // `dbt ls` does not open the warehouse (checked: it runs while another
    // process holds DuckDB's lock), so it need not wait for DuckDB's turn.
    listNodes: (ref, selection, options = {}) =>
      this.#look(
        ref,
        options,
        (ctx) => fusionList(ctx, selection),
        (local) => local.inspect.listNodes(ref, selection, options),
        false,
      ),
    queryRows: (ref, sql, options = {}) =>
      this.#look(
        ref,
        options,
        (ctx) => fusionQuery(ctx, sql),
        (local) => local.inspect.queryRows(ref, sql, options),
      ),
    parseAndQuery: (ref, vars, sql, options = {}, allowJinjaVars = false) =>
      this.#look(
        ref,
        options,
        (ctx) => fusionParseAndQuery(ctx, sql, vars, allowJinjaVars),
        async (local) => ({
          manifestPath: await local.inspect.parseProject(
            ref,
            vars,
            options,
            allowJinjaVars,
          ),
          rows: await local.inspect.queryRows(ref, sql, options),
          queryDir: "",
        }),
      ),
  };

  /** What one Fusion call of a look needs: the binary, limits and in-flight set. */
  #lookContext(
    bin: FusionBinary,
    project: ResolvedProject,
    options: CallOptions,
  ): LookContext {
    return {
      bin,
      project,
      options,
      killGraceMs: this.#killGraceMs,
      timeoutSeconds: this.#timeoutSeconds(options),
      inFlight: this.#inFlight,
    };
  }

  async #look<T>(
    ref: ProjectRef,
    options: CallOptions,
    work: (ctx: LookContext) => Promise<T>,
    fallback: (local: LocalRuntime) => Promise<T>,
    opensWarehouse = true,
  ): Promise<T> {
    const { project, adapter, unsupported } = this.#prepare(ref);
    let reason = unsupported;
    if (!reason) {
      const bin = await this.binary();
      const call = () => work(this.#lookContext(bin, project, options));
      try {
        return await this.#limit(() =>
          opensWarehouse
            ? this.#turns.run(adapter, project.projectDir, options.signal, call)
            : call()
        );
      } catch (e) {
        if (!(e instanceof AdapterRefused)) throw e;
        reason = `dbt Fusion refused the '${adapter}' adapter: ${e.message}`;
      }
    }
    return await this.#fallback.run(adapter, reason, fallback, options);
  }

  async compileProject(
    ref: ProjectRef,
    options?: CallOptions,
  ): Promise<string> {
    const result = await this.execute("compile", ref, {}, options);
    if (!result.success) {
      const fusion = (result.metadata.fusion_errors as string[] | undefined)
        ?.[0];
      const first = (result.metadata.errors as { message?: string }[])?.[0];
      throw new FloeDbtError(
        ERROR_CODES.compilation,
        `dbt compile failed: ${fusion ?? first?.message ?? "see the log"}`,
        { hint: "fix the model dbt names, then compile again" },
      );
    }
    return result.manifest_path;
  }

  async lintProject(
    ref: ProjectRef,
    options: CallOptions & { fix?: boolean; select?: string[] } = {},
  ): Promise<LintResult> {
    const { project, adapter, unsupported } = this.#prepare(ref);
    let reason = unsupported;
    if (!reason) {
      const bin = await this.binary();
      if (!this.#lint.get(bin.path)) {
        throw new FloeDbtError(
          ERROR_CODES.lint,
          `This dbt Fusion (${bin.path}) has no 'lint' command`,
          { hint: "install a Fusion with `dbt lint`, or use --runtime local" },
        );
      }
      try {
        return await lintWithFusion(
          bin,
          project,
          { ...options, timeoutSeconds: this.#timeoutSeconds(options) },
          this.#killGraceMs,
        );
      } catch (e) {
        if (!(e instanceof AdapterRefused)) throw e;
        reason = `dbt Fusion refused the '${adapter}' adapter: ${e.message}`;
      }
    }
    return await this.#fallback.run(
      adapter,
      reason,
      (local) => local.lintProject(ref, options),
      options,
    );
  }

  async #artifactDir(ref: ProjectRef): Promise<string> {
    const project = resolveProject(ref);
    return await latestTarget(project.projectDir) ?? targetDir(project);
  }

  async getManifest(ref: ProjectRef): Promise<Record<string, unknown>> {
    return readArtifact(artifactPaths(await this.#artifactDir(ref)).manifest);
  }

  async getRunResults(ref: ProjectRef): Promise<Record<string, unknown>> {
    return readArtifact(artifactPaths(await this.#artifactDir(ref)).runResults);
  }

  supportsParallelExecution(): boolean {
    return true;
  }

  /**
   * True when the installed Fusion binary has a `lint` command, from the
   * detection cache (filled by `availability()` or any call; false until
   * then: this never starts a process).
   */
  supportsSqlLinting(): boolean {
    const bin = this.#cachedBinary();
    if (!bin) void this.#detect().catch(() => {});
    return bin ? this.#lint.get(bin.path) ?? false : false;
  }

  getRuntimeMetadata(): RuntimeMetadata {
    const bin = this.#cachedBinary();
    return {
      type: "fusion",
      runtime_version: this.version,
      floe_api_version: this.floeApiVersion,
      fusion_version: bin?.version ?? null,
      // Fusion is dbt itself (2.x) and has no Python.
      dbt_version: bin?.version ?? null,
      python_version: null,
      binary_path: bin?.path ?? null,
      adapter: this.#lastAdapter,
      supported_adapters: supportedAdapters(this.config.adapters),
      fallback_to_core: this.config.fallback_to_core,
      fallbacks: this.#fallback.count,
      last_fallback: this.#fallback.last,
      parallel_execution: true,
      max_parallel: this.config.max_parallel,
      timeout_seconds: this.config.timeout_seconds,
    };
  }

  /** From the detection cache (no process while it is fresh). */
  async availability(): Promise<Availability> {
    const { value } = await this.#detect();
    if (value instanceof FloeDbtError) {
      return { available: false, reason: value.message };
    }
    return {
      available: true,
      reason: `dbt Fusion ${value.version} at ${value.path}`,
    };
  }

  async close(): Promise<void> {
    await this.#fallback.close();
  }
}
