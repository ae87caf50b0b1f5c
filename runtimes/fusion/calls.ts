/**
 * Per-call directories. Every Fusion call gets its own
 * `<project>/.floe/fusion/<call-id>/{target,logs}`, so concurrent calls never
 * share a target directory. When a call has written its artifacts, the file
 * `<project>/.floe/fusion/latest.json` is replaced atomically (write, then
 * rename) to point at that call's target: getManifest / getRunResults read
 * the artifacts of the call that finished last. The project's own `target/`
 * is never touched. Older call directories are pruned, keeping the newest
 * KEEP_CALLS and anything younger than an hour (it may still be in use).
 *
 * `.floe/` and `.floe/fusion/` must be real directories of the project (a
 * symbolic link there is refused, E003), and pruning deletes only names of
 * the call-id form this module creates, a link itself rather than its target.
 *
 * @module
 */
import { join } from "node:path";
import {
  checkDirInside,
  checkedDirIdentity,
  type DirIdentity,
  ensureDirInside,
  readRegularText,
  removeOwned,
} from "../../src/os/safe_fs.ts";
import { writeAtomic } from "../../src/os/atomic.ts";

/** How many finished call directories are kept per project. */
export const KEEP_CALLS = 20;
const MIN_AGE_MS = 3600_000;
/** The names newCallDirs gives call directories, e.g. `20261101T120000123Z-0a1b2c3d`. */
export const CALL_ID = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;
const WHAT = "Fusion call directory";

/** The directories of one call. */
export interface CallDirs {
  id: string;
  dir: string;
  target: string;
  logs: string;
}

/** Where a project's Fusion call directories live. */
export function callsRoot(projectDir: string): string {
  return join(projectDir, ".floe", "fusion");
}

/** Create a fresh call directory. */
export async function newCallDirs(projectDir: string): Promise<CallDirs> {
  const stamp = new Date().toISOString().replace(/[-:.]/g, "");
  const id = `${stamp}-${crypto.randomUUID().slice(0, 8)}`;
  const dir = join(callsRoot(projectDir), id);
  const dirs = {
    id,
    dir,
    target: join(dir, "target"),
    logs: join(dir, "logs"),
  };
  await ensureDirInside(projectDir, dirs.target, WHAT);
  await ensureDirInside(projectDir, dirs.logs, WHAT);
  return dirs;
}

/** Point `latest.json` at a call's target directory (atomic rename). */
export async function markLatest(
  projectDir: string,
  dirs: CallDirs,
): Promise<void> {
  const root = await ensureDirInside(projectDir, callsRoot(projectDir), WHAT);
  await writeAtomic(
    join(root, "latest.json"),
    JSON.stringify({ call_id: dirs.id, target: dirs.target }),
  );
}

/**
 * The target directory of the last finished call, or undefined. The path is
 * rebuilt from the recorded call id, so latest.json cannot point elsewhere;
 * E003 when `.floe/fusion` or latest.json is a link.
 */
export async function latestTarget(
  projectDir: string,
): Promise<string | undefined> {
  const root = callsRoot(projectDir);
  if (!(await checkDirInside(projectDir, root, WHAT))) return undefined;
  let text: string;
  try {
    text = await readRegularText(join(root, "latest.json"), {
      root: projectDir,
      maxBytes: 64 * 1024,
      what: "Fusion call record",
    });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    const id = (JSON.parse(text) as { call_id?: unknown }).call_id;
    return typeof id === "string" && CALL_ID.test(id)
      ? join(root, id, "target")
      : undefined;
  } catch {
    return undefined;
  }
}

/** Remove a call directory (its link itself, if someone replaced it by one). */
export async function removeCallDirs(
  projectDir: string,
  dirs: CallDirs,
): Promise<void> {
  const root = callsRoot(projectDir);
  const rootWas = await checkedDirIdentity(projectDir, root, WHAT);
  if (rootWas) await removeOwned(root, dirs.id, CALL_ID, rootWas);
}

/** Remove old call directories (never `keep`, never recent ones). */
export async function pruneCalls(
  projectDir: string,
  keep: ReadonlySet<string>,
): Promise<void> {
  const root = callsRoot(projectDir);
  const names: string[] = [];
  let rootWas: DirIdentity | undefined;
  try {
    // A linked or foreign .floe/fusion is never pruned.
    rootWas = await checkedDirIdentity(projectDir, root, WHAT);
    if (!rootWas) return;
    for await (const e of Deno.readDir(root)) {
      if ((e.isDirectory || e.isSymlink) && CALL_ID.test(e.name)) {
        names.push(e.name);
      }
    }
  } catch {
    return;
  }
  names.sort();
  const old = names.slice(0, Math.max(0, names.length - KEEP_CALLS));
  for (const name of old) {
    if (keep.has(name)) continue;
    const path = join(root, name);
    try {
      const st = await Deno.lstat(path);
      if (Date.now() - (st.mtime?.getTime() ?? Date.now()) < MIN_AGE_MS) {
        continue;
      }
      await removeOwned(root, name, CALL_ID, rootWas);
    } catch {
      // removed by someone else, or busy: try next time
    }
  }
}
