/**
 * The local artifact cache of the cloud runtime: `.floe/dbt-cloud-cache/{key}/`
 * with manifest.json, run_results.json, catalog.json and metadata.json.
 * An entry is trusted only when metadata.json lists the file and is younger
 * than the TTL; every file is written atomically (temp file + rename) and
 * metadata.json last, so a crash never leaves a half-written file a read trusts.
 *
 * A cache inside the project is confined to it: its directory and entries
 * must be real directories (a symbolic link is refused, E003), files are read
 * only as regular files, and `gc`/`clear` delete only entry names the runtime
 * creates (`<run id>` and `job-<job id>`), a link itself rather than its target.
 *
 * @module
 */
import { isAbsolute, join, resolve } from "node:path";
import {
  checkDirInside,
  checkedDirIdentity,
  type DirIdentity,
  dirIdentity,
  ensureDirInside,
  isInside,
  readRegularText,
  removeOwned,
} from "../../src/os/safe_fs.ts";
import { writeAtomic } from "../../src/os/atomic.ts";

/** The default cache directory, relative to the project directory. */
export const DEFAULT_CACHE_DIR = join(".floe", "dbt-cloud-cache");

/** metadata.json of one entry (never the token). */
export interface CacheMetadata {
  cached_at: string;
  run_id: string | null;
  account_id: string;
  job_id: string;
  artifacts: string[];
}

/** One entry as `cache ls` shows it. */
export interface CacheEntry {
  key: string;
  dir: string;
  metadata: CacheMetadata | null;
  age_seconds: number | null;
  expired: boolean;
  bytes: number;
}

/** Is the cache switched off by the environment (FLOE_DISABLE_CACHE=true)? */
export function cacheDisabledByEnv(): boolean {
  return Deno.env.get("FLOE_DISABLE_CACHE") === "true";
}

/** Project of each cache directory cacheDirFor placed inside a project. */
const projectOf = new Map<string, string>();

/** The cache directory for a project (`cache_dir` may be absolute or relative). */
export function cacheDirFor(projectDir: string, cacheDir?: string): string {
  const dir = cacheDir ?? DEFAULT_CACHE_DIR;
  const full = isAbsolute(dir) ? dir : join(projectDir, dir);
  if (isInside(projectDir, full)) projectOf.set(resolve(full), projectDir);
  return full;
}

/** Write a file atomically (src/os/atomic.ts), 0600. */
export function atomicWrite(path: string, text: string): Promise<void> {
  return writeAtomic(path, text);
}

const KEY = /^[A-Za-z0-9_-]+$/;
/** Entry names the cloud runtime creates: a run id, or `job-<job id>`. */
export const OWNED_KEY = /^(job-)?[0-9]+$/;
const WHAT = "dbt Cloud artifact cache";
const META_MAX_BYTES = 1024 * 1024;

/**
 * The cache of one directory with a TTL; `now` is injectable for tests.
 * `root` is the project the cache is confined to (by default the one
 * cacheDirFor placed it in; none for a directory outside every project).
 */
export class ArtifactCache {
  readonly root: string | undefined;

  constructor(
    readonly dir: string,
    readonly ttlSeconds: number,
    readonly now: () => number = Date.now,
    root?: string,
  ) {
    this.root = root ?? projectOf.get(resolve(dir));
  }

