/**
 * What the daemon's operator allows a job, and the checks a job request
 * meets when it is submitted (400) and again right before it runs: its vars
 * are data (no Jinja delimiter unless `serve --allow-jinja-vars`), its
 * `state` lies inside the project, and its profiles.yml is the project's
 * own, the `profiles_dir` it names (inside the roots), or the operator's
 * `serve --profiles-dir`: never `~/.dbt` or the daemon's working directory.
 *
 * @module
 */
import { realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import type { RuntimeName } from "../config/config.ts";
import { checkVars } from "../dbt/dbt_options.ts";
import { configError } from "../contract/errors.ts";
import { isInside } from "../os/safe_fs.ts";
import { jobStateDir } from "../dbt/state.ts";
import type { JobRequest } from "./schemas.ts";

/** The operator's choices for the daemon's jobs (flags of `serve`). */
export interface JobPolicy {
  /**
   * `serve --allow-jinja-vars`: a job's vars may hold Jinja, which dbt
   * renders: job authors can run any SQL.
   */
  allowJinjaVars?: boolean | undefined;
  /** `serve --profiles-dir`: profiles.yml for projects without their own. */
  profilesDir?: string | undefined;
}

const NO_PROFILES_HINT =
  "add a profiles.yml to the project, send profiles_dir naming a directory under the project roots that holds one, or ask the operator to start serve with --profiles-dir DIR (a daemon job never reads ~/.dbt by itself)";

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The project's own profiles.yml, when it is a file inside the project. */
function ownProfiles(projectDir: string): boolean {
  const file = join(projectDir, "profiles.yml");
  if (!isFile(file)) return false;
  // A link out of the project (to ~/.dbt/profiles.yml, say) is not its own.
  if (!isInside(realpathSync(projectDir), realpathSync(file))) {
    throw configError(
      `The profiles.yml of the project '${projectDir}' is a link to a file outside the project`,
      "send profiles_dir naming the directory that holds it (under the project roots), or copy the file into the project",
    );
  }
  return true;
}

/**
 * The directory holding the job's profiles.yml: the request's
 * `profiles_dir`, else the project's own, else the operator's
 * `--profiles-dir`; E003 when there is none. A cloud job reads no profiles
 * (dbt Cloud keeps its own connections): its project directory stands in.
 */
export function jobProfilesDir(
  req: Pick<JobRequest, "project_dir" | "profiles_dir">,
  runtime: RuntimeName,
  policy: JobPolicy,
): string {
  if (req.profiles_dir !== undefined) return req.profiles_dir;
  if (runtime === "cloud") return req.project_dir;
  if (ownProfiles(req.project_dir)) return req.project_dir;
  if (policy.profilesDir !== undefined) return policy.profilesDir;
  throw configError(
    `The project '${req.project_dir}' has no profiles.yml and the request names no profiles_dir`,
    NO_PROFILES_HINT,
  );
}

/**
 * Check a confined job request against the policy: vars (E010 naming the
 * key), state inside the project (E010), a profiles.yml to use (E003).
 */
export function checkJobRequest(
  req: JobRequest,
  runtime: RuntimeName,
  policy: JobPolicy,
): void {
  if (req.vars !== undefined) {
    checkVars(req.vars, "vars", Boolean(policy.allowJinjaVars));
  }
  if (req.state !== undefined) jobStateDir(req.project_dir, req.state);
  jobProfilesDir(req, runtime, policy);
}

/**
 * Check the operator's `serve --profiles-dir`: a directory holding a
 * profiles.yml (E003 otherwise).
 */
export function checkOperatorProfilesDir(dir: string): string {
  if (!isFile(join(dir, "profiles.yml"))) {
    throw configError(
      `--profiles-dir '${dir}' holds no profiles.yml`,
      "pass serve --profiles-dir with the directory holding the profiles.yml jobs without their own may use",
    );
  }
  return dir;
}
