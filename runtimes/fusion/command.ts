/**
 * One dbt command through Fusion in a fresh call directory: per-node
 * progress from its JSON log, the run result from its run_results.json.
 * A non-zero exit without failed nodes (parse, Jinja, configuration, a
 * database that cannot be opened) throws E001/E002 with Fusion's message.
 *
 * @module
 */
import { artifactPaths, runResultFrom } from "../../src/artifacts.ts";
import { DbtEventTranslator } from "../../src/dbt_events.ts";
import type { ResolvedProject } from "../../src/project.ts";
import type { CallOptions, Selection } from "../../src/runtime.ts";
import type { DbtCommand, RunResult } from "../../src/schemas.ts";
import { checkCall } from "../../src/validate.ts";
import { selectionArgs } from "../local/mod.ts";
import { callFusion } from "./call.ts";
import { markLatest, newCallDirs, pruneCalls } from "./calls.ts";
import type { FusionBinary } from "./detect.ts";
import { errorFromFusion, hasNodeFailures } from "./errors.ts";

/** Run one dbt command through Fusion (see the module doc). */
export async function runCommand(
  bin: FusionBinary,
  command: DbtCommand,
  project: ResolvedProject,
  selection: Selection,
  options: CallOptions,
  ctx: {
    killGraceMs: number;
    inFlight: Set<string>;
    /** Deadline of the Fusion process, seconds. */
    timeoutSeconds?: number | undefined;
  },
): Promise<RunResult> {
  checkCall(project, selection);
  const dirs = await newCallDirs(project.projectDir);
  ctx.inFlight.add(dirs.id);
  try {
    const translator = new DbtEventTranslator();
    const onEvent = options.onEvent;
    const res = await callFusion({
      bin,
      command,
      project,
      dirs,
      extra: selectionArgs(
        command === "compile" || command === "test"
          ? { ...selection, fullRefresh: false }
          : selection,
      ),
      signal: options.signal,
      killGraceMs: ctx.killGraceMs,
      timeoutSeconds: ctx.timeoutSeconds,
      onEvent: (ev) => {
        if (onEvent) { for (const p of translator.translate(ev)) onEvent(p); }
      },
    });
    const paths = artifactPaths(dirs.target);
    if (res.code !== 0 && !(await hasNodeFailures(paths.runResults))) {
      throw errorFromFusion(command, res.errors, res.code, res.stderr);
    }
    const run = await runResultFrom(dirs.target, {
      runtime: "fusion",
      executed_by: "fusion",
      fallback: false,
      command,
      fusion_version: bin.version,
      dbt_version: bin.version,
      binary_path: bin.path,
      call_id: dirs.id,
      log_path: dirs.logs,
      exit_code: res.code,
      fusion_errors: res.errors.map((e) =>
        e.name ? `[${e.name} (${e.code})] ${e.message}` : e.message
      ),
      target: project.target ?? null,
      select: selection.select ?? [],
      exclude: selection.exclude ?? [],
      full_refresh: Boolean(selection.fullRefresh),
    }, res.code === 0);
    await markLatest(project.projectDir, dirs);
    return run;
  } finally {
    ctx.inFlight.delete(dirs.id);
    await pruneCalls(project.projectDir, ctx.inFlight);
  }
}
