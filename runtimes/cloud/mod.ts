/**
 * The cloud runtime: runs dbt remotely through the dbt Cloud Admin API v2
 * (trigger, retry, poll, cancel, artifacts), keeps artifacts in a local cache
 * with a TTL, and reads applied model state from the Discovery API.
 *
 * `availability()` makes no network call: it reports available when the
 * config is valid and the token reference resolves (a network probe would
 * spend rate limit and can't prove a job may run anyway).
 *
 * @module
 */
import { join } from "node:path";
import { ensureDirInside } from "../../src/os/safe_fs.ts";
import {
  type CloudConfig,
  CloudConfigSchema,
} from "../../src/config/config.ts";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import { resolveSecret } from "../../src/config/secrets.ts";
import { RuntimeBase } from "../../src/contract/runtime_base.ts";
import type {
  Availability,
  CallOptions,
  DbtRuntime,
  ProjectRef,
  RuntimeMetadata,
  Selection,
} from "../../src/contract/runtime.ts";
import type {
  DbtCommand,
  LintResult,
  ProgressEvent,
  RunResult,
} from "../../src/contract/schemas.ts";
import { triggerOrAdopt } from "./adoption.ts";
import { AdminClient } from "./client.ts";
import { accessUrl, checkHttps, LEGACY_HOSTS } from "./url_policy.ts";
import { ArtifactCache, cacheDirFor, cacheDisabledByEnv } from "./cache.ts";
import { appliedModels, discoveryUrlFor } from "./discovery.ts";
import { logEvent } from "./events.ts";
import { type FollowContext, followRun, waitSignal } from "./follow.ts";
import { cachedArtifact, runMetadata } from "./store.ts";
import { type Clock, type Logger, realClock } from "./http.ts";
import { refuseRetryOptions, retryLastRun } from "./retry.ts";
import type { AppliedModel } from "./schemas.ts";
import { causeFor, dbtStep, needsOverride } from "./steps.ts";

export { ArtifactCache, cacheDirFor } from "./cache.ts";
export type { Clock, Logger } from "./http.ts";

/** Injectables for tests and embedding. */
export interface CloudRuntimeOptions {
  clock?: Clock;
  logger?: Logger;
  /** 0..1 for backoff jitter. */
  random?: () => number;
  /** First retry backoff in ms (default 2000; tests pass a small one). */
  backoffMs?: number;
}

/** The dbt Cloud runtime. */
export class CloudRuntime extends RuntimeBase implements DbtRuntime {
  readonly name = "cloud";
  readonly version = "0.1.0";
  readonly config: CloudConfig;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #random: () => number;
  readonly #backoffMs: number | undefined;
  #client: AdminClient | undefined;
  #last: { runId: string; jobId: string } | undefined;
  readonly #warnings: string[] = [];

  constructor(config: CloudConfig, options: CloudRuntimeOptions = {}) {
    super();
    // Before the schema, so a config built in code gets the same E003.
    if (config.base_url) checkHttps(config.base_url, "base_url");
    if (config.discovery_url) {
      checkHttps(config.discovery_url, "discovery_url");
    }
    this.config = CloudConfigSchema.parse(config);
    this.#clock = options.clock ?? realClock;
    this.#logger = options.logger ?? (() => {});
    this.#random = options.random ?? Math.random;
    this.#backoffMs = options.backoffMs;
    const host = new URL(this.config.base_url).hostname;
    if (LEGACY_HOSTS.includes(host)) {
      const w =
        `base_url uses the legacy dbt Cloud host '${host}', which stops working on 2026-11-01: set base_url to your account's access URL (Account settings > Access URLs)`;
      this.#warnings.push(w);
      this.#logger("warn", w);
    }
  }

