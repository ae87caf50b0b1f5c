/**
 * The local artifact cache of the cloud runtime: `.floe/dbt-cloud-cache/{key}/`
 * with manifest.json, run_results.json, catalog.json and metadata.json.
 * An entry is trusted only when metadata.json lists the file and is younger
 * than the TTL; every file is written atomically (temp file + rename) and
 * metadata.json last, so a crash never leaves a half-written file a read trusts.
 *
 * @module
 */
import { isAbsolute, join } from "node:path";

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

/** The cache directory for a project (`cache_dir` may be absolute or relative). */
export function cacheDirFor(projectDir: string, cacheDir?: string): string {
  const dir = cacheDir ?? DEFAULT_CACHE_DIR;
  return isAbsolute(dir) ? dir : join(projectDir, dir);
}

/** Write a file atomically: a temp file beside it, then rename. */
export async function atomicWrite(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

const KEY = /^[A-Za-z0-9_-]+$/;

/** The cache of one directory with a TTL; `now` is injectable for tests. */
export class ArtifactCache {
  constructor(
    readonly dir: string,
    readonly ttlSeconds: number,
    readonly now: () => number = Date.now,
  ) {}

  #entry(key: string): string {
    if (!KEY.test(key)) throw new Error(`bad cache key '${key}'`);
    return join(this.dir, key);
  }

  /** The entry's metadata, or undefined when absent, unreadable or expired. */
  async fresh(key: string): Promise<CacheMetadata | undefined> {
    const meta = await readMeta(this.#entry(key));
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
      await Deno.stat(path);
      return path;
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
    await Deno.mkdir(dir, { recursive: true });
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

  /** Every entry, newest first. */
  async list(): Promise<CacheEntry[]> {
    const out: CacheEntry[] = [];
    try {
      for await (const e of Deno.readDir(this.dir)) {
        if (!e.isDirectory) continue;
        const dir = join(this.dir, e.name);
        const metadata = await readMeta(dir) ?? null;
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
    for (const e of await this.list()) {
      if (!e.expired) continue;
      await Deno.remove(e.dir, { recursive: true });
      removed.push(e.key);
    }
    return removed;
  }

  /** Remove every entry; returns how many. */
  async clear(): Promise<number> {
    const entries = await this.list();
    for (const e of entries) await Deno.remove(e.dir, { recursive: true });
    return entries.length;
  }
}

async function readMeta(dir: string): Promise<CacheMetadata | undefined> {
  try {
    const m = JSON.parse(await Deno.readTextFile(join(dir, "metadata.json")));
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
    if (e.isFile) n += (await Deno.stat(join(dir, e.name))).size;
  }
  return n;
}
