/**
 * One Fusion call on a project: the argument list (its own target and log
 * directories, JSON logs), cancellation as E008, and Fusion's run-time
 * "adapter is not yet supported" refusal as AdapterRefused.
 *
 * @module
 */
import { deadlineError } from "../../src/contract/deadline.ts";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import type { DbtEvent } from "../../src/dbt/dbt_events.ts";
import type { ResolvedProject } from "../../src/dbt/project.ts";
import { isAdapterUnsupportedMessage } from "./adapters.ts";
import type { CallDirs } from "./calls.ts";
import type { FusionBinary } from "./detect.ts";
import { type FusionProcessResult, runFusionProcess } from "./run.ts";

/** Fusion refused the profile's adapter at run time (dbt1005). */
export class AdapterRefused extends Error {}

/** What one call needs. */
export interface CallSpec {
  bin: FusionBinary;
  /** dbt's command words, space-separated (`source freshness`). */
  command: string;
  project: ResolvedProject;
  dirs: CallDirs;
  /** The call's own arguments (selection, lint flags), before the common ones. */
  extra: string[];
  signal?: AbortSignal | undefined;
  killGraceMs: number;
  /** Deadline of the call, seconds; none when undefined. */
  timeoutSeconds?: number | undefined;
  onEvent?: ((ev: DbtEvent) => void) | undefined;
  /** The agent's own variables for the process (a long query's pieces). */
  env?: Readonly<Record<string, string>> | undefined;
}

/** The full argument list of a call. */
export function fusionArgs(s: CallSpec): string[] {
  const p = s.project;
  // The caller's arguments first, the agent's own flags last: dbt keeps an
  // option's last value, so a selection can never redirect the call.
  return [
    // A command of several words ("source freshness") is several arguments.
    ...s.command.split(" "),
    ...s.extra,
    "--project-dir",
    p.projectDir,
    "--profiles-dir",
    p.profilesDir,
    ...(p.target ? ["--target", p.target] : []),
    "--target-path",
    s.dirs.target,
    "--log-path",
    s.dirs.logs,
    "--log-format",
    "json",
  ];
}

/** Run one call; E008 when cancelled, AdapterRefused on dbt1005 refusal. */
export async function callFusion(s: CallSpec): Promise<FusionProcessResult> {
  const res = await runFusionProcess({
    binary: s.bin.path,
    // cwd is the project: a relative DuckDB path resolves against it.
    cwd: s.project.projectDir,
    args: fusionArgs(s),
    onEvent: s.onEvent,
    env: s.env,
    signal: s.signal,
    killGraceMs: s.killGraceMs,
    timeoutMs: s.timeoutSeconds === undefined
      ? undefined
      : s.timeoutSeconds * 1000,
  });
  if (res.timedOut) {
    throw deadlineError(
      `dbt Fusion ${s.command} on '${s.project.projectDir}'`,
      s.timeoutSeconds,
      "its process group was stopped",
      "look for what it waits on (a database lock, a slow query), or raise timeout_seconds (the job's, or dbt_runtime_config.fusion.timeout_seconds)",
    );
  }
  if (res.cancelled) {
    throw new FloeDbtError(
      ERROR_CODES.cancelled,
      `dbt Fusion ${s.command} was cancelled; its process group was stopped`,
      { hint: "run the command again when wanted" },
    );
  }
  const refusal = res.errors.find((e) =>
    isAdapterUnsupportedMessage(e.message)
  );
  if (refusal) throw new AdapterRefused(refusal.message.split("\n")[0]);
  return res;
}
