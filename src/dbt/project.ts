/**
 * Checks and facts about a dbt project on disk: that the directories exist,
 * where its target directory is, which adapter type a profile target uses.
 * The directories the agent and dbt write inside a project (`.floe/`, the
 * target and log directories) must be real directories there: a symbolic
 * link out of the project is refused (E003) before anything runs.
 *
 * @module
 */
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { parse } from "yaml";
import { configError } from "../contract/errors.ts";
import { isInside } from "../os/safe_fs.ts";
import type { ProjectRef } from "../contract/runtime.ts";

/** A project whose directories were checked, with absolute paths. */
export interface ResolvedProject {
  projectDir: string;
  profilesDir: string;
  target: string | undefined;
  /** dbt_project.yml, parsed. */
  project: Record<string, unknown>;
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function readYaml(file: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch {
    throw configError(
      `${what} not found: '${file}'`,
      what === "profiles.yml"
        ? "pass --profiles-dir (or DBT_PROFILES_DIR) with the directory holding profiles.yml"
        : "pass --project-dir (or DBT_PROJECT_DIR) with the directory holding dbt_project.yml",
    );
  }
  try {
    const data = parse(text);
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      throw new Error("the top level is not a mapping");
    }
    return data as Record<string, unknown>;
  } catch (e) {
    const pos = (e as { linePos?: { line: number; col: number }[] })
      .linePos?.[0];
    throw configError(
      `Invalid YAML in ${file}${pos ? `:${pos.line}:${pos.col}` : ""}: ${
        (e as Error).message.split("\n")[0]
      }`,
      `fix ${what}`,
      { file, line: pos?.line, column: pos?.col },
    );
  }
}

/** Check the directories of a project; E003 naming what is missing. */
export function resolveProject(ref: ProjectRef): ResolvedProject {
  const projectDir = resolve(ref.projectDir);
  const profilesDir = resolve(ref.profilesDir);
  if (!isDir(projectDir)) {
    throw configError(
      `Project directory '${projectDir}' does not exist`,
      "pass --project-dir (or DBT_PROJECT_DIR) with the directory holding dbt_project.yml",
    );
  }
  if (!isDir(profilesDir)) {
    throw configError(
      `Profiles directory '${profilesDir}' does not exist`,
      "pass --profiles-dir (or DBT_PROFILES_DIR) with the directory holding profiles.yml",
    );
  }
  const project = readYaml(
    join(projectDir, "dbt_project.yml"),
    "dbt_project.yml",
  );
  const resolved = { projectDir, profilesDir, target: ref.target, project };
  for (const [dir, what] of outputDirs(resolved)) {
    checkOutputDir(projectDir, dir, what);
  }
  return resolved;
}

function pathSetting(
  p: ResolvedProject,
  env: string,
  key: string,
  fallback: string,
): string {
  const raw = Deno.env.get(env) ??
    (typeof p.project[key] === "string" ? p.project[key] as string : fallback);
  return isAbsolute(raw) ? raw : join(p.projectDir, raw);
}

/** The project's target directory (dbt_project.yml `target-path`, env override). */
export function targetDir(p: ResolvedProject): string {
  return pathSetting(p, "DBT_TARGET_PATH", "target-path", "target");
}

/** The project's log directory (dbt_project.yml `log-path`, env override). */
export function logDir(p: ResolvedProject): string {
  return pathSetting(p, "DBT_LOG_PATH", "log-path", "logs");
}

/** The directories written inside a project, with what they are. */
export function outputDirs(p: ResolvedProject): [string, string][] {
  return [
    [join(p.projectDir, ".floe"), "floe-dbt state directory"],
    [targetDir(p), "dbt target directory"],
    [logDir(p), "dbt log directory"],
  ];
}

/**
 * E003 when an output directory inside the project is (or passes through) a
 * symbolic link or a file, or really lies outside the project. A missing
 * directory is fine (it is created as a real one); a directory configured
 * outside the project is the user's choice and not checked.
 */
export function checkOutputDir(
  projectDir: string,
  dir: string,
  what: string,
): void {
  if (!isInside(projectDir, dir)) return;
  let cur = resolve(projectDir);
  for (const part of relative(cur, resolve(dir)).split(sep).filter(Boolean)) {
    cur = join(cur, part);
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(cur);
    } catch {
      return;
    }
    const name = relative(projectDir, cur);
    if (st.isSymlink) {
      let to = "?";
      try {
        to = Deno.readLinkSync(cur);
      } catch {
        // unreadable link: named without its target
      }
      throw configError(
        `The ${what} '${name}' of project '${projectDir}' is a symbolic link (to '${to}'): floe-dbt does not follow links out of the project`,
        `remove the link '${name}' (dbt recreates the directory), or set its path in dbt_project.yml to a real directory`,
        { path: cur },
      );
    }
    if (!st.isDirectory) {
      throw configError(
        `The ${what} '${name}' of project '${projectDir}' is not a directory`,
        `remove '${name}'; it is recreated as a directory`,
        { path: cur },
      );
    }
  }
  const real = Deno.realPathSync(cur);
  const realProject = Deno.realPathSync(projectDir);
  if (!isInside(realProject, real)) {
    throw configError(
      `The ${what} '${
        relative(projectDir, cur)
      }' resolves to '${real}', outside the project '${realProject}'`,
      "keep the directory inside the project",
      { path: cur },
    );
  }
}

/** The adapter type (`duckdb`, `postgres`...) of the selected profile target. */
export function adapterType(p: ResolvedProject): string {
  const file = join(p.profilesDir, "profiles.yml");
  const profiles = readYaml(file, "profiles.yml");
  const profileName = String(p.project.profile ?? "");
  const profile = profiles[profileName] as Record<string, unknown> | undefined;
  if (!profile || typeof profile !== "object") {
    throw configError(
      `Profile '${profileName}' (named in dbt_project.yml) is not in '${file}'`,
      `add a '${profileName}:' entry to profiles.yml or fix 'profile:' in dbt_project.yml`,
    );
  }
  const target = p.target ?? String(profile.target ?? "");
  const outputs = (profile.outputs ?? {}) as Record<string, unknown>;
  const output = outputs[target] as Record<string, unknown> | undefined;
  if (!output || typeof output !== "object") {
    throw configError(
      `Target '${target}' is not an output of profile '${profileName}' in '${file}'`,
      `use one of: ${Object.keys(outputs).join(", ") || "(none defined)"}`,
    );
  }
  if (typeof output.type !== "string" || !output.type) {
    throw configError(
      `Target '${target}' of profile '${profileName}' in '${file}' has no 'type'`,
      "set type: to the adapter, e.g. duckdb",
    );
  }
  return output.type;
}
