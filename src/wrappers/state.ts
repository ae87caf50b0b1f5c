/**
 * Slim runs over any runtime that executes locally: keeps each successful
 * run, build or compile's manifest as the project's state (src/dbt/state.ts),
 * turns `changed` into `state:modified+` within the caller's selection with
 * `--defer` to that state, takes `--state DIR` or the dbt Cloud job's
 * newest manifest (`stateFrom: "cloud"`), and records in the result which
 * state was used and what was selected because it changed.
 *
 * @module
 */
import { configError, ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import { type ResolvedProject, resolveProject } from "../dbt/project.ts";
import type {
  CallOptions,
  DbtRuntime,
  ProjectRef,
  Selection,
} from "../contract/runtime.ts";
import { RuntimeWrapper } from "./base.ts";
import { readRegularText } from "../os/safe_fs.ts";
import {
  type DbtCommand,
  logEvent,
  type RunResult,
} from "../contract/schemas.ts";
import {
  cloudStateDir,
  type FoundState,
  keepState,
  keptStateDir,
  noManifestError,
  readState,
  type StateSource,
  targetName,
  writeState,
} from "../dbt/state.ts";

/** Commands whose successful manifest becomes the kept state. */
const KEEPS: ReadonlySet<string> = new Set(["run", "build", "compile"]);
/** How many changed node names progress and the summary show. */
export const CHANGED_NAMES_SHOWN = 10;

/** The dbt Cloud job's newest successful manifest, with its run and job. */
export interface CloudManifest {
  data: Record<string, unknown>;
  run_id: string;
  job_id: string;
}

/**
 * Where `--state-from cloud` reads the dbt Cloud job's newest manifest: the
 * registry builds it from the platform config (the state wrapper knows no
 * runtime); `undefined` when manifest.yaml has no dbt Cloud section.
 */
export interface CloudStateSource {
  newestManifest(
    project: ProjectRef,
    options: CallOptions,
  ): Promise<CloudManifest>;
  close(): Promise<void>;
}

/** `metadata.state` of a run result. */
export interface StateUsed {
  source: StateSource;
  run_id: string | null;
  path: string;
  kept_at: string | null;
}

/**
 * The selection for `--changed`: `state:modified+` alone, or intersected
 * with each of the caller's selectors (`S,state:modified+`), so the result
 * is "changed (or downstream of a change) AND in your selection".
 */
export function changedSelect(select: readonly string[] | undefined): string[] {
  if (!select?.length) return ["state:modified+"];
  return select.map((s) => `${s},state:modified+`);
}

/** Node names for a line: the first `max`, then how many more. */
export function namesLine(ids: readonly string[], max = CHANGED_NAMES_SHOWN) {
  const names = ids.map((id) => id.split(".").slice(2).join(".") || id);
  const more = names.length > max ? ` (+${names.length - max} more)` : "";
  return names.slice(0, max).join(", ") + more;
}

function log(
  options: CallOptions,
  level: "info" | "warn",
  message: string,
): void {
  options.onEvent?.(logEvent(level, message));
}

function describe(used: StateUsed): string {
  const run = used.run_id ? `run ${used.run_id}` : "run unknown";
  const when = used.kept_at ? `, kept ${used.kept_at}` : "";
  return `${used.source} state at ${used.path} (${run}${when})`;
}

async function executedIds(path: string, root: string): Promise<string[]> {
  try {
    const rr = JSON.parse(await readRegularText(path, { root })) as {
      results?: { unique_id?: unknown }[];
    };
    return (rr.results ?? []).map((r) => String(r.unique_id ?? "")).filter(
      Boolean,
    );
  } catch {
    return [];
  }
}

class StateRuntime extends RuntimeWrapper {
  readonly #cloud: CloudStateSource | undefined;

  constructor(inner: DbtRuntime, cloud: CloudStateSource | undefined) {
    super(inner);
    this.#cloud = cloud;
  }

  override async compileProject(
    ref: ProjectRef,
    options: CallOptions = {},
  ): Promise<string> {
    const path = await this.inner.compileProject(ref, options);
    await this.#keep("compile", resolveProject(ref), path, {}, options);
    return path;
  }

  override async execute(
    command: DbtCommand,
    ref: ProjectRef,
    selection: Selection = {},
    options: CallOptions = {},
  ): Promise<RunResult> {
    const { changed, stateFrom, ...rest } = selection;
    const wanted = Boolean(changed || rest.state || stateFrom);
    const project = resolveProject(ref);
    let used: StateUsed | undefined;
    const sel: Selection = { ...rest };
    if (wanted) {
      const found = await this.#state(project, selection, options);
      if (found) {
        used = {
          source: found.source,
          run_id: found.state.info?.run_id ?? null,
          path: found.state.dir,
          kept_at: found.state.info?.kept_at ?? null,
        };
        sel.state = found.state.dir;
        if (changed) {
          sel.select = changedSelect(rest.select);
          sel.defer = true;
        }
        log(
          options,
          "info",
          `state: ${changed ? "--changed against" : "using"} ${describe(used)}`,
        );
      } else {
        log(
          options,
          "info",
          `changed: no kept state for target '${
            targetName(project)
          }' yet: running everything selected`,
        );
      }
    }
    const result = await this.inner.execute(command, ref, sel, options);
    if (wanted) result.metadata.state = used ?? null;
    if (changed) {
      const ids = used
        ? await executedIds(result.run_results_path, project.projectDir)
        : [];
      result.metadata.changed = true;
      result.metadata.changed_nodes = used ? ids : null;
      result.metadata.changed_selection = used ? sel.select : null;
      if (used) {
        log(
          options,
          "info",
          `changed: ${ids.length} node${
            ids.length === 1 ? "" : "s"
          } selected because they changed or are downstream of a change${
            ids.length ? `: ${namesLine(ids)}` : ""
          }`,
        );
      } else {
        result.metadata.changed_fallback =
          "no kept state yet: ran everything selected";
      }
    }
    if (result.success && KEEPS.has(command)) {
      await this.#keep(
        command,
        project,
        result.manifest_path,
        result.metadata,
        options,
      );
    }
    return result;
  }

  /** The state to compare with, or undefined when `--changed` has none yet. */
  async #state(
    project: ResolvedProject,
    selection: Selection,
    options: CallOptions,
  ): Promise<{ source: StateSource; state: FoundState } | undefined> {
    if (selection.state && selection.stateFrom) {
      throw new FloeDbtError(
        ERROR_CODES.usage,
        `--state '${selection.state}' and --state-from '${selection.stateFrom}' name two states`,
        { hint: "give one of them" },
      );
    }
    if (selection.state) {
      const state = await readState(selection.state, project.projectDir);
      if (!state) throw noManifestError(selection.state);
      return { source: "dir", state };
    }
    if (selection.stateFrom === "cloud") {
      return {
        source: "cloud",
        state: await this.#cloudState(project, options),
      };
    }
    const dir = keptStateDir(project.projectDir, targetName(project));
    const state = await readState(dir, project.projectDir);
    return state ? { source: "kept", state } : undefined;
  }

  /** The dbt Cloud job's newest successful manifest, kept locally. */
  async #cloudState(
    project: ResolvedProject,
    options: CallOptions,
  ): Promise<FoundState> {
    if (!this.#cloud) {
      throw configError(
        "--state-from cloud needs plugins.dbt_runtime_config.cloud (account_id, api_token_ref, base_url, job_ids.run) in manifest.yaml",
        "add the dbt Cloud section so floe-dbt can read the job's newest successful manifest",
        { key: "plugins.dbt_runtime_config.cloud" },
      );
    }
    // The local profiles dir is not the cloud's concern: read without it.
    const got = await this.#cloud.newestManifest(
      { projectDir: project.projectDir, profilesDir: project.profilesDir },
      { signal: options.signal, noCache: options.noCache },
    );
    const dir = cloudStateDir(project.projectDir, targetName(project));
    const have = await readState(dir, project.projectDir);
    if (have?.info?.run_id === got.run_id) return have;
    const meta = got.data.metadata as Record<string, unknown> | undefined;
    return await writeState(
      project.projectDir,
      dir,
      JSON.stringify(got.data),
      {
        run_id: got.run_id,
        invocation_id: typeof meta?.invocation_id === "string"
          ? meta.invocation_id
          : null,
        job_id: got.job_id,
        command: null,
        kept_at: new Date().toISOString(),
        dbt_version: typeof meta?.dbt_version === "string"
          ? meta.dbt_version
          : null,
        runtime: "cloud",
      },
    );
  }

  /** Keep a successful call's manifest; a failure to keep it is a warning. */
  async #keep(
    command: string,
    project: ResolvedProject,
    manifestPath: string,
    metadata: Record<string, unknown>,
    options: CallOptions,
  ): Promise<void> {
    try {
      const kept = await keepState(project, manifestPath, {
        job_id: options.jobId ?? null,
        command,
        dbt_version: typeof metadata.dbt_version === "string"
          ? metadata.dbt_version
          : null,
        runtime: String(metadata.executed_by ?? this.inner.name),
      });
      metadata.state_kept = kept.dir;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      metadata.state_kept = null;
      metadata.state_keep_error = message;
      log(options, "warn", `state: not kept: ${message}`);
    }
  }

  override async close(): Promise<void> {
    await this.#cloud?.close();
    await this.inner.close();
  }
}

/**
 * Wrap a runtime that runs dbt here so it keeps state and runs `--changed` /
 * `--state` / `--state-from cloud` (the registry does not wrap the cloud
 * runtime, which refuses those itself with E010).
 */
export function stateRuntime(
  rt: DbtRuntime,
  cloud?: CloudStateSource | undefined,
): DbtRuntime {
  return new StateRuntime(rt, cloud);
}
