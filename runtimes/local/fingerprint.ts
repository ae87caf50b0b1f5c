/**
 * A fingerprint of everything that changes dbt's parsed project: every file of
 * the project (but its outputs), profiles.yml, the dbt arguments that shape
 * parsing, and the environment (dbt reads env vars through env_var()).
 * Equal fingerprints let the warm worker reuse its parsed manifest.
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

async function walk(
  dir: string,
  root: string,
  skip: Set<string>,
  out: string[],
): Promise<void> {
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
    if (e.isDirectory) {
      if (skip.has(rel) || (dir === root && SKIP.has(e.name))) continue;
      await walk(path, root, skip, out);
    } else if (e.isFile) {
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
  await walk(projectDir, projectDir, new Set(outputDirs), parts);
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
