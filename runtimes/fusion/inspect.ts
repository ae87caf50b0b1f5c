/**
 * The fusion runtime's read-only looks (src/contract/runtime.ts DbtInspector), each
 * one Fusion call in a call directory of its own: `dbt parse` (the
 * manifest it writes), `dbt ls` (its printed unique ids) and `dbt show
 * --inline` of the agent's own SQL (the rows of its JSON preview, and the
 * manifest it writes too: parse and query in one process).
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
  return (await fusionShow(ctx, sql, [])).rows;
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
  return await fusionShow(ctx, sql, varsArgs(vars, allowJinjaVars));
}

async function fusionShow(
  ctx: LookContext,
  sql: string,
  extra: string[],
): Promise<ParsedQuery> {
  let preview: string | undefined;
  let target = "";
  await look(
    ctx,
    "show",
    ["--inline", sql, "--output", "json", "--limit", "-1", ...extra],
    (t) => {
      target = t;
    },
    (ev) => {
      if (ev.name === "ShowNode" && typeof ev.data?.preview === "string") {
        preview = ev.data.preview;
      }
    },
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
    });
    if (res.code !== 0) {
      throw errorFromFusion(command, res.errors, res.code, res.stderr);
    }
    onTarget?.(dirs.target);
  } finally {
    ctx.inFlight.delete(dirs.id);
    await pruneCalls(ctx.project.projectDir, ctx.inFlight);
  }
}
