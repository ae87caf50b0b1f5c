/**
 * The daemon's generated token: with no `--token-file`/`--token-ref`, serve
 * creates 32 random bytes (hex) in `<state-dir>/token`, mode 0600, atomically
 * (a private temp file hard-linked into place, so two daemons never clobber
 * each other), and reuses it across restarts. CLI clients on the same
 * machine read it from there.
 *
 * @module
 */
import { join } from "node:path";
import { configError } from "../contract/errors.ts";

/** Where the generated token lives in a state directory. */
export function tokenPath(stateDir: string): string {
  return join(stateDir, "token");
}

/**
 * Read a token file that must be private: a regular file (not a link) of the
 * current user, not readable by group or others. Undefined when it is absent.
 */
export async function readPrivateToken(
  path: string,
): Promise<string | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw configError(
      `Cannot read the token file '${path}': ${(e as Error).message}`,
      "check the state directory's permissions",
    );
  }
  const remove = `remove '${path}' to have the daemon generate a new token`;
  if (info.isSymlink || !info.isFile) {
    throw configError(
      `The token file '${path}' is not a regular file (a link or a directory)`,
      remove,
    );
  }
  if (((info.mode ?? 0) & 0o077) !== 0) {
    throw configError(
      `The token file '${path}' is readable by other users (mode ${
        ((info.mode ?? 0) & 0o777).toString(8)
      })`,
      `run 'chmod 600 ${path}', or ${remove}`,
    );
  }
  const uid = Deno.uid();
  if (uid !== null && info.uid !== null && info.uid !== uid) {
    throw configError(
      `The token file '${path}' belongs to another user (uid ${info.uid})`,
      remove,
    );
  }
  const file = await Deno.open(path, { read: true });
  try {
    const opened = await file.stat();
    // The file we opened is the one we checked (not swapped in between).
    if (opened.ino !== info.ino || opened.dev !== info.dev) {
      throw configError(`The token file '${path}' changed while read`, remove);
    }
    const text = new TextDecoder().decode(
      await new Response(file.readable).arrayBuffer(),
    ).trim();
    if (text.length < 16) {
      throw configError(
        `The token file '${path}' holds fewer than 16 characters`,
        remove,
      );
    }
    return text;
  } finally {
    try {
      file.close();
    } catch {
      // closed by reading to the end
    }
  }
}

/** The token in `<state-dir>/token`, created on first use. */
export async function generatedToken(stateDir: string): Promise<string> {
  await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = tokenPath(stateDir);
  const existing = await readPrivateToken(path);
  if (existing !== undefined) return existing;
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0"))
    .join("");
  const tmp = join(stateDir, `.token.${Deno.pid}.${crypto.randomUUID()}.tmp`);
  const f = await Deno.open(tmp, {
    write: true,
    createNew: true,
    mode: 0o600,
  });
  try {
    await Deno.chmod(tmp, 0o600);
    await f.write(new TextEncoder().encode(token + "\n"));
    await f.sync();
  } finally {
    f.close();
  }
  try {
    // link(2) never replaces an existing file: a racing daemon's token wins.
    await Deno.link(tmp, path);
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  const saved = await readPrivateToken(path);
  if (saved === undefined) {
    throw configError(
      `The token file '${path}' vanished right after it was written`,
      "check that nothing else cleans the state directory",
    );
  }
  return saved;
}