  /** The client; the token is resolved first (a missing secret fails here). */
  async #api(): Promise<AdminClient> {
    const ref = this.config.api_token_ref;
    await resolveSecret(ref);
    this.#client ??= new AdminClient({
      baseUrl: this.config.base_url,
      accountId: this.config.account_id,
      token: () => resolveSecret(ref),
      tokenRef: ref,
      requestTimeoutMs: this.config.request_timeout_seconds * 1000,
      clock: this.#clock,
      logger: this.#logger,
      random: this.#random,
      ...(this.#backoffMs !== undefined ? { backoffMs: this.#backoffMs } : {}),
    });
    return this.#client;
  }

  /** The project's cache, or undefined when FLOE_DISABLE_CACHE=true. */
  #cache(ref: ProjectRef): ArtifactCache | undefined {
    if (cacheDisabledByEnv()) return undefined;
    return new ArtifactCache(
      cacheDirFor(ref.projectDir, this.config.cache_dir),
      this.config.cache_ttl_seconds,
      () => this.#clock.now(),
    );
  }

  override async execute(
    command: DbtCommand,
    ref: ProjectRef,
    selection: Selection = {},
    options: CallOptions = {},
  ): Promise<RunResult> {
    refuseStateOptions(selection);
    const started = this.#clock.now();
    const emit = options.onEvent ?? (() => {});
    refuseProfilesDir(ref);
    for (const w of this.#warnings) emit(logEvent("warn", w));
    // Without the cache the artifacts go to target/: a linked one is refused
    // before dbt Cloud runs anything, not after the run.
    if (!this.#cache(ref)) {
      await ensureDirInside(
        ref.projectDir,
        join(ref.projectDir, "target"),
        "target directory",
      );
    }
    if (command === "retry") {
      refuseRetryOptions(ref, selection, options);
      const api = await this.#api();
      options.signal?.throwIfAborted();
      return await retryLastRun({
        ...this.#follow(api, ref, options, emit, started),
        logger: this.#logger,
      }, selection);
    }
    const ownJob = ownJobOf(this.config.job_ids, command);
    const jobId = ownJob ?? this.config.job_ids.run;
    const step = dbtStep(command, selection);
    const steps = needsOverride(selection, Boolean(ownJob))
      ? [step]
      : undefined;
    const nonce = options.resumeTrigger?.nonce ??
      crypto.randomUUID().slice(0, 12);
    const cause = causeFor(step, nonce);
    const overrides = {
      ...(ref.target ? { target: ref.target } : {}),
      ...(options.threads ? { threads: options.threads } : {}),
    };
    const api = await this.#api();
    options.signal?.throwIfAborted();
    const signal = waitSignal(options);
    signal?.throwIfAborted();
    emit(
      logEvent(
        "info",
        options.resumeRunId
          ? `dbt Cloud: reattaching to run ${options.resumeRunId} of job ${jobId}`
          : `dbt Cloud: triggering job ${jobId} (${
            steps ? step : "job's own steps"
          })`,
      ),
    );
    // A job runner restarting after a crash passes the run it journaled:
    // follow that run, never trigger a second one.
    const { run: first, adopted } = options.resumeRunId
      ? {
        run: await api.getRun(options.resumeRunId, signal),
        adopted: true,
      }
      : await triggerOrAdopt(
        api,
        jobId,
        {
          cause,
          ...(steps ? { steps_override: steps } : {}),
          ...(overrides.target
            ? { target_name_override: overrides.target }
            : {}),
          ...(overrides.threads ? { threads_override: overrides.threads } : {}),
        },
        nonce,
        options,
        signal,
        this.#logger,
      );
    const followed = await followRun(
      this.#follow(api, ref, options, emit, started),
      command,
      first,
      jobId,
      (run) =>
        runMetadata(
          command,
          run,
          { jobId, accountId: this.config.account_id },
          selection,
          steps,
          adopted,
          overrides,
        ),
    );
    return followed.result;
  }

  /** What following a run of this call needs. */
  #follow(
    api: AdminClient,
    ref: ProjectRef,
    options: CallOptions,
    emit: (e: ProgressEvent) => void,
    started: number,
  ): FollowContext {
    return {
      api,
      config: this.config,
      cache: this.#cache(ref),
      clock: this.#clock,
      ref,
      options,
      emit,
      started,
      stored: (runId, jobId) => (this.#last = { runId, jobId }),
    };
  }

  async compileProject(
    ref: ProjectRef,
    options?: CallOptions,
  ): Promise<string> {
    const r = await this.execute("compile", ref, {}, options);
    if (!r.success) {
      const first = (r.metadata.errors as { message?: string }[] | undefined)
        ?.[0];
      throw new FloeDbtError(
        ERROR_CODES.compilation,
        `dbt compile failed in dbt Cloud: ${
          first?.message ?? r.metadata.status_message ?? "see the run"
        }`,
        {
          hint: `see ${r.metadata.href ?? "the run in dbt Cloud"}`,
        },
      );
    }
    return r.manifest_path;
  }

  lintProject(): Promise<LintResult> {
    return Promise.reject(
      new FloeDbtError(
        ERROR_CODES.usage,
        "The cloud runtime cannot lint SQL: dbt Cloud's Admin API has no lint endpoint",
        {
          hint: "lint with --runtime local (SQLFluff) or --runtime fusion",
        },
      ),
    );
  }

  /**
   * An artifact of the job's newest successful run (the job of this
   * process's last run, else the run job): one list call names that run, and
   * a cache entry is used only when it is that run's; `noCache` refetches
   * and refreshes the entry. Never triggers a run.
   */
  async #artifact(
    ref: ProjectRef,
    name: string,
    options: CallOptions,
  ): Promise<Record<string, unknown>> {
    return (await this.newestArtifact(ref, name, options)).data;
  }

  /**
   * An artifact of the job's newest successful run, with that run's id
   * (see `getManifest`; `--state-from cloud` keeps the run id as the
   * state's).
   */
  async newestArtifact(
    ref: ProjectRef,
    name: string,
    options: CallOptions = {},
  ): Promise<
    { data: Record<string, unknown>; run_id: string; job_id: string }
  > {
    refuseProfilesDir(ref);
    const jobId = this.#last?.jobId ?? this.config.job_ids.run;
    const api = await this.#api();
    const run = await api.latestSuccess(jobId, options.signal);
    if (!run) {
      throw new FloeDbtError(
        ERROR_CODES.remoteApi,
        `dbt Cloud job ${jobId} has no successful run, so there is no ${name} to read`,
        {
          hint:
            "run the job once successfully (floe-dbt run, or in dbt Cloud), then ask again",
        },
      );
    }
    const meta = {
      run_id: run.id,
      account_id: this.config.account_id,
      job_id: jobId,
    };
    const data = await cachedArtifact(
      this.#cache(ref),
      run.id,
      name,
      meta,
      () => api.runArtifact(run.id, name, options.signal),
      Boolean(options.noCache),
    );
    return { data, run_id: String(run.id), job_id: String(jobId) };
  }

  getManifest(
    ref: ProjectRef,
    options: CallOptions = {},
  ): Promise<Record<string, unknown>> {
    return this.#artifact(ref, "manifest.json", options);
  }

  getRunResults(
    ref: ProjectRef,
    options: CallOptions = {},
  ): Promise<Record<string, unknown>> {
    return this.#artifact(ref, "run_results.json", options);
  }

  /** The Discovery URL: discovery_url, else derived from base_url (or null). */
  discoveryUrl(): string | null {
    return this.config.discovery_url ??
      discoveryUrlFor(accessUrl(this.config.base_url)) ?? null;
  }

  /** Applied state of the environment's models (Discovery API; needs environment_id). */
  async appliedModels(options: CallOptions = {}): Promise<AppliedModel[]> {
    const env = this.config.environment_id;
    const url = this.discoveryUrl();
    if (!env || !url) {
      throw new FloeDbtError(
        ERROR_CODES.configuration,
        `The Discovery API needs ${
          env
            ? "discovery_url (it can't be derived from base_url)"
            : "environment_id"
        } in dbt_runtime_config.cloud`,
        {
          hint: "set environment_id (and discovery_url for a custom host)",
        },
      );
    }
    return await appliedModels((await this.#api()).http, url, env, {
      signal: options.signal,
    });
  }

  supportsParallelExecution(): boolean {
    return true;
  }

  supportsSqlLinting(): boolean {
    return false;
  }

  getRuntimeMetadata(): RuntimeMetadata {
    const url = accessUrl(this.config.base_url);
    return {
      type: "cloud",
      runtime_version: this.version,
      floe_api_version: this.floeApiVersion,
      access_url: url,
      api_url: `${url}/api/v2`,
      account_id: this.config.account_id,
      job_ids: this.config.job_ids,
      environment_id: this.config.environment_id ?? null,
      discovery_url: this.discoveryUrl(),
      api_token_ref: this.config.api_token_ref,
      last_run_id: this.#last?.runId ?? null,
      warnings: this.#warnings,
      parallel_execution: true,
    };
  }

  async availability(): Promise<Availability> {
    try {
      await resolveSecret(this.config.api_token_ref);
    } catch (e) {
      return { available: false, reason: (e as Error).message };
    }
    return {
      available: true,
      reason: `dbt Cloud account ${this.config.account_id} at ${
        accessUrl(this.config.base_url)
      } (token reference resolves; network not probed)`,
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** dbt Cloud keeps its own connections: a chosen profiles_dir is refused, not dropped. */
function refuseProfilesDir(ref: ProjectRef): void {
  if (!ref.profilesDirGiven) return;
  throw new FloeDbtError(
    ERROR_CODES.usage,
    `profiles_dir '${ref.profilesDir}' cannot be used with the cloud runtime: dbt Cloud runs with the connection and credentials of the job's environment, never a local profiles.yml`,
    {
      hint:
        "drop --profiles-dir / DBT_PROFILES_DIR / profiles_dir for cloud jobs; choose the target with --target (sent as target_name_override) or set the environment's connection in dbt Cloud",
    },
  );
}

/** The job configured for a command (job_ids has compile, run, test, build). */
function ownJobOf(
  jobIds: CloudConfig["job_ids"],
  command: DbtCommand,
): string | undefined {
  switch (command) {
    case "compile":
    case "run":
    case "test":
    case "build":
      return jobIds[command];
    default:
      return undefined;
  }
}

/** dbt Cloud runs the job against its own state: no --changed/--state here. */
function refuseStateOptions(selection: Selection): void {
  if (selection.changed || selection.state || selection.stateFrom) {
    throw new FloeDbtError(
      ERROR_CODES.usage,
      "The cloud runtime cannot take --changed, --state or --state-from: dbt Cloud runs the job remotely against its own state",
      {
        hint:
          "use the local or fusion runtime (--runtime local) with --state-from cloud to build your changes against the job's state",
      },
    );
  }
}
