/**
 * One long-lived command in its own process group (Fusion, SQLFluff):
 * started under the agent's watchdog (src/os/spawn.ts: the group dies with the
 * agent), stopped as a whole on cancel or past its deadline (SIGTERM, then
 * SIGKILL after `killGraceMs`), its stdout streamed or collected.
 *
 * @module
 */
import { childEnv } from "./child_env.ts";
import { countSpawn, guardedCommand, killGroup } from "./spawn.ts";

/** What to run and how to stop it. */
export interface RunGroupOptions {
  cmd: string;
  args: string[];
  cwd: string;
  /** Variables beyond the scrubbed child environment (src/os/child_env.ts). */
  env?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** Deadline of the whole group, milliseconds; none when undefined. */
  timeoutMs?: number | undefined;
  /** Grace between SIGTERM and SIGKILL, milliseconds. */
  killGraceMs: number;
  /** Receives stdout as text lines; stdout is then not collected. */
  onLine?: (line: string) => void;
}

/** How the group ended. */
export interface RunGroupResult {
  /** Exit status (-1 when killed by a signal). */
  code: number;
  /** stdout bytes (empty when `onLine` took them). */
  stdout: Uint8Array;
  stderr: Uint8Array;
  /** True when the call was cancelled through its signal. */
  cancelled: boolean;
  /** True when the call passed its deadline and was stopped. */
  timedOut: boolean;
}

/** Run `cmd args` to completion, cancellation or its deadline. */
export async function runGroup(o: RunGroupOptions): Promise<RunGroupResult> {
  o.signal?.throwIfAborted();
  const guarded = guardedCommand(o.cmd, o.args);
  const child = new Deno.Command(guarded.cmd, {
    args: guarded.args,
    cwd: o.cwd,
    clearEnv: true,
    env: childEnv(o.env ?? {}),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  countSpawn();
  // Held open while the command runs: its EOF is the watchdog's signal.
  const lifeline = child.stdin.getWriter();
  let cancelled = false;
  let timedOut = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    killGroup(child.pid, "SIGTERM");
    killTimer ??= setTimeout(
      () => killGroup(child.pid, "SIGKILL"),
      o.killGraceMs,
    );
  };
  const onAbort = () => {
    cancelled = true;
    stop();
  };
  o.signal?.addEventListener("abort", onAbort, { once: true });
  const deadline = o.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    stop();
  }, o.timeoutMs);
  try {
    const stderr = new Response(child.stderr).bytes();
    const stdout = o.onLine
      ? streamLines(child.stdout, o.onLine)
      : new Response(child.stdout).bytes();
    const [out, err, status] = await Promise.all([
      stdout,
      stderr,
      child.status,
    ]);
    return {
      code: status.signal ? -1 : status.code,
      stdout: out,
      stderr: err,
      cancelled: cancelled && !timedOut,
      timedOut,
    };
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
    if (deadline !== undefined) clearTimeout(deadline);
    if (killTimer !== undefined) clearTimeout(killTimer);
    // The leader is gone; whatever it started must not outlive a stop.
    if (cancelled || timedOut) killGroup(child.pid, "SIGKILL");
    // The command has ended: the watchdog sweeps its group and exits.
    await lifeline.close().catch(() => {});
  }
}

/** Feed a byte stream to `onLine` line by line; resolves to no bytes. */
async function streamLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<Uint8Array> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      onLine(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  }
  if (buffer) onLine(buffer);
  return new Uint8Array();
}
