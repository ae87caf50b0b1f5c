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
 * @module
 */
import { join } from "node:path";

/** How many finished call directories are kept per project. */
export const KEEP_CALLS = 20;
const MIN_AGE_MS = 3600_000;

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
  await Deno.mkdir(dirs.target, { recursive: true });
  await Deno.mkdir(dirs.logs, { recursive: true });
  return dirs;
}

/** Point `latest.json` at a call's target directory (atomic rename). */
export async function markLatest(
  projectDir: string,
  dirs: CallDirs,
): Promise<void> {
  const root = callsRoot(projectDir);
  const tmp = join(root, `.latest-${dirs.id}.tmp`);
  await Deno.writeTextFile(
    tmp,
    JSON.stringify({ call_id: dirs.id, target: dirs.target }),
  );
  await Deno.rename(tmp, join(root, "latest.json"));
}

/** The target directory of the last finished call, or undefined. */
export async function latestTarget(
  projectDir: string,
): Promise<string | undefined> {
  try {
    const text = await Deno.readTextFile(
      join(callsRoot(projectDir), "latest.json"),
    );
    const target = (JSON.parse(text) as { target?: unknown }).target;
    return typeof target === "string" ? target : undefined;
  } catch {
    return undefined;
  }
}

/** Remove old call directories (never `keep`, never recent ones). */
export async function pruneCalls(
  projectDir: string,
  keep: ReadonlySet<string>,
): Promise<void> {
  const root = callsRoot(projectDir);
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(root)) {
      if (e.isDirectory) names.push(e.name);
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
      const st = await Deno.stat(path);
      if (Date.now() - (st.mtime?.getTime() ?? Date.now()) < MIN_AGE_MS) {
        continue;
      }
      await Deno.remove(path, { recursive: true });
    } catch {
      // removed by someone else, or busy: try next time
    }
  }
}
