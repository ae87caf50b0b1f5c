/**
 * The agent's own folders (the daemon's state directory, the cache with the
 * worker script): created 0700, and used only when they are the agent's. A
 * folder owned by another user, or writable by group or others, is refused
 * with E003: anyone who can write there could plant a journal entry (a job
 * that runs as the agent) or a Python module the worker imports.
 *
 * Files the agent writes into them are created 0600 ({@link PRIVATE_FILE}).
 *
 * @module
 */
import { configError, type FloeDbtError } from "../contract/errors.ts";

/** Mode of every folder the agent creates for itself. */
export const PRIVATE_DIR = 0o700;
/** Mode of every file the agent writes into its folders. */
export const PRIVATE_FILE = 0o600;

/** What a folder is for, in an error ("state directory", "cache directory"). */
export type DirRole = string;

function refusal(
  dir: string,
  role: DirRole,
  why: string,
  hint: string,
): FloeDbtError {
  return configError(
    `The ${role} '${dir}' ${why}: floe-dbt uses only a folder that no other user can write`,
    hint,
    { dir },
  );
}

/**
 * Why a folder may not be used (undefined when it may): not a folder, owned
 * by another user, or writable by group or others.
 */
export function untrusted(
  dir: string,
  role: DirRole,
  info: Deno.FileInfo,
): FloeDbtError | undefined {
  if (!info.isDirectory) {
    return refusal(
      dir,
      role,
      "is not a directory",
      `remove '${dir}' or choose another path`,
    );
  }
  const uid = Deno.uid();
  if (uid !== null && info.uid !== null && info.uid !== uid) {
    return refusal(
      dir,
      role,
      `belongs to another user (uid ${info.uid}, floe-dbt runs as uid ${uid})`,
      `run 'chown ${uid} ${dir} && chmod 700 ${dir}', or choose a folder of your own`,
    );
  }
  const mode = (info.mode ?? 0) & 0o777;
  if ((mode & 0o022) !== 0) {
    return refusal(
      dir,
      role,
      `is writable by ${
        (mode & 0o020) && (mode & 0o002)
          ? "group and others"
          : mode & 0o002
          ? "others"
          : "its group"
      } (mode ${mode.toString(8).padStart(3, "0")})`,
      `check that it holds nothing you did not put there, then run 'chmod 700 ${dir}'`,
    );
  }
  return undefined;
}

/**
 * Create the folder (0700) if it is missing and check that it is the
 * agent's (see the module doc); throws E003 otherwise. Returns its stat.
 */
export async function privateDir(
  dir: string,
  role: DirRole,
): Promise<Deno.FileInfo> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    await Deno.mkdir(dir, { recursive: true, mode: PRIVATE_DIR });
    // mkdir's mode passes through the umask: make the leaf exactly 0700.
    await Deno.chmod(dir, PRIVATE_DIR);
    info = await Deno.stat(dir);
  }
  const refused = untrusted(dir, role, info);
  if (refused) throw refused;
  return info;
}
