/**
 * `--skip-unchanged`: a wrapper around any runtime that offers read-only
 * looks through dbt (`inspect`, src/contract/runtime.ts). Before every run and
 * build it parses the project, resolves the caller's selection with dbt,
 * takes the data version of each source upstream (data.ts) and computes
 * every node's input key (keys.ts); after it, it records the key of each
 * node that succeeded (store.ts), so the first `--skip-unchanged` after an
 * ordinary build already reuses. With the flag, it builds only what must
 * be rebuilt (plan.ts), with an explicit dbt selection, and reports what
 * it rebuilt (and why) and what it reused. `seed`, `snapshot` and `retry`
 * calls are recorded too (keyed after dbt ran); a deferred call drops the
 * records of the nodes it executed. Without `inspect` (dbt Cloud) the flag
 * is refused and nothing is recorded.
 *
 * @module
 */
import { join, resolve, sep } from "node:path";
import { writeAtomic } from "../os/atomic.ts";
import { optionMetadata } from "../dbt/dbt_options.ts";
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import {
  type ResolvedProject,
  resolveProject,
  targetDir,
} from "../dbt/project.ts";
import type {
  CallOptions,
  DbtInspector,
  DbtRuntime,
  ProjectRef,
  Selection,
} from "../contract/runtime.ts";
import { RuntimeWrapper } from "../wrappers/base.ts";
import { readRegularText } from "../os/safe_fs.ts";
import { childEnv } from "../os/child_env.ts";
import {
  type DbtCommand,
  logEvent,
  type RunResult,
} from "../contract/schemas.ts";
import { targetName } from "../dbt/state.ts";
import { selectorProblem } from "../dbt/validate.ts";
import {
  blocksQueries,
  type DataVersionReport,
  type FreshnessSeen,
  lookAtWarehouse,
  type LookRows,
  lookSql,
  relationParts,
  type WarehouseLook,
} from "./data.ts";
import type { SourceFreshness } from "../dbt/artifacts.ts";
import { fixtureChecksums } from "./fixtures.ts";
import { buildWithUnitTests } from "./unit_tests.ts";
import {
  computeKeys,
  isEphemeral,
  isTest,
  type ManifestView,
  manifestView,
  type NodeKey,
  sha256,
} from "./keys.ts";
import {
  buildable,
  candidateTypes,
  decide,
  type Decision,
  fqnSelectors,
  upstreamSources,
} from "./plan.ts";
import {
  buildStamp,
  forgetRecords,
  type NodeRecord,
  readLook,
  readSkipStore,
  REUSABLE,
  updateSkipStore,
  writeLook,
} from "./store.ts";

/** Commands that take `--skip-unchanged` (their nodes keyed before dbt runs). */
const SKIPPABLE: ReadonlySet<string> = new Set(["run", "build"]);
/**
 * Commands whose executed nodes are recorded: a seed or snapshot rebuilt by
 * its own command (or a retry) is a new build its children must see.
 */
const RECORDED: ReadonlySet<string> = new Set([
  "run",
  "build",
  "seed",
  "snapshot",
  "retry",
]);

/** Everything the plan found before dbt runs. */
interface Plan {
  project: ResolvedProject;
  target: string;
  manifestPath: string;
  /**
   * The manifest without the query's own node, when the parse came with a
   * query (written back when it becomes the call's manifest).
   */
  cleaned: Record<string, unknown> | undefined;
  view: ManifestView;
  keys: Map<string, NodeKey>;
  /**
   * The keys again once dbt ran, each node dbt executed counted with its
   * current key (a seed, snapshot or retry call: what it builds is known
   * only then); undefined for run and build, keyed before.
   */
  rekey?: (executed: ReadonlySet<string>) => Map<string, NodeKey>;
  /** The kept records when the plan read them. */
  records: Record<string, NodeRecord>;
  candidates: Set<string>;
  data: DataVersionReport;
  decision: Decision | undefined;
  seconds: number;
  /** Wall time of each step of the plan, ms. */
  timings: Record<string, number>;
}

function refuse(message: string, hint: string): FloeDbtError {
  return new FloeDbtError(ERROR_CODES.usage, message, { hint });
}

function log(
  options: CallOptions,
  level: "debug" | "info" | "warn",
  message: string,
): void {
  options.onEvent?.(logEvent(level, message));
}

function shortName(id: string): string {
  return id.split(".").slice(2).join(".") || id;
}

