/**
 * Checks and facts about a dbt project on disk: that the directories exist,
 * where its target directory is, which adapter type a profile target uses.
 *
 * @module
 */
import { isAbsolute, join, resolve } from "node:path";
import { parse } from "yaml";
import { configError } from "./errors.ts";
import type { ProjectRef } from "./runtime.ts";

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
  return { projectDir, profilesDir, target: ref.target, project };
}

/** The project's target directory (dbt_project.yml `target-path`, env override). */
export function targetDir(p: ResolvedProject): string {
  const fromEnv = Deno.env.get("DBT_TARGET_PATH");
  const raw = fromEnv ??
    (typeof p.project["target-path"] === "string"
      ? p.project["target-path"] as string
      : "target");
  return isAbsolute(raw) ? raw : join(p.projectDir, raw);
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
