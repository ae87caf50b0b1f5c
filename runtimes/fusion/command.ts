/**
 * One dbt command through Fusion in a fresh call directory: per-node
 * progress from its JSON log, the run result from its run_results.json.
 * A non-zero exit without failed nodes (parse, Jinja, configuration, a
 * database that cannot be opened) throws E001/E002 with Fusion's message.
 *
 * @module
 */
import { artifactPaths, commandResultFrom } from "../../src/dbt/artifacts.ts";
import {
  checkOptions,
  optionArgs,
  optionMetadata,
  varsArgs,
} from "../../src/dbt/dbt_options.ts";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import { DbtEventTranslator } from "../../src/dbt/dbt_events.ts";
import type { ResolvedProject } from "../../src/dbt/project.ts";
import type { CallOptions, Selection } from "../../src/contract/runtime.ts";
import {
  type DbtCommand,
  dbtCommandWords,
  type RunResult,
} from "../../src/contract/schemas.ts";
import { checkCall } from "../../src/dbt/validate.ts";
import { callFusion } from "./call.ts";
import { latestTarget, markLatest, newCallDirs, pruneCalls } from "./calls.ts";
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
  checkOptions(command, selection, options);
  refuseUnsupported(command, selection);
  // retry reads the previous run's run_results.json: the last finished call.
  const previous = command === "retry"
    ? await latestTarget(project.projectDir)
    : undefined;
  if (command === "retry" && !previous) {
    throw new FloeDbtError(
      ERROR_CODES.usage,
      `The fusion runtime has no previous run to retry in '${project.projectDir}' (no finished Fusion call under .floe/fusion)`,
      {
        hint:
          "run the command first (floe-dbt run --runtime fusion), then retry",
      },
    );
  }
  const dirs = await newCallDirs(project.projectDir);
  ctx.inFlight.add(dirs.id);
  try {
    const translator = new DbtEventTranslator();
    const onEvent = options.onEvent;
    const res = await callFusion({
      bin,
      command: fusionCommand(command),
      project,
      dirs,
      extra: [
        ...optionArgs(command, selection, options),
        ...varsArgs(selection.vars, selection.allowJinjaVars),
        ...(previous ? ["--state", previous] : []),
      ],
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
    const run = await commandResultFrom(command, dirs.target, {
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
      ...optionMetadata(command, selection, options),
      ...(previous ? { retried_from: previous } : {}),
    }, res.code === 0);
    await markLatest(project.projectDir, dirs);
    return run;
  } finally {
    ctx.inFlight.delete(dirs.id);
    await pruneCalls(project.projectDir, ctx.inFlight);
  }
}

/**
 * Fusion's command line for a command: `docs generate` is deprecated in
 * Fusion and writes no catalog, so it becomes `compile --write-catalog`.
 */
export function fusionCommand(command: DbtCommand): string {
  if (command === "docs-generate") return "compile --write-catalog";
  return dbtCommandWords(command).join(" ");
}

/** E010 for options Fusion cannot honour, naming the runtime. */
function refuseUnsupported(command: DbtCommand, selection: Selection): void {
  if (selection.failFast) {
    throw new FloeDbtError(
      ERROR_CODES.usage,
      `The fusion runtime cannot honour --fail-fast for dbt ${
        dbtCommandWords(command).join(" ")
      }: dbt Fusion does not offer it (its hidden flag marks every node as a compilation error)`,
      { hint: "drop --fail-fast, or use --runtime local" },
    );
  }
}