class SkipRuntime extends RuntimeWrapper {
  constructor(inner: DbtRuntime) {
    super(inner);
  }

  override runModels(
    project: ProjectRef,
    selection?: Selection,
    options?: CallOptions,
  ): Promise<RunResult> {
    return this.execute("run", project, selection, options);
  }

  override testModels(
    project: ProjectRef,
    selection?: Pick<Selection, "select" | "exclude">,
    options?: CallOptions,
  ): Promise<RunResult> {
    return this.execute("test", project, selection, options);
  }

  override async execute(
    command: DbtCommand,
    ref: ProjectRef,
    selection: Selection = {},
    options: CallOptions = {},
  ): Promise<RunResult> {
    const { skipUnchanged, skipStaleSources, ...rest } = selection;
    const skip = Boolean(skipUnchanged);
    const skipStale = Boolean(skipStaleSources);
    const inspect = this.inner.inspect;
    if (skip || skipStale) {
      this.#check(
        command,
        rest,
        inspect,
        skip ? "--skip-unchanged" : "--skip-stale-sources",
      );
    }
    if (!RECORDED.has(command) || !inspect) {
      return await this.inner.execute(command, ref, rest, options);
    }
    // A deferred call builds on another state's relations: the nodes it
    // executed are no longer what their last records say, so their
    // records are dropped (they and their children are rebuilt next time).
    if (rest.defer) {
      const result = await this.inner.execute(command, ref, rest, options);
      await this.#forget(ref, result, options);
      return result;
    }
    let plan: Plan | undefined;
    try {
      plan = await this.#plan(command, ref, rest, skip, inspect, options);
    } catch (e) {
      if (
        e instanceof FloeDbtError &&
        (e.code === ERROR_CODES.cancelled || e.code === ERROR_CODES.timeout)
      ) {
        throw e;
      }
      options.signal?.throwIfAborted();
      // The runtime cannot run the agent's queries on this project at all
      // (a Fusion node named `inline`): --skip-unchanged cannot keep its
      // promise until the project or the runtime changes, so it fails
      // plainly (the error says what to do) rather than build everything
      // with the reason buried in a log line.
      if (skip && blocksQueries(e)) throw e;
      const message = e instanceof Error ? e.message : String(e);
      // Without the flags an ordinary call goes on as before: dbt reports
      // what is wrong with the project itself.
      log(
        options,
        skip || skipStale ? "warn" : "debug",
        `skip: could not compute input keys (${message}): ${
          skip || skipStale
            ? "building everything selected"
            : "keys not recorded"
        }`,
      );
      const result = await this.inner.execute(command, ref, rest, options);
      if (skip) {
        result.metadata.skip_unchanged = { error: message };
        result.metadata.reused = [];
      }
      return result;
    }
    const decision = plan.decision;
    const stale = skipStale ? staleNodes(plan) : new Map<string, string>();
    // A reused node is not built either way: it is reported as reused.
    for (const id of decision?.reuse.keys() ?? []) stale.delete(id);
    // What dbt builds: undefined is the caller's selection as it is.
    let toBuild: Set<string> | undefined;
    if (decision) toBuild = new Set(decision.rebuild.keys());
    else if (stale.size) toBuild = new Set(plan.candidates);
    for (const id of stale.keys()) toBuild?.delete(id);
    if (decision) this.#announce(plan, decision, options);
    this.#announceStale(plan, stale, options);
    // The run results dbt left before this call: a call that fails before
    // dbt writes new ones must not record the old ones as its own.
    const before = await fileStamp(
      join(targetDir(plan.project), "run_results.json"),
    );
    let result: RunResult;
    let planned: Map<string, string> | undefined;
    const selectors = toBuild && fqnSelectors(plan.view, toBuild);
    if (!toBuild) {
      result = await this.inner.execute(command, ref, rest, options);
    } else if (toBuild.size === 0) {
      if (plan.cleaned) {
        await writeAtomic(plan.manifestPath, JSON.stringify(plan.cleaned));
      }
      result = this.#nothingToBuild(command, plan, rest, options);
    } else if (!selectors) {
      log(
        options,
        "warn",
        "skip: a node to build has a name dbt's selectors cannot carry: building everything selected",
      );
      result = await this.inner.execute(command, ref, rest, options);
      planned = decision && new Map(decision.rebuild);
      decision?.reuse.clear();
      stale.clear();
    } else {
      // Unit tests whose model is reused run in a test call of their own.
      result = await buildWithUnitTests(
        plan.view,
        toBuild,
        command,
        plan.project.projectDir,
        (cmd, ids) =>
          this.inner.execute(cmd, ref, {
            ...(cmd === command ? rest : {
              vars: rest.vars,
              allowJinjaVars: rest.allowJinjaVars,
              failFast: rest.failFast,
            }),
            select: fqnSelectors(plan.view, ids),
            exclude: undefined,
            selector: undefined,
          }, options),
        Boolean(rest.failFast),
      );
      planned = decision?.rebuild;
    }
    const executed = before !== undefined &&
        await fileStamp(result.run_results_path) === before
      ? new Map<string, string>()
      : await this.#record(plan, result, options);
    // What keeping the keys cost this call (before dbt ran).
    result.metadata.input_keys = {
      plan_ms: Math.round(plan.seconds * 1000),
      kept: [...executed.keys()].filter((id) => plan.keys.has(id)).length,
    };
    if (decision) {
      this.#report(plan, decision, planned, executed, result, options);
    }
    if (skipStale) {
      result.metadata.skipped_stale = Object.fromEntries(stale);
      result.metadata.stale_sources = Object.fromEntries(
        [...new Set(stale.values())].map((id) => [id, plan.data.freshness[id]]),
      );
    }
    return result;
  }

  /** A progress line per node left out because a source is stale. */
  #announceStale(
    plan: Plan,
    stale: ReadonlyMap<string, string>,
    options: CallOptions,
  ): void {
    for (const [id, source] of stale) {
      const type = plan.keys.get(id)?.resource_type ?? "node";
      const age = plan.data.freshness[source]?.age_seconds;
      log(
        options,
        "info",
        `STALE ${type} ${shortName(id)}: not built, source ${
          shortName(source)
        } is stale (freshness error${
          typeof age === "number" ? `, ${Math.round(age)} s old` : ""
        })`,
      );
    }
  }

  #check(
    command: DbtCommand,
    selection: Selection,
    inspect: DbtInspector | undefined,
    flag: string,
  ): void {
    if (!inspect) {
      throw refuse(
        `The ${this.inner.name} runtime cannot take ${flag}: it needs to read the project and the warehouse where the agent runs`,
        this.inner.name === "cloud"
          ? "dbt Cloud has its own state-aware orchestration (Fusion jobs): turn it on in the dbt Cloud job, or use --runtime local or fusion"
          : "use --runtime local or fusion",
      );
    }
    if (!SKIPPABLE.has(command)) {
      throw refuse(
        `${flag} applies to run and build, not ${command}`,
        `drop ${flag}, or use it with floe-dbt run or build`,
      );
    }
    if (flag !== "--skip-unchanged") return;
    if (selection.fullRefresh) {
      throw refuse(
        "--skip-unchanged and --full-refresh contradict each other: a full refresh rebuilds everything selected",
        "drop one of them",
      );
    }
    if (selection.state || selection.defer) {
      throw refuse(
        "--skip-unchanged cannot be combined with --changed, --state or --state-from",
        "use --skip-unchanged alone: it compares each node with its own last build",
      );
    }
  }

  async #plan(
    command: DbtCommand,
    ref: ProjectRef,
    selection: Selection,
    skip: boolean,
    inspect: DbtInspector,
    options: CallOptions,
  ): Promise<Plan> {
    const t0 = performance.now();
    const timings: Record<string, number> = {};
    let last = t0;
    const lap = (name: string) => {
      const now = performance.now();
      timings[name] = Math.round(now - last);
      last = now;
    };
    const project = resolveProject(ref);
    const target = targetName(project);
    // The looks are quiet: their progress is not the call's.
    const quiet: CallOptions = { ...options, onEvent: undefined };
    // Where one dbt process can parse and query (fusion), the warehouse
    // query of the last plan runs with the parse; its rows are used only
    // when they cover what the new manifest needs (lookAtWarehouse).
    const guess = inspect.parseAndQuery
      ? await readLook(project.projectDir, target).catch(() => undefined)
      : undefined;
    const guessSql = guess && lookSql(guess);
    // The selection, resolved by dbt: where the runtime takes calls in
    // parallel, at the same time as the parse (it needs no manifest).
    const listing = () =>
      inspect.listNodes(ref, {
        select: selection.select,
        exclude: selection.exclude,
        selector: selection.selector,
        indirectSelection: selection.indirectSelection,
        vars: selection.vars,
        allowJinjaVars: selection.allowJinjaVars,
        state: selection.state,
      }, quiet);
    const selected = Boolean(
      selection.select?.length || selection.exclude?.length ||
        selection.selector,
    );
    let early: Promise<string[]> | undefined;
    if (selected && this.inner.supportsParallelExecution()) {
      early = listing();
      // Awaited below; a failure meanwhile is not unhandled.
      early.catch(() => {});
    }
    let manifestPath: string | undefined;
    let done: LookRows | undefined;
    let queryDir = "";
    if (guess && guessSql && inspect.parseAndQuery) {
      try {
        const got = await inspect.parseAndQuery(
          ref,
          selection.vars,
          guessSql,
          quiet,
          selection.allowJinjaVars,
        );
        manifestPath = got.manifestPath;
        done = { look: guess, rows: got.rows };
        queryDir = got.queryDir;
      } catch (e) {
        if (
          e instanceof FloeDbtError &&
          (e.code === ERROR_CODES.cancelled || e.code === ERROR_CODES.timeout)
        ) {
          throw e;
        }
        options.signal?.throwIfAborted();
        if (blocksQueries(e)) throw e;
        // The guessed query failed (a relation is gone): parse alone.
      }
    }
    manifestPath ??= await inspect.parseProject(
      ref,
      selection.vars,
      quiet,
      selection.allowJinjaVars,
    );
    const manifest = JSON.parse(
      await readRegularText(manifestPath, {
        root: project.projectDir,
        what: "manifest",
      }),
    );
    const cleaned = queryDir && dropQueryNodes(manifest, project, queryDir)
      ? manifest
      : undefined;
    const view = manifestView(manifest);
    lap(done ? "parse_and_query_ms" : "parse_ms");
    // A seed or snapshot call builds only its own type: the data versions
    // taken are those upstream of what it can build.
    const types = command === "seed" || command === "snapshot"
      ? new Set([command])
      : candidateTypes(command);
    const chosen = selected
      ? await (early ?? listing())
      : Object.keys(view.nodes);
    const candidates = buildable(view, chosen, types);
    lap("select_ms");
    const records = (await readSkipStore(project.projectDir, target)).nodes;
    const sources = upstreamSources(view, candidates);
    // Which relations exist (with the flag: the candidates'), and the
    // sources' data versions.
    // (Kept in the look without the flag too, so the next plan's guess
    // covers a --skip-unchanged call.)
    const relations: { database: string; schema: string; name: string }[] = [];
    if (skip || inspect.parseAndQuery) {
      for (const id of candidates) {
        if (!isTest(view.nodes[id]?.resource_type)) {
          relations.push(relationParts(view.nodes[id]!));
        }
      }
    }
    const data = await lookAtWarehouse(view, sources, relations, {
      query: (sql) => inspect.queryRows(ref, sql, quiet),
      freshness: (ids) => this.#freshness(ref, view, ids, selection, quiet),
    }, done);
    const existing = data.existing;
    if (inspect.parseAndQuery && !sameLook(guess, data.look)) {
      await writeLook(project.projectDir, target, data.look).catch(() => {});
    }
    lap("warehouse_ms");
    const seeds = await seedChecksums(project, view);
    const fixtures = await fixtureChecksums(project.projectDir, view);
    const keysFor = (built: ReadonlySet<string>) =>
      computeKeys(view, {
        vars: selection.vars,
        projectVars: project.project.vars ?? null,
        target,
        // What dbt gets: the runtimes start it with this environment.
        env: childEnv(),
        sources: data.versions,
        seeds,
        fixtures,
        builtKey: (id, current) => {
          const node = view.nodes[id];
          if (built.has(id) || (node && isEphemeral(node))) return current;
          const r = records[id];
          if (!r) return `unrecorded:${current}`;
          return REUSABLE.has(r.status) ? r.key : `failed:${r.key}`;
        },
      });
    const keys = keysFor(candidates);
    const decision = skip
      ? decide(view, keys, records, candidates, existing)
      : undefined;
    lap("keys_ms");
    return {
      project,
      target,
      manifestPath,
      cleaned,
      view,
      keys,
      rekey: SKIPPABLE.has(command) ? undefined : keysFor,
      records,
      candidates,
      data,
      decision,
      seconds: (performance.now() - t0) / 1000,
      timings,
    };
  }

  /** Each source's freshness, from one dbt source freshness call. */
  async #freshness(
    ref: ProjectRef,
    view: ManifestView,
    ids: string[],
    selection: Selection,
    options: CallOptions,
  ): Promise<Record<string, FreshnessSeen>> {
    const select: string[] = [];
    for (const id of ids) {
      const s = view.sources[id];
      const token = `source:${s?.source_name}.${s?.name}`;
      if (!selectorProblem(token)) select.push(token);
    }
    if (!select.length) return {};
    const result = await this.inner.execute("source-freshness", ref, {
      select,
      vars: selection.vars,
      allowJinjaVars: selection.allowJinjaVars,
    }, options);
    const out: Record<string, FreshnessSeen> = {};
    for (const s of (result.metadata.sources ?? []) as SourceFreshness[]) {
      out[s.unique_id] = {
        status: s.status,
        max_loaded_at: s.max_loaded_at,
        age_seconds: s.max_loaded_at_time_ago_in_s,
      };
    }
    return out;
  }

  #announce(plan: Plan, decision: Decision, options: CallOptions): void {
    for (const [id, r] of decision.reuse) {
      const type = plan.keys.get(id)?.resource_type ?? "node";
      log(
        options,
        "info",
        `REUSED ${type} ${shortName(id)} (${r.status} at ${r.built_at})`,
      );
    }
  }

  /** The result of a call where every selected node is reused. */
  #nothingToBuild(
    command: DbtCommand,
    plan: Plan,
    selection: Selection,
    options: CallOptions,
  ): RunResult {
    return {
      success: true,
      manifest_path: plan.manifestPath,
      // dbt did not run: there are no run results of this call.
      run_results_path: "",
      catalog_path: null,
      execution_time_seconds: plan.seconds,
      models_run: 0,
      tests_run: 0,
      failures: 0,
      metadata: {
        runtime: this.inner.name,
        command,
        dbt_invoked: false,
        target: plan.project.target ?? null,
        select: selection.select ?? [],
        exclude: selection.exclude ?? [],
        ...optionMetadata(command, selection, options),
        seeds_run: 0,
        snapshots_run: 0,
        skipped: 0,
        statuses: {},
      },
    };
  }

  /** Drop the records of the nodes a deferred call executed. */
  async #forget(
    ref: ProjectRef,
    result: RunResult,
    options: CallOptions,
  ): Promise<void> {
    if (!result.run_results_path) return;
    try {
      const project = resolveProject(ref);
      const doc = JSON.parse(
        await readRegularText(result.run_results_path, {
          root: project.projectDir,
          what: "run results",
        }),
      ) as { results?: unknown };
      const ids = (Array.isArray(doc.results) ? doc.results : []).map((
        r: { unique_id?: unknown },
      ) => String(r?.unique_id ?? "")).filter(Boolean);
      await forgetRecords(project.projectDir, targetName(project), ids);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      result.metadata.skip_keys_error = message;
      log(
        options,
        "warn",
        `skip: input keys of a deferred call not dropped: ${message}`,
      );
    }
  }

  /** Record each executed node's key; returns the executed ids. */
  async #record(
    plan: Plan,
    result: RunResult,
    options: CallOptions,
  ): Promise<Map<string, string>> {
    const executed = new Map<string, string>();
    if (!result.run_results_path) return executed;
    let doc: { results?: unknown; metadata?: { invocation_id?: unknown } };
    try {
      doc = JSON.parse(
        await readRegularText(result.run_results_path, {
          root: plan.project.projectDir,
          what: "run results",
        }),
      );
    } catch {
      return executed;
    }
    const invocation = typeof doc.metadata?.invocation_id === "string"
      ? doc.metadata.invocation_id
      : null;
    const now = new Date().toISOString();
    const updates: Record<string, NodeRecord> = {};
    for (
      const r of (Array.isArray(doc.results) ? doc.results : []) as {
        unique_id?: unknown;
        status?: unknown;
      }[]
    ) {
      executed.set(String(r.unique_id ?? ""), String(r.status ?? ""));
    }
    if (plan.rekey) plan.keys = plan.rekey(new Set(executed.keys()));
    // Which build of each parent relation a node was built on: this one
    // when the parent ran in this call, else its kept last build.
    const stamp = buildStamp({ built_at: now, invocation_id: invocation });
    for (const [id, status] of executed) {
      const k = plan.keys.get(id);
      if (!k) continue;
      const builtOn: Record<string, string> = {};
      for (const p of k.relationParents) {
        const pr = plan.records[p];
        builtOn[p] = executed.has(p) ? stamp : pr ? buildStamp(pr) : "none";
      }
      updates[id] = {
        key: k.key,
        parts: k.parts,
        parents: k.parents,
        status,
        built_at: now,
        invocation_id: invocation,
        built_on: builtOn,
      };
    }
    try {
      await updateSkipStore(plan.project.projectDir, plan.target, updates);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      result.metadata.skip_keys_error = message;
      log(options, "warn", `skip: input keys not kept: ${message}`);
    }
    return executed;
  }

  #report(
    plan: Plan,
    decision: Decision,
    planned: Map<string, string> | undefined,
    executed: Map<string, string>,
    result: RunResult,
    options: CallOptions,
  ): void {
    const rebuilt: Record<string, string> = {};
    for (const [id] of executed) {
      if (!plan.keys.has(id)) continue;
      // Fusion lists an ephemeral model among its results: not built.
      const node = plan.view.nodes[id];
      if (node && isEphemeral(node)) continue;
      rebuilt[id] = planned?.get(id) ?? "selected with a rebuilt node";
    }
    const reused = [...decision.reuse.keys()].filter((id) => !executed.has(id));
    result.metadata.rebuilt = rebuilt;
    result.metadata.reused = reused;
    result.metadata.skip_unchanged = {
      target: plan.target,
      plan_seconds: plan.seconds,
      plan_ms: plan.timings,
      fingerprint_ms: plan.data.fingerprint_ms,
      freshness_ms: plan.data.freshness_ms,
      data_versions: plan.data.versions,
      candidates: plan.candidates.size,
    };
    log(
      options,
      "info",
      `skip: rebuilt ${Object.keys(rebuilt).length}, reused ${reused.length}`,
    );
  }
}

