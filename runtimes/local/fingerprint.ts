/**
 * A fingerprint of everything that changes dbt's parsed project: every file of
 * the project (but its outputs), profiles.yml, the dbt arguments that shape
 * parsing, and the environment (dbt reads env vars through env_var()).
 * Equal fingerprints let the warm worker reuse its parsed manifest.
 *
 * Symbolic links are followed like dbt follows them (a monorepo's
 * `models/shared -> ../../shared/models`): a linked file counts with its
 * target's size and time, a linked folder is walked, and the link's own
 * target is part of the hash. Each real directory is walked once, so a link
 * cycle ends the walk instead of looping.
 *
 * @module
 */
import { join, relative } from "node:path";

/** Directories never part of a project's inputs. */
const SKIP = new Set([
  ".git",
  ".floe",
  "logs",
  "target",
  "node_modules",
  ".venv",
]);

/** Real paths of the directories walked so far (the cycle guard). */
type Seen = Set<string>;

async function realPathOf(path: string): Promise<string | undefined> {
  try {
    return await Deno.realPath(path);
  } catch {
    return undefined;
  }
}

async function walk(
  dir: string,
  root: string,
  skip: Set<string>,
  out: string[],
  seen: Seen,
): Promise<void> {
  const real = await realPathOf(dir);
  if (real === undefined) return;
  if (seen.has(real)) {
    out.push(`${relative(root, dir)}\0seen`);
    return;
  }
  seen.add(real);
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return;
  }
  entries.sort((a, b) => a.name < b.name ? -1 : 1);
  for (const e of entries) {
    const path = join(dir, e.name);
    const rel = relative(root, path);
    let isDirectory = e.isDirectory;
    let isFile = e.isFile;
    if (e.isSymlink) {
      let to = "?";
      try {
        to = await Deno.readLink(path);
        const st = await Deno.stat(path);
        isDirectory = st.isDirectory;
        isFile = st.isFile;
      } catch {
        // dangling link: its target string still counts
      }
      out.push(`${rel}\0link\0${to}`);
    }
    if (isDirectory) {
      if (skip.has(rel) || (dir === root && SKIP.has(e.name))) continue;
      await walk(path, root, skip, out, seen);
    } else if (isFile) {
      try {
        const st = await Deno.stat(path);
        out.push(`${rel}\0${st.size}\0${st.mtime?.getTime() ?? 0}`);
      } catch {
        // vanished between readDir and stat: it will change the hash anyway
        out.push(`${rel}\0gone`);
      }
    }
  }
}

/** Hash of the project's inputs, the parse-shaping args and the env. */
export async function projectFingerprint(
  projectDir: string,
  profilesDir: string,
  parseArgs: string[],
  env: Record<string, string>,
  outputDirs: string[] = [],
): Promise<string> {
  const parts: string[] = [];
  await walk(
    projectDir,
    projectDir,
    new Set(outputDirs.map((d) => relative(projectDir, d))),
    parts,
    new Set(),
  );
  for (const name of ["profiles.yml", "profiles.yaml"]) {
    try {
      const st = await Deno.stat(join(profilesDir, name));
      parts.push(`profiles:${name}\0${st.size}\0${st.mtime?.getTime() ?? 0}`);
    } catch {
      // absent
    }
  }
  parts.push("args", ...parseArgs);
  const keys = Object.keys(env).sort();
  for (const k of keys) parts.push(`env:${k}=${env[k]}`);
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(parts.join("\n")),
  );
  return Array.from(new Uint8Array(digest).slice(0, 16))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}
