/**
 * Child processes that never block the event loop, never outlive their
 * deadline, and never outlive the agent.
 *
 * - `outputWithTimeout`: run a short command (`--version`, `--help`, an
 *   import check) asynchronously; past its deadline its process group is
 *   killed and the answer is `timedOut`.
 * - `guardedCommand`: the argument list that starts a long-lived command
 *   (Fusion, SQLFluff) under a tiny `/bin/sh` watchdog. The watchdog leads
 *   the command's own process group and holds the read end of a pipe whose
 *   write end only the agent has: when the agent dies (even by SIGKILL) the
 *   kernel closes that pipe, the watchdog reads EOF and kills the whole
 *   group. Like the Python worker's parent watch, but for any binary.
 * - `probePython`: a short question to a Python, from `/`.
 *
 * @module
 */
import { resolve } from "node:path";
import { childEnv } from "./child_env.ts";

/** Spawns started through this module (a test hook: cached paths spawn none). */
let spawned = 0;

/** How many processes this module has started in this process. */
export function spawnCount(): number {
  return spawned;
}

/** Count one spawn made elsewhere through `guardedCommand`. */
export function countSpawn(): void {
  spawned++;
}

/** Signal a whole process group; a group already gone is fine. */
export function killGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

/**
 * The watchdog script: fd 3 is the agent's pipe. The command runs in the
 * background with stdin from /dev/null and without fd 3; the watchdog
 * subshell waits for EOF on fd 3 and then kills the process group (0). The
 * shell itself waits for the command and exits with its status. On a normal
 * end the agent closes the pipe, so the watchdog also sweeps up whatever the
 * command left behind in its group.
 */
const WATCHDOG =
  'exec 3<&0; "$@" </dev/null 3<&- & c=$!; (cat <&3 >/dev/null 2>&1; kill -KILL 0) >/dev/null 2>&1 & exec 3<&-; wait "$c"';

/**
 * `Deno.Command` arguments that run `cmd args` under the watchdog. Spawn
 * with `stdin: "piped"` and `detached: true`, keep `child.stdin` open for
 * the command's lifetime and close it once `child.status` has resolved.
 */
export function guardedCommand(
  cmd: string,
  args: string[],
): { cmd: string; args: string[] } {
  return {
    cmd: "/bin/sh",
    args: ["-c", WATCHDOG, "floe-dbt-watchdog", cmd, ...args],
  };
}

/** What a short command printed. */
export interface ShortOutput {
  success: boolean;
  code: number;
  stdout: string;
  stderr: string;
  /** True when the deadline passed and the process group was killed. */
  timedOut: boolean;
}

/**
 * Run a short command asynchronously in its own process group, stdin closed;
 * kill the group when it has not finished within `timeoutMs`. Throws only
 * when the command cannot be started (missing, not executable).
 */
export async function outputWithTimeout(
  cmd: string,
  options: {
    args: string[];
    env?: Record<string, string>;
    clearEnv?: boolean;
    cwd?: string;
    timeoutMs: number;
  },
): Promise<ShortOutput> {
  const child = new Deno.Command(cmd, {
    args: options.args,
    ...(options.env ? { env: options.env } : {}),
    clearEnv: options.clearEnv ?? false,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  spawned++;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid, "SIGKILL");
  }, options.timeoutMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return {
      success: out.success && !timedOut,
      code: out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Ask a Python a short question: `python -I -c code` run from `/` (so no
 * project file on the current folder can shadow a module), with the
 * scrubbed child environment and a deadline. Isolated (`-I`) like the
 * dbt-core worker (PYTHONPATH and user site-packages do not count), so a
 * probe never disagrees with the worker. A relative `python` is taken from
 * the agent's current folder, as the worker takes it.
 */
export function probePython(
  python: string,
  code: string,
  timeoutMs: number,
): Promise<ShortOutput> {
  return outputWithTimeout(
    python.includes("/") ? resolve(python) : python,
    {
      args: ["-I", "-c", code],
      clearEnv: true,
      env: childEnv(),
      cwd: "/",
      timeoutMs,
    },
  );
}