/**
 * The candidates downstream of a source whose dbt freshness is `error`,
 * each with that source.
 */
function staleNodes(plan: Plan): Map<string, string> {
  const stale = new Set(
    Object.entries(plan.data.freshness).filter(([, f]) => f.status === "error")
      .map(([id]) => id),
  );
  const out = new Map<string, string>();
  if (!stale.size) return out;
  for (const id of plan.candidates) {
    const hit = upstreamSources(plan.view, [id]).find((s) => stale.has(s));
    if (hit) out.set(id, hit);
  }
  return out;
}

/**
 * Remove from a manifest the nodes of a query's own files (under
 * `queryDir`); true when there were some.
 */
function dropQueryNodes(
  manifest: Record<string, unknown>,
  project: ResolvedProject,
  queryDir: string,
): boolean {
  const nodes = manifest.nodes;
  if (!nodes || typeof nodes !== "object") return false;
  const inside = resolve(queryDir) + sep;
  let dropped = false;
  for (const [id, node] of Object.entries(nodes as Record<string, unknown>)) {
    const file = (node as { original_file_path?: unknown } | null)
      ?.original_file_path;
    if (typeof file !== "string" || !file) continue;
    if (resolve(project.projectDir, file).startsWith(inside)) {
      delete (nodes as Record<string, unknown>)[id];
      dropped = true;
    }
  }
  return dropped;
}

function sameLook(
  a: WarehouseLook | undefined,
  b: WarehouseLook,
): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

/** sha256 of each seed's file (dbt's own checksum is a path for big seeds). */
async function seedChecksums(
  project: ResolvedProject,
  view: ManifestView,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [id, node] of Object.entries(view.nodes)) {
    if (node.resource_type !== "seed") continue;
    const rel = String(node.original_file_path ?? "");
    if (!rel) continue;
    try {
      const text = await readRegularText(join(project.projectDir, rel), {
        root: project.projectDir,
        what: "seed file",
      });
      out[id] = sha256(text);
    } catch {
      // dbt's checksum stands in
    }
  }
  return out;
}

/** Wrap a runtime so runs and builds record input keys and take `skipUnchanged`. */
export function skipRuntime(rt: DbtRuntime): DbtRuntime {
  return new SkipRuntime(rt);
}

/** A file's identity and version (inode, size, mtime), or undefined. */
async function fileStamp(path: string): Promise<string | undefined> {
  if (!path) return undefined;
  try {
    const st = await Deno.lstat(path);
    return `${st.ino}:${st.size}:${st.mtime?.getTime()}`;
  } catch {
    return undefined;
  }
}
