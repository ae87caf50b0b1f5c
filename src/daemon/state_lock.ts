/**
 * One daemon per state directory: an exclusive flock(2) on
 * `<state-dir>/daemon.lock`, taken before anything else touches the
 * directory, holding the owner's pid. A second daemon finds it held and
 * refuses (E003 naming that pid) without reading or writing anything else.
 * The kernel drops the lock when its holder dies, so kill -9 never leaves a
 * stale lock; the file's content is information only. The directory must be
 * the daemon user's and writable by no one else (private_dir.ts), and the
 * lock file is 0600.
 *
 * @module
 */
import { join } from "node:path";
import { configError, FloeDbtError } from "../contract/errors.ts";
import { Mutex } from "../os/mutex.ts";
import { PRIVATE_FILE, privateDir } from "../os/private_dir.ts";
import { openLockFile } from "../os/safe_fs.ts";

/** What the lock file says about its holder. */
export interface StateHolder {
  pid: number;
  started_at: string;
}

/** A held state directory lock. */
export interface StateLock {
  /** The lock file's path. */
  path: string;
  /** Release the lock (once; later calls do nothing). */
  release(): void;
}

/** Two opens in one process conflict under flock: one holder per process too. */
const held = new Set<string>();
const opening = new Mutex();

/** The lock file of a state directory. */
export function stateLockPath(stateDir: string): string {
  return join(stateDir, "daemon.lock");
}

/** E003 for a state directory the daemon cannot use. */
export function stateDirError(
  stateDir: string,
  what: string,
  e: unknown,
): FloeDbtError {
  const reason = e instanceof FloeDbtError
    ? e.message
    : e instanceof Error
    ? `${e.name}: ${e.message}`
    : String(e);
  return configError(
    `Cannot ${what} the state directory '${stateDir}': ${reason}`,
    "give the daemon a directory it can read and write (--state-dir or FLOE_STATE_DIR): not a read-only mount, not a file, owned by the user running floe-dbt",
    { state_dir: stateDir },
  );
}

async function holderOf(file: Deno.FsFile): Promise<StateHolder | undefined> {
  try {
    await file.seek(0, Deno.SeekMode.Start);
    const buf = new Uint8Array(4096);
    const n = await file.read(buf);
    if (!n) return undefined;
    const parsed = JSON.parse(new TextDecoder().decode(buf.subarray(0, n)));
    return typeof parsed?.pid === "number" ? parsed as StateHolder : undefined;
  } catch {
    return undefined;
  }
}

async function writeAll(f: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await f.write(bytes.subarray(done));
}

/**
 * Create the state directory if needed and lock it for this process.
 * Throws E003 when another daemon holds it (naming its pid) or when the
 * directory cannot be created, read or written.
 */
export async function lockStateDir(stateDir: string): Promise<StateLock> {
  const path = stateLockPath(stateDir);
  const release = await opening.acquire();
  try {
    if (held.has(path)) {
      throw refused(stateDir, { pid: Deno.pid, started_at: "" });
    }
    try {
      await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw stateDirError(stateDir, "create", e);
    }
    // One that exists must be ours and writable by no one else: a planted
    // jobs.jsonl would run its jobs as this user.
    await privateDir(stateDir, "state directory");
    let file: Deno.FsFile;
    try {
      file = await openLockFile(path, stateDir);
      // An older agent created it 0644: the daemon's files are its own.
      const st = await file.stat();
      if (((st.mode ?? 0) & 0o077) !== 0) await Deno.chmod(path, PRIVATE_FILE);
    } catch (e) {
      throw stateDirError(stateDir, "open the lock file in", e);
    }
    let locked = false;
    try {
      locked = await file.tryLock(true);
    } catch (e) {
      file.close();
      throw stateDirError(stateDir, "lock", e);
    }
    if (!locked) {
      const holder = await holderOf(file);
      file.close();
      throw refused(stateDir, holder);
    }
    try {
      const me: StateHolder = {
        pid: Deno.pid,
        started_at: new Date().toISOString(),
      };
      await file.truncate(0);
      await file.seek(0, Deno.SeekMode.Start);
      await writeAll(file, new TextEncoder().encode(JSON.stringify(me) + "\n"));
      await file.sync();
    } catch (e) {
      file.close();
      throw stateDirError(stateDir, "write to", e);
    }
    held.add(path);
    let released = false;
    return {
      path,
      release() {
        if (released) return;
        released = true;
        held.delete(path);
        try {
          file.unlockSync();
        } catch {
          // closing drops the lock too
        }
        file.close();
      },
    };
  } finally {
    release();
  }
}

function refused(
  stateDir: string,
  holder: StateHolder | undefined,
): FloeDbtError {
  const who = holder
    ? `pid ${holder.pid}${
      holder.started_at ? `, started ${holder.started_at}` : ""
    }`
    : "a process that did not write its pid";
  return configError(
    `Another floe-dbt daemon (${who}) already uses the state directory '${stateDir}'`,
    "stop that daemon first, or give this one its own --state-dir (FLOE_STATE_DIR): two daemons on one journal would lose and duplicate jobs",
    { state_dir: stateDir, holder_pid: holder?.pid ?? null },
  );
}
