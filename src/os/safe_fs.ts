/**
 * File system access that never follows a link out of a project. Everything
 * the agent itself writes, reads or deletes inside a project (`.floe/`, the
 * lock file, Fusion call directories, the cloud cache, `target/` and `logs/`,
 * dbt's artifacts) goes through these helpers:
 *
 * - {@link ensureDirInside}: a real directory (no symbolic link on the way)
 *   whose real path lies inside the project, created component by component;
 * - {@link openRegularFile}, {@link readRegularText}, {@link streamRegularFile}:
 *   a regular file only (not a link, device or fifo), under a size cap;
 * - {@link openLockFile}: opened or created without following a link, and
 *   checked to be the very file that was inspected;
 * - {@link removeOwned}: deletes only names the agent creates, and a link
 *   itself rather than what it points at.
 *
 * Reading a project's model sources through links stays allowed (dbt does).
 *
 * @module
 */
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { configError, ERROR_CODES, FloeDbtError } from "../contract/errors.ts";

/** Default cap on one artifact file read by the agent (256 MiB). */
export const DEFAULT_MAX_ARTIFACT_BYTES = 256 * 1024 * 1024;

/** Environment variable that changes the artifact size cap (bytes). */
export const MAX_ARTIFACT_BYTES_ENV = "FLOE_DBT_MAX_ARTIFACT_BYTES";

/** The artifact size cap: FLOE_DBT_MAX_ARTIFACT_BYTES or 256 MiB. */
export function maxArtifactBytes(): number {
  const raw = Deno.env.get(MAX_ARTIFACT_BYTES_ENV);
  if (raw === undefined || raw === "") return DEFAULT_MAX_ARTIFACT_BYTES;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw configError(
      `${MAX_ARTIFACT_BYTES_ENV} must be a positive whole number of bytes (got '${raw}')`,
      `unset ${MAX_ARTIFACT_BYTES_ENV} for the default of ${DEFAULT_MAX_ARTIFACT_BYTES} bytes`,
    );
  }
  return n;
}

/** Whether `child` is `parent` or lies under it (lexically, both resolved). */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(resolve(parent), resolve(child));
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/** `path` relative to `root` when inside it, else the absolute path. */
export function shown(root: string | undefined, path: string): string {
  if (!root || !isInside(root, path)) return resolve(path);
  return relative(resolve(root), resolve(path)) || ".";
}

async function lstatOrUndefined(
  path: string,
): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

async function linkTarget(path: string): Promise<string> {
  try {
    return await Deno.readLink(path);
  } catch {
    return "?";
  }
}

/** E003: a symbolic link where the agent needs a real file or directory. */
export async function linkRefused(
  root: string | undefined,
  path: string,
  what: string,
): Promise<FloeDbtError> {
  const name = shown(root, path);
  return new FloeDbtError(
    ERROR_CODES.configuration,
    `${what} '${name}' is a symbolic link (to '${await linkTarget(
      path,
    )}'): floe-dbt does not follow links out of the project`,
    {
      hint:
        `remove the link '${name}'; floe-dbt and dbt recreate it as a real one`,
      details: { path: resolve(path) },
    },
  );
}

function notKind(
  root: string | undefined,
  path: string,
  what: string,
  kind: string,
): FloeDbtError {
  const name = shown(root, path);
  return new FloeDbtError(
    ERROR_CODES.configuration,
    `${what} '${name}' is not a ${kind}`,
    {
      hint: `remove '${name}'; floe-dbt recreates what it needs`,
      details: { path: resolve(path) },
    },
  );
}

/** The first symbolic link among the components of `path` below `root`. */
async function firstLinkBelow(
  root: string,
  path: string,
): Promise<string | undefined> {
  const rel = relative(resolve(root), resolve(path));
  let cur = resolve(root);
  for (const part of rel.split(sep).filter(Boolean)) {
    cur = join(cur, part);
    const st = await lstatOrUndefined(cur);
    if (!st) return undefined;
    if (st.isSymlink) return cur;
  }
  return undefined;
}

/** E003 unless `path` (existing) really lies inside `root`. */
async function assertRealInside(
  root: string,
  path: string,
  what: string,
): Promise<void> {
  const realRoot = await Deno.realPath(root);
  const real = await Deno.realPath(path);
  if (isInside(realRoot, real)) return;
  const link = await firstLinkBelow(root, path);
  if (link) throw await linkRefused(root, link, what);
  throw configError(
    `${what} '${
      shown(root, path)
    }' resolves to '${real}', outside the project '${realRoot}'`,
    "keep floe-dbt's files inside the project",
  );
}

/**
 * Make sure `dir` is a real directory inside `root`: every component below
 * `root` is created when missing (never through a link) and refused (E003)
 * when it is a symbolic link or not a directory. Returns `dir`, resolved.
 */