  /** Whether the cache directory exists (E003 when it is a link in a project). */
  /** The cache folder's identity, checked like #exists (undefined: none). */
  async #identity(): Promise<DirIdentity | undefined> {
    if (this.root && isInside(this.root, this.dir)) {
      return await checkedDirIdentity(this.root, this.dir, WHAT);
    }
    return await dirIdentity(this.dir).catch(() => undefined);
  }

  async #exists(): Promise<boolean> {
    if (this.root && isInside(this.root, this.dir)) {
      return await checkDirInside(this.root, this.dir, WHAT);
    }
    try {
      return (await Deno.stat(this.dir)).isDirectory;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }

  /** Create an entry directory (confined to the project when there is one). */
  async #makeEntry(dir: string): Promise<void> {
    if (this.root && isInside(this.root, dir)) {
      await ensureDirInside(this.root, dir, WHAT);
      return;
    }
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const st = await Deno.lstat(dir);
    if (st.isSymlink || !st.isDirectory) {
      throw new Error(`cache entry '${dir}' is not a real directory`);
    }
  }

  #entry(key: string): string {
    if (!KEY.test(key)) throw new Error(`bad cache key '${key}'`);
    return join(this.dir, key);
  }

  /** The entry's metadata, or undefined when absent, unreadable or expired. */
  async fresh(key: string): Promise<CacheMetadata | undefined> {
    const meta = await readMeta(this.#entry(key), this.root);
    if (!meta) return undefined;
    return this.#age(meta) > this.ttlSeconds ? undefined : meta;
  }

  #age(meta: CacheMetadata): number {
    return (this.now() - Date.parse(meta.cached_at)) / 1000;
  }

  /** The path of a cached artifact when the entry is fresh and lists it. */
  async path(key: string, name: string): Promise<string | undefined> {
    const meta = await this.fresh(key);
    if (!meta?.artifacts.includes(name)) return undefined;
    const path = join(this.#entry(key), name);
    try {
      const st = await Deno.lstat(path);
      return st.isFile ? path : undefined;
    } catch {
      return undefined;
    }
  }

  /** Store artifacts (name -> text) then metadata.json; returns the entry dir. */
  async write(
    key: string,
    files: Record<string, string>,
    meta: Omit<CacheMetadata, "cached_at" | "artifacts">,
  ): Promise<string> {
    const dir = this.#entry(key);
    await this.#makeEntry(dir);
    // Only a fresh entry's other artifacts stay listed: re-stamping cached_at
    // must never make an expired artifact look fresh again.
    const old = await this.fresh(key);
    for (const [name, text] of Object.entries(files)) {
      await atomicWrite(join(dir, name), text);
    }
    const artifacts = [
      ...new Set([...(old?.artifacts ?? []), ...Object.keys(files)]),
    ].sort();
    const full: CacheMetadata = {
      cached_at: new Date(this.now()).toISOString(),
      ...meta,
      artifacts,
    };
    await atomicWrite(
      join(dir, "metadata.json"),
      JSON.stringify(full, null, 2) + "\n",
    );
    return dir;
  }

  /** Every entry the runtime created (a linked one as broken), newest first. */
  async list(): Promise<CacheEntry[]> {
    const out: CacheEntry[] = [];
    if (!(await this.#exists())) return out;
    try {
      for await (const e of Deno.readDir(this.dir)) {
        if (!OWNED_KEY.test(e.name)) continue;
        const dir = join(this.dir, e.name);
        if (!e.isDirectory) {
          // A link (or file) under an entry name: broken, never followed.
          out.push({
            key: e.name,
            dir,
            metadata: null,
            age_seconds: null,
            expired: true,
            bytes: 0,
          });
          continue;
        }
        const metadata = await readMeta(dir, this.root) ?? null;
        const age = metadata ? this.#age(metadata) : null;
        out.push({
          key: e.name,
          dir,
          metadata,
          age_seconds: age === null ? null : Math.round(age),
          expired: age === null || age > this.ttlSeconds,
          bytes: await dirBytes(dir),
        });
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return out.sort((a, b) =>
      (a.age_seconds ?? 1e15) - (b.age_seconds ?? 1e15)
    );
  }

  /** Remove expired or broken entries (no metadata); returns their keys. */
  async gc(): Promise<string[]> {
    const removed: string[] = [];
    const was = await this.#identity();
    const entries = await this.list();
    for (const e of entries) {
      if (!e.expired || !was) continue;
      if (await removeOwned(this.dir, e.key, OWNED_KEY, was)) {
        removed.push(e.key);
      }
    }
    return removed;
  }

  /** Remove every entry; returns how many. */
  async clear(): Promise<number> {
    let n = 0;
    const was = await this.#identity();
    const entries = await this.list();
    for (const e of entries) {
      if (was && await removeOwned(this.dir, e.key, OWNED_KEY, was)) n++;
    }
    return n;
  }
}

async function readMeta(
  dir: string,
  root?: string,
): Promise<CacheMetadata | undefined> {
  try {
    const m = JSON.parse(
      await readRegularText(join(dir, "metadata.json"), {
        root,
        maxBytes: META_MAX_BYTES,
        what: "cache metadata",
      }),
    );
    if (typeof m?.cached_at !== "string" || !Array.isArray(m.artifacts)) {
      return undefined;
    }
    return m as CacheMetadata;
  } catch {
    return undefined;
  }
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) n += (await Deno.lstat(join(dir, e.name))).size;
  }
  return n;
}
