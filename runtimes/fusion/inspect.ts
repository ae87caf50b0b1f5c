/**
 * The fusion runtime's read-only looks (src/contract/runtime.ts DbtInspector), each
 * one Fusion call in a call directory of its own: `dbt parse` (the
 * manifest it writes), `dbt ls` (its printed unique ids) and `dbt show
 * --inline` of the agent's own SQL (the rows of its JSON preview, and the
 * manifest it writes too: parse and query in one process). A query too
 * long for one argument goes in pieces (long_query.ts); a project node
 * named `inline` (the name Fusion gives the query's own node, which it
 * cannot change) makes every query fail: that is said plainly (E003).
 *
 * @module
 */
import { join } from "node:path";
import { checkVars, optionArgs, varsArgs } from "../../src/dbt/dbt_options.ts";
import type { DbtEvent } from "../../src/dbt/dbt_events.ts";
import type { ResolvedProject } from "../../src/dbt/project.ts";
import type {
  CallOptions,
  ParsedQuery,
  Selection,
} from "../../src/contract/runtime.ts";
import { checkCall } from "../../src/dbt/validate.ts";
import { callFusion } from "./call.ts";
import { newCallDirs, pruneCalls } from "./calls.ts";
import type { FusionBinary } from "./detect.ts";
import { errorFromFusion } from "./errors.ts";
import { inlineQuery, splitUnion } from "./long_query.ts";
import type { FusionError } from "./run.ts";
import { configError, type FloeDbtError } from "../../src/contract/errors.ts";

/** What a look needs from the runtime. */
export interface LookContext {
  bin: FusionBinary;
  project: ResolvedProject;
  options: CallOptions;
  killGraceMs: number;
  timeoutSeconds: number;
  inFlight: Set<string>;
}

/** Where `dbt parse` left the manifest (a file in its call directory). */
export async function fusionParse(
  ctx: LookContext,
  vars: Record<string, unknown> | undefined,
  allowJinjaVars = false,
): Promise<string> {
  if (vars !== undefined) checkVars(vars, "vars", allowJinjaVars);
  let path = "";
  await look(ctx, "parse", varsArgs(vars, allowJinjaVars), (target) => {
    path = join(target, "manifest.json");
  });
  return path;
}

/** The unique ids `dbt ls` selects. */
export async function fusionList(
  ctx: LookContext,
  selection: Selection,
): Promise<string[]> {
  checkCall(ctx.project, selection);
  const ids: string[] = [];
  await look(
    ctx,
    "ls",
    [
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
      ...varsArgs(selection.vars, selection.allowJinjaVars),
    ],
    undefined,
    (ev) => {
      if (ev.name !== "PrintEvent") return;
      try {
        const id = (JSON.parse(String(ev.data?.msg ?? "")) as {
          unique_id?: unknown;
        }).unique_id;
        if (typeof id === "string") ids.push(id);
      } catch {
        // not a node line
      }
    },
  );
  return ids;
}

/** The rows of one of the agent's own queries (`dbt show --inline`). */
export async function fusionQuery(
  ctx: LookContext,
  sql: string,
): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const part of splitUnion(sql)) {
    rows.push(...(await fusionShow(ctx, part, [])).rows);
  }
  return rows;
}

/**
 * The rows of one of the agent's own queries and the manifest the same
 * process parsed: `dbt show --inline` writes manifest.json (with the
 * query's own `inline` node, from a file in its target directory) where
 * `dbt parse` would. One Fusion process instead of two.
 */
export async function fusionParseAndQuery(
  ctx: LookContext,
  sql: string,
  vars: Record<string, unknown> | undefined,
  allowJinjaVars = false,
): Promise<ParsedQuery> {
  if (vars !== undefined) checkVars(vars, "vars", allowJinjaVars);
  const extra = varsArgs(vars, allowJinjaVars);
  // Past what one process takes: the first part parses too, the others
  // only add their rows.
  const [first, ...rest] = splitUnion(sql);
  const got = await fusionShow(ctx, first!, extra);
  for (const part of rest) {
    got.rows.push(...(await fusionShow(ctx, part, extra)).rows);
  }
  return got;
}

