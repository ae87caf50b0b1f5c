/**
 * The project lock of the local runtime: an in-process mutex per project
 * (shared by every local runtime instance in the process) plus flock(2) on
 * `<project>/.floe/dbt.lock`, so two agent processes never run dbt-core on one
 * project at once. The kernel drops a flock when its holder dies, so a lock
 * left by a crashed process never blocks; the file's content is information.
 * Neither `.floe/` nor the lock file is followed when it is a symbolic link.
 *
 * @module
 */
import { join } from "node:path";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import { Mutex } from "../../src/os/mutex.ts";
import {
  ensureDirInside,
  openLockFile,
  readRegularText,
} from "../../src/os/safe_fs.ts";

/**
 * One in-process mutex per lock file: projects never wait on each other, two
 * calls on one project do. (Two paths to one project meet at the flock.)
 */
const projectMutexes = new Map<string, Mutex>();

function mutexFor(path: string): Mutex {
  let m = projectMutexes.get(path);
  if (!m) {
    m = new Mutex();
    projectMutexes.set(path, m);
  }
  return m;
}

/** What the lock file says about its holder. */
export interface LockHolder {
  pid: number;
  started_at: string;
  command: string;
}

/** A held project lock; call release() exactly once. */
export interface ProjectLock {
  release(): void;
  /** Milliseconds spent waiting for the lock. */
  waitedMs: number;
}

/** The state directory of a project (lock file, DuckDB file of the example). */
export function stateDir(projectDir: string): string {
  return join(projectDir, ".floe");
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const text = await readRegularText(path, { maxBytes: 64 * 1024 });
    return JSON.parse(text) as LockHolder;
  } catch {
    return undefined;
  }
}

function timeoutError(
  path: string,
  seconds: number,
  holder: LockHolder | undefined,
): FloeDbtError {
  const who = holder
    ? `held by pid ${holder.pid} since ${holder.started_at} (${holder.command})`
    : "held by another process";
  return new FloeDbtError(
    ERROR_CODES.timeout,
    `Timed out after ${seconds} s waiting for the dbt-core project lock '${path}': ${who}`,
    {
      hint:
        "dbt-core runs one at a time per project: wait for that run, stop it, or raise dbt_runtime_config.local.lock_timeout_seconds",
      details: { lock_file: path, holder },
    },
  );
}

/**
 * Take the project lock, waiting at most `timeoutSeconds` in all. The wait can
 * be cancelled through `signal`.
 */
export async function acquireProjectLock(
  projectDir: string,
  command: string,
  timeoutSeconds: number,
  signal?: AbortSignal,
): Promise<ProjectLock> {
  const started = performance.now();
  const deadline = started + timeoutSeconds * 1000;
  const dir = stateDir(projectDir);
  const path = join(dir, "dbt.lock");
  const releaseMutex = await mutexFor(path).acquire(
    timeoutSeconds * 1000,
    () => timeoutError(path, timeoutSeconds, undefined),
    signal,
  );
  let file: Deno.FsFile | undefined;
  try {
    // .floe must be a real directory of the project and the lock a regular
    // file: a link planted there is refused, never followed or truncated.
    await ensureDirInside(projectDir, dir, "state directory");
    file = await openLockFile(path, projectDir);
    let delay = 10;
    while (!(await file.tryLock(true))) {
      if (signal?.aborted) throw signal.reason;
      if (performance.now() >= deadline) {
        throw timeoutError(path, timeoutSeconds, await readHolder(path));
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 250);
    }
    const holder: LockHolder = {
      pid: Deno.pid,
      started_at: new Date().toISOString(),
      command,
    };
    await file.truncate(0);
    await file.write(new TextEncoder().encode(JSON.stringify(holder) + "\n"));
  } catch (e) {
    file?.close();
    releaseMutex();
    throw e;
  }
  const held = file;
  let released = false;
  return {
    waitedMs: performance.now() - started,
    release() {
      if (released) return;
      released = true;
      try {
        held.unlockSync();
      } finally {
        held.close();
        releaseMutex();
      }
    },
  };
}
