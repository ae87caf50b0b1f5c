/**
 * Each job's own artifacts: when a job finishes, the daemon keeps that run's
 * `manifest.json`, `run_results.json`, `catalog.json` (when produced) and a
 * `dbt.log` excerpt under `<state-dir>/artifacts/<job-id>/`, so the next job
 * on the same project cannot overwrite what an earlier job reported.
 *
 * Files in the agent's own per-call folders (`.floe/`, never rewritten) are
 * hard-linked; files in a project's shared `target/` are copied, because dbt
 * rewrites them in place (a hard link would change with the next run).
 *
 * @module
 */
import { basename, join, sep } from "node:path";
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import { openRegularFile, streamRegularFile } from "../os/safe_fs.ts";
import type {
  LintResult,
  ProgressEvent,
  RunResult,
} from "../contract/schemas.ts";

/** Artifact names a job can have, by the name a caller asks for. */
export const ARTIFACT_FILES = {
  manifest: "manifest.json",
  run_results: "run_results.json",
  catalog: "catalog.json",
  dbt_log: "dbt.log",
} as const;
/** An artifact name (`manifest`, `run_results`, `catalog`, `dbt_log`). */
export type ArtifactName = keyof typeof ARTIFACT_FILES;

const RESULT_FIELDS = {
  manifest: "manifest_path",
  run_results: "run_results_path",
  catalog: "catalog_path",
} as const;

/** Job ids the store accepts as folder names (no dots, no separators). */
const JOB_ID = /^[A-Za-z0-9_-]{1,100}$/;

/**
 * The artifact name for a caller's spelling: `run_results` or
 * `run_results.json`, `dbt_log` or `dbt.log`; undefined when unknown.
 */
export function artifactName(given: string): ArtifactName | undefined {
  for (const [name, file] of Object.entries(ARTIFACT_FILES)) {
    if (given === name || given === file) return name as ArtifactName;
  }
  return undefined;
}

/** One line of the dbt log excerpt for a progress event. */
function logLine(e: ProgressEvent): string | undefined {
  switch (e.type) {
    case "node_started":
      return `${e.ts} [info ] ${e.resource_type} ${e.unique_id} started`;
    case "node_finished":
      return `${e.ts} [info ] ${e.resource_type} ${e.unique_id} ${e.status}${
        e.execution_time === null ? "" : ` in ${e.execution_time.toFixed(2)}s`
      }${e.message ? `: ${e.message}` : ""}`;
    case "log":
      return `${e.ts} [${e.level.padEnd(5)}] ${e.message}`;
    default:
      return undefined;
  }
}

/** Keeps, finds and prunes jobs' artifact folders under one root. */
export class ArtifactStore {
  readonly root: string;

  /** `root` is `<state-dir>/artifacts`. */
  constructor(root: string) {
    this.root = root;
  }

  #dir(jobId: string): string {
    if (!JOB_ID.test(jobId)) {
      throw new FloeDbtError(ERROR_CODES.notFound, `No job '${jobId}'`);
    }
    return join(this.root, jobId);
  }

  /**
   * Keep a finished job's artifacts; returns the result with its paths
   * pointing into the job's folder (a lint result is returned as it is).
   */
  async keep(
    jobId: string,
    result: RunResult | LintResult,
    events:
      | Iterable<ProgressEvent>
      | AsyncIterable<ProgressEvent | [number, ProgressEvent]>,
    projectDir?: string,
  ): Promise<RunResult | LintResult> {
    const dir = this.#dir(jobId);
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    // Streamed line by line: a job's events may be many (see event_log.ts).
    const log = await Deno.open(join(dir, ARTIFACT_FILES.dbt_log), {
      write: true,
      create: true,
      truncate: true,
      mode: 0o600,
    });
    const writer = log.writable.getWriter();
    const enc = new TextEncoder();
    try {
      for await (const item of events) {
        const line = logLine(Array.isArray(item) ? item[1] : item);
        if (line !== undefined) await writer.write(enc.encode(line + "\n"));
      }
    } finally {
      await writer.close().catch(() => {});
    }
    if (!("manifest_path" in result)) return result;
    const kept: RunResult = structuredClone(result);
    for (const [name, field] of Object.entries(RESULT_FIELDS)) {
      const source = result[field as keyof typeof result] as string | null;
      if (typeof source !== "string") continue;
      const dest = join(dir, ARTIFACT_FILES[name as ArtifactName]);
      if (await this.#keepFile(source, dest, projectDir)) {
        (kept as Record<string, unknown>)[field] = dest;
      } else if (field === "catalog_path") kept.catalog_path = null;
    }
    return kept;
  }

  /**
   * Copy (or link) one regular file: never a link, a device or a file over
   * the size cap, and really inside the project; false when it is not there.
   */
  async #keepFile(
    source: string,
    dest: string,
    projectDir: string | undefined,
  ): Promise<boolean> {
    const options = {
      ...(projectDir ? { root: projectDir } : {}),
      what: "artifact",
    };
    await Deno.remove(dest).catch(() => {});
    if (source.includes(`${sep}.floe${sep}`)) {
      let opened: Awaited<ReturnType<typeof openRegularFile>>;
      try {
        opened = await openRegularFile(source, options);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return false;
        throw e;
      }
      opened.file.close();
      try {
        await Deno.link(source, dest);
        return true;
      } catch {
        // another file system: copy below
      }
    }
    // Copied through the capped stream: a file that grows past the cap while
    // it is copied stops the copy (and leaves no partial file).
    let stream: ReadableStream<Uint8Array>;
    try {
      ({ stream } = await streamRegularFile(source, options));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
    let out: Deno.FsFile;
    try {
      out = await Deno.open(dest, {
        write: true,
        createNew: true,
        mode: 0o600,
      });
    } catch (e) {
      await stream.cancel(); // closes the source
      throw e;
    }
    try {
      await stream.pipeTo(out.writable);
    } catch (e) {
      await Deno.remove(dest).catch(() => {});
      throw e;
    }
    return true;
  }

  /**
   * Where a job's artifact is: `{path}` when kept, `{pruned: true}` when the
   * job's folder was removed, `{missing: true}` when the job never had it.
   */
  async find(
    jobId: string,
    name: ArtifactName,
  ): Promise<{ path: string } | { pruned: true } | { missing: true }> {
    const dir = this.#dir(jobId);
    try {
      const d = await Deno.lstat(dir);
      if (!d.isDirectory) return { pruned: true };
    } catch {
      return { pruned: true };
    }
    const path = join(dir, ARTIFACT_FILES[name]);
    try {
      const f = await Deno.lstat(path);
      return f.isFile ? { path } : { missing: true };
    } catch {
      return { missing: true };
    }
  }

  /** Remove the folders of jobs not in `keep` (only names the store made). */
  async prune(keep: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(this.root));
    } catch {
      return removed;
    }
    for (const e of entries) {
      if (!JOB_ID.test(e.name) || keep.has(e.name)) continue;
      const path = join(this.root, e.name);
      // A link is removed itself, never followed.
      await Deno.remove(path, { recursive: e.isDirectory && !e.isSymlink })
        .catch(() => {});
      removed.push(basename(path));
    }
    return removed;
  }
}
