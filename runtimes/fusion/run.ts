/**
 * Run the Fusion binary once: an argument list (never a shell), its own
 * process group (so cancelling reaches every child), quiet and offline
 * environment, and its `--log-format json` stdout parsed line by line.
 *
 * @module
 */
import type { DbtEvent } from "../../src/dbt/dbt_events.ts";
import { stripAnsi } from "../../src/dbt/dbt_events.ts";
import { runGroup } from "../../src/os/run_group.ts";

/**
 * Variables set on every Fusion call: no usage statistics, no version check,
 * no backtraces in messages. (Fusion ignores DO_NOT_TRACK, so the two dbt
 * variables are what keeps it offline; unknown DBT_ENGINE_* are errors.)
 */
export const FUSION_ENV: Readonly<Record<string, string>> = {
  DBT_SEND_ANONYMOUS_USAGE_STATS: "false",
  DBT_DISABLE_VERSION_CHECK: "1",
  DO_NOT_TRACK: "1",
  RUST_BACKTRACE: "0",
};

/** An error Fusion reported, e.g. DependencyNotFound (dbt1048). */
export interface FusionError {
  /** Fusion's error name, e.g. `DependencyNotFound`; empty when absent. */
  name: string;
  /** Fusion's code, e.g. `dbt1048`; empty when absent. */
  code: string;
  /** The message without the `[error] [Name (code)]:` prefix. */
  message: string;
}

/** What one Fusion process did. */
export interface FusionProcessResult {
  /** Exit status (-1 when killed by a signal). */
  code: number;
  /** Error-level log lines, parsed. */
  errors: FusionError[];
  /** stdout lines that are not log events (e.g. `dbt lint --format json`). */
  otherLines: string[];
  /** stderr text. */
  stderr: string;
  /** True when the call was cancelled through its signal. */
  cancelled: boolean;
  /** True when the call passed its deadline and was stopped. */
  timedOut: boolean;
}

/** Parse an error message `[error] [Name (dbtNNNN)]: text`. */
export function parseFusionError(msg: string): FusionError {
  const text = stripAnsi(msg).trim();
  const m = text.match(
    /^(?:\[error\]\s*)?\[(\w+) \((dbt\d+)\)\]:\s*([\s\S]*)$/,
  );
  if (m) return { name: m[1]!, code: m[2]!, message: m[3]!.trim() };
  return { name: "", code: "", message: text.replace(/^\[error\]\s*/, "") };
}

/** Options of one Fusion process. */
export interface FusionProcessOptions {
  binary: string;
  args: string[];
  cwd: string;
  /** Receives every JSON log event. */
  onEvent?: ((ev: DbtEvent) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** Grace between SIGTERM and SIGKILL on cancel, milliseconds. */
  killGraceMs: number;
  /** Deadline of the whole process, milliseconds; none when undefined. */
  timeoutMs?: number | undefined;
  /** Variables added to FUSION_ENV (the agent's own, e.g. a long query). */
  env?: Readonly<Record<string, string>> | undefined;
}

/**
 * Run Fusion to completion (or cancellation, or its deadline) and report
 * what it said. Fusion runs as a process group under the agent's watchdog
 * (src/os/run_group.ts): the group dies with the agent.
 */
export async function runFusionProcess(
  o: FusionProcessOptions,
): Promise<FusionProcessResult> {
  const errors: FusionError[] = [];
  const otherLines: string[] = [];
  const handle = (line: string) => {
    if (!line.trim()) return;
    let parsed: { info?: Record<string, unknown>; data?: unknown };
    try {
      parsed = JSON.parse(line);
    } catch {
      otherLines.push(line);
      return;
    }
    if (!parsed || typeof parsed !== "object" || !parsed.info) {
      otherLines.push(line);
      return;
    }
    const info = parsed.info;
    const ev: DbtEvent = {
      name: String(info.name ?? ""),
      level: String(info.level ?? ""),
      msg: String(info.msg ?? ""),
      data: (parsed.data ?? {}) as Record<string, unknown>,
    };
    if (ev.level === "error" && ev.msg) errors.push(parseFusionError(ev.msg));
    o.onEvent?.(ev);
  };
  const res = await runGroup({
    cmd: o.binary,
    args: o.args,
    cwd: o.cwd,
    env: { ...o.env, ...FUSION_ENV },
    signal: o.signal,
    timeoutMs: o.timeoutMs,
    killGraceMs: o.killGraceMs,
    onLine: handle,
  });
  return {
    code: res.code,
    errors,
    otherLines,
    stderr: new TextDecoder().decode(res.stderr),
    cancelled: res.cancelled,
    timedOut: res.timedOut,
  };
}