export async function ensureDirInside(
  root: string,
  dir: string,
  what = "directory",
): Promise<string> {
  if (!isInside(root, dir)) {
    throw configError(
      `${what} '${resolve(dir)}' is not inside the project '${resolve(root)}'`,
      "keep floe-dbt's files inside the project",
    );
  }
  const rel = relative(resolve(root), resolve(dir));
  let cur = resolve(root);
  for (const part of rel.split(sep).filter(Boolean)) {
    cur = join(cur, part);
    let st = await lstatOrUndefined(cur);
    if (!st) {
      try {
        await Deno.mkdir(cur);
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
      st = await Deno.lstat(cur);
    }
    if (st.isSymlink) throw await linkRefused(root, cur, what);
    if (!st.isDirectory) throw notKind(root, cur, what, "directory");
  }
  await assertRealInside(root, cur, what);
  return cur;
}

/**
 * Whether `dir` exists as a real directory inside `root` (false when
 * missing); E003 when it or a component on the way is a link or a file.
 */
export async function checkDirInside(
  root: string,
  dir: string,
  what = "directory",
): Promise<boolean> {
  const rel = relative(resolve(root), resolve(dir));
  let cur = resolve(root);
  for (const part of rel.split(sep).filter(Boolean)) {
    cur = join(cur, part);
    const st = await lstatOrUndefined(cur);
    if (!st) return false;
    if (st.isSymlink) throw await linkRefused(root, cur, what);
    if (!st.isDirectory) throw notKind(root, cur, what, "directory");
  }
  await assertRealInside(root, cur, what);
  return true;
}

/** Options of the regular-file readers. */
export interface ReadOptions {
  /** The project: a file lexically inside it must also really be inside it. */
  root?: string | undefined;
  /** Size cap in bytes; default {@link maxArtifactBytes}. */
  maxBytes?: number | undefined;
  /** What the file is, for messages ("artifact", "lock file"...). */
  what?: string | undefined;
}

function tooBig(
  root: string | undefined,
  path: string,
  what: string,
  size: number | string,
  max: number,
): FloeDbtError {
  return new FloeDbtError(
    ERROR_CODES.configuration,
    `${what} '${
      shown(root, path)
    }' is ${size} bytes, over the ${max}-byte limit`,
    {
      hint:
        `check what wrote it, or raise the limit with ${MAX_ARTIFACT_BYTES_ENV}`,
      details: { path: resolve(path), limit: max },
    },
  );
}

/**
 * Open `path` for reading only when it is a regular file (not a link,
 * device, fifo or directory), really inside `root` when lexically inside it,
 * and at most `maxBytes` long. A missing file throws Deno.errors.NotFound.
 */
export async function openRegularFile(
  path: string,
  options: ReadOptions = {},
): Promise<{ file: Deno.FsFile; size: number; max: number }> {
  const what = options.what ?? "file";
  const root = options.root;
  const max = options.maxBytes ?? maxArtifactBytes();
  const st = await Deno.lstat(path);
  if (st.isSymlink) throw await linkRefused(root, path, what);
  if (!st.isFile) throw notKind(root, path, what, "regular file");
  if (root && isInside(root, path)) {
    await assertRealInside(root, dirname(path), what);
  }
  if (st.size > max) throw tooBig(root, path, what, st.size, max);
  const file = await Deno.open(path, { read: true });
  try {
    const opened = await file.stat();
    if (!opened.isFile || opened.dev !== st.dev || opened.ino !== st.ino) {
      throw configError(
        `${what} '${shown(root, path)}' was replaced while floe-dbt opened it`,
        "run the command again; if it repeats, check what else writes there",
      );
    }
    if (opened.size > max) throw tooBig(root, path, what, opened.size, max);
    return { file, size: opened.size, max };
  } catch (e) {
    file.close();
    throw e;
  }
}

/** Read a regular file (see {@link openRegularFile}) as UTF-8 text. */
export async function readRegularText(
  path: string,
  options: ReadOptions = {},
): Promise<string> {
  const { file, size, max } = await openRegularFile(path, options);
  try {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const buf = new Uint8Array(Math.min(Math.max(size, 1), 1 << 20) + 1);
    while (true) {
      const n = await file.read(buf);
      if (n === null) break;
      total += n;
      if (total > max) {
        throw tooBig(
          options.root,
          path,
          options.what ?? "file",
          `more than ${max}`,
          max,
        );
      }
      chunks.push(buf.slice(0, n));
    }
    return decodeChunks(chunks);
  } finally {
    file.close();
  }
}

/** Byte chunks read one after the other, as one UTF-8 text. */
export function decodeChunks(chunks: readonly Uint8Array[]): string {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

/**
 * A regular file (see {@link openRegularFile}) as a byte stream that stops
 * with an error if the file grows past the cap while being read.
 */
export async function streamRegularFile(
  path: string,
  options: ReadOptions = {},
): Promise<{ stream: ReadableStream<Uint8Array>; size: number }> {
  const { file, size, max } = await openRegularFile(path, options);
  let total = 0;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    file.close();
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buf = new Uint8Array(64 * 1024);
      let n: number | null;
      try {
        n = await file.read(buf);
      } catch (e) {
        close();
        throw e;
      }
      if (n === null) {
        close();
        controller.close();
        return;
      }
      total += n;
      if (total > max) {
        close();
        controller.error(
          tooBig(
            options.root,
            path,
            options.what ?? "file",
            `more than ${max}`,
            max,
          ),
        );
        return;
      }
      controller.enqueue(buf.subarray(0, n));
    },
    cancel() {
      close();
    },
  });
  return { stream, size };
}