async function fusionShow(
  ctx: LookContext,
  sql: string,
  extra: string[],
): Promise<ParsedQuery> {
  // Fusion renders what --inline carries as Jinja (through env_var too):
  // the agent's SQL, built from project names, must hold no delimiter.
  const jinja = /\{[{%#]/.exec(sql);
  if (jinja) {
    throw configError(
      `A relation or column name in the agent's query holds the Jinja delimiter '${
        jinja[0]
      }' (near '${
        sql.slice(Math.max(0, jinja.index - 40), jinja.index + 20)
      }'): dbt Fusion would render it`,
      "rename the relation (or give it an alias) without '{{', '{%' or '{#', or use --runtime local",
    );
  }
  let preview: string | undefined;
  let target = "";
  const { inline, env } = inlineQuery(sql);
  await look(
    ctx,
    "show",
    ["--inline", inline, "--output", "json", "--limit", "-1", ...extra],
    (t) => {
      target = t;
    },
    (ev) => {
      if (ev.name === "ShowNode" && typeof ev.data?.preview === "string") {
        preview = ev.data.preview;
      }
    },
    env,
  );
  const rows = preview ? JSON.parse(preview) as unknown : [];
  return {
    manifestPath: join(target, "manifest.json"),
    rows: Array.isArray(rows) ? rows as Record<string, unknown>[] : [],
    queryDir: target,
  };
}

async function look(
  ctx: LookContext,
  command: string,
  extra: string[],
  onTarget?: (target: string) => void,
  onEvent?: (ev: DbtEvent) => void,
  env?: Record<string, string>,
): Promise<void> {
  checkCall(ctx.project);
  const dirs = await newCallDirs(ctx.project.projectDir);
  ctx.inFlight.add(dirs.id);
  try {
    const res = await callFusion({
      bin: ctx.bin,
      command,
      project: ctx.project,
      dirs,
      extra,
      signal: ctx.options.signal,
      killGraceMs: ctx.killGraceMs,
      timeoutSeconds: ctx.timeoutSeconds,
      onEvent,
      env,
    });
    if (res.code !== 0) {
      if (command === "show") {
        const clash = inlineClash(res.errors);
        if (clash) throw clash;
      }
      throw errorFromFusion(command, res.errors, res.code, res.stderr);
    }
    onTarget?.(dirs.target);
  } finally {
    ctx.inFlight.delete(dirs.id);
    await pruneCalls(ctx.project.projectDir, ctx.inFlight);
  }
}

/**
 * Fusion names the node of `show --inline` `inline` (unique_id
 * `model.<project>.inline`, relation `inline` in the target schema), and no
 * option renames it: a project model named `inline` ("Found duplicate
 * model 'inline'"), or another node whose relation is `inline` ("two
 * resources with the database relation ... Nodes: seed.p.inline,
 * model.p.inline"), fails every such query. Marked `blocks_queries` (the
 * agent's queries cannot run on this project through Fusion at all).
 */
function inlineClash(errors: FusionError[]): FloeDbtError | undefined {
  for (const e of errors) {
    const dup = e.message.match(/duplicate (\w+) 'inline'/);
    const two = e.message.match(
      /two resources with the database relation (\S+)\. Nodes: ([^\s,]+), ([^\s,]+)/,
    );
    let what: string | undefined;
    if (dup) what = `a ${dup[1]} named 'inline'`;
    else if (two) {
      const mine = [two[2]!, two[3]!].filter((id) =>
        /^model\.[^.]+\.inline$/.test(id)
      );
      const other = [two[2]!, two[3]!].find((id) => !mine.includes(id)) ??
        mine[1];
      if (!mine.length || !other) continue;
      what = `a node (${other}) whose relation is ${two[1]}`;
    } else continue;
    return configError(
      `the project has ${what}: 'inline' is the name dbt Fusion gives the node of 'dbt show --inline', which the agent's own queries use (Fusion: ${
        e.message.split("\n")[0]
      })`,
      "rename that node (or give it another alias), or use --runtime local",
      { blocks_queries: true, node_name: "inline" },
    );
  }
  return undefined;
}