/**
 * Open (or create) a lock file for reading and writing without following a
 * link and without truncating it: a link or a non-regular file is E003, and
 * the opened file must be the one inspected (same device and inode).
 */
export async function openLockFile(
  path: string,
  root?: string,
): Promise<Deno.FsFile> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const st = await lstatOrUndefined(path);
    if (!st) {
      try {
        // O_CREAT|O_EXCL never follows a link: a link planted here fails.
        return await Deno.open(path, {
          read: true,
          write: true,
          createNew: true,
          mode: 0o600,
        });
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists) continue;
        throw e;
      }
    }
    if (st.isSymlink) throw await linkRefused(root, path, "lock file");
    if (!st.isFile) throw notKind(root, path, "lock file", "regular file");
    const file = await Deno.open(path, {
      read: true,
      write: true,
      create: false,
      truncate: false,
    });
    const opened = await file.stat();
    if (opened.isFile && opened.dev === st.dev && opened.ino === st.ino) {
      return file;
    }
    file.close();
  }
  throw configError(
    `lock file '${shown(root, path)}' keeps changing while floe-dbt opens it`,
    "check what else writes into the project's .floe directory",
  );
}

/** Which directory a path is now (device and inode, links followed). */
export interface DirIdentity {
  dev: number;
  ino: number;
}

/** The identity of the directory `path` resolves to now. */
export async function dirIdentity(path: string): Promise<DirIdentity> {
  const st = await Deno.stat(path);
  return { dev: st.dev, ino: st.ino ?? 0 };
}

/**
 * The identity of `dir` taken between two checks that it is a real
 * directory inside `root` (see {@link checkDirInside}); undefined when it is
 * missing. Pass it to {@link removeOwned} so a folder swapped for a link
 * after the checks is not followed. (Without openat-style calls a narrow
 * window stays between the last look and the removal itself.)
 */
export async function checkedDirIdentity(
  root: string,
  dir: string,
  what = "directory",
): Promise<DirIdentity | undefined> {
  if (!(await checkDirInside(root, dir, what))) return undefined;
  const st = await Deno.lstat(dir);
  if (st.isSymlink) throw await linkRefused(root, dir, what);
  if (!(await checkDirInside(root, dir, what))) return undefined;
  const again = await dirIdentity(dir);
  if (again.dev !== st.dev || again.ino !== (st.ino ?? 0)) {
    throw configError(
      `${what} '${shown(root, dir)}' changed while floe-dbt checked it`,
      "run the command again; if it repeats, check what else writes there",
    );
  }
  return again;
}

/**
 * Remove `root/name` only when `name` matches `pattern` (a name the agent
 * creates). A link is removed itself, never what it points at; a directory
 * is removed without descending through links. With `rootWas` (taken when
 * `root` was checked), nothing is removed unless `root` still resolves to
 * that same directory: a folder swapped for a link after the check is not
 * followed. Returns whether it removed.
 */
export async function removeOwned(
  root: string,
  name: string,
  pattern: RegExp,
  rootWas?: DirIdentity,
): Promise<boolean> {
  if (!pattern.test(name) || name.includes("/") || name.includes(sep)) {
    return false;
  }
  if (rootWas) {
    const now = await dirIdentity(root).catch(() => undefined);
    if (!now || now.dev !== rootWas.dev || now.ino !== rootWas.ino) {
      return false;
    }
  }
  const path = join(root, name);
  const st = await lstatOrUndefined(path);
  if (!st) return false;
  if (st.isDirectory) {
    // Deno.remove (Rust remove_dir_all) does not follow links inside.
    await Deno.remove(path, { recursive: true });
  } else {
    await Deno.remove(path);
  }
  return true;
}
