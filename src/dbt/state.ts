/**
 * The state floe-dbt keeps for a project: after every successful run, build
 * or compile, that call's manifest becomes the project's state for the
 * target (`.floe/state/<target>/manifest.json`, beside a `state.json` that
 * says which run it came from). `--changed` compares against it, and
 * `--state-from cloud` keeps the dbt Cloud job's manifest the same way in
 * `.floe/cloud_state/<target>/`. Writes are atomic (temp file + rename) and
 * never go through a link (src/os/safe_fs.ts).
 *
 * @module
 */
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import type { ResolvedProject } from "./project.ts";
import {
  ensureDirInside,
  isInside,
  openRegularFile,
  readRegularText,
} from "../os/safe_fs.ts";
import { writeAtomic } from "../os/atomic.ts";

/** Where a state came from. */
export const StateSourceSchema = z.enum(["kept", "dir", "cloud"]);
/** Where a state came from. */
export type StateSource = z.infer<typeof StateSourceSchema>;

/** `state.json`, written beside a kept manifest. */
export const StateInfoSchema = z.object({
  /** The dbt invocation id of the run (cloud: the dbt Cloud run id). */
  run_id: z.string().nullable(),
  /** dbt's invocation id from the manifest. */
  invocation_id: z.string().nullable(),
  /** The daemon job (or dbt Cloud job) that produced it, if any. */
  job_id: z.string().nullable(),
  /** The dbt command that produced it. */
  command: z.string().nullable(),
  /** When it was kept (ISO 8601). */
  kept_at: z.string(),
  dbt_version: z.string().nullable(),
  /** `local`, `fusion` or `cloud`. */
  runtime: z.string(),
});
/** `state.json`, written beside a kept manifest. */
export type StateInfo = z.infer<typeof StateInfoSchema>;

/** A state dbt can read with `--state`. */
export interface FoundState {
  /** The directory holding manifest.json (what dbt's `--state` takes). */
  dir: string;
  /** Its manifest.json. */
  manifestPath: string;
  /** Its state.json, when floe-dbt wrote one. */
  info: StateInfo | null;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * The profile target a call uses: the one given, else the profile's
 * `target:` in profiles.yml; `default` when that is not a plain name (a
 * Jinja expression, missing file).
 */
export function targetName(p: ResolvedProject): string {
  if (p.target) return p.target;
  try {
    const profiles = parseYaml(
      Deno.readTextFileSync(join(p.profilesDir, "profiles.yml")),
    ) as Record<string, { target?: unknown }>;
    const t = profiles?.[String(p.project.profile ?? "")]?.target;
    if (typeof t === "string" && NAME.test(t) && t.length <= 128) return t;
  } catch {
    // fall through: dbt itself reports a broken profiles.yml
  }
  return "default";
}

/** The kept state's directory for a target. */
export function keptStateDir(projectDir: string, target: string): string {
  return join(resolve(projectDir), ".floe", "state", target);
}

/** The directory `--state-from cloud` keeps dbt Cloud's manifest in. */
export function cloudStateDir(projectDir: string, target: string): string {
  return join(resolve(projectDir), ".floe", "cloud_state", target);
}

/** dbt's invocation id, read from the head of a manifest's text. */
export function invocationIdOf(manifestText: string): string | null {
  const head = manifestText.slice(0, 8192);
  const m = head.match(/"invocation_id"\s*:\s*"([^"]+)"/);
  return m ? m[1]! : null;
}

async function atomicWriteInside(
  dir: string,
  name: string,
  text: string,
): Promise<void> {
  await writeAtomic(join(dir, name), text);
}

/**
 * Write `manifestText` and its `state.json` into `dir` (inside `root`),
 * atomically: the manifest first, so a reader never pairs a new state.json
 * with an old manifest for long, and each file whole.
 */
export async function writeState(
  root: string,
  dir: string,
  manifestText: string,
  info: StateInfo,
): Promise<FoundState> {
  const real = await ensureDirInside(root, dir, "floe-dbt state directory");
  await atomicWriteInside(real, "manifest.json", manifestText);
  await atomicWriteInside(
    real,
    "state.json",
    JSON.stringify(StateInfoSchema.parse(info), null, 2) + "\n",
  );
  return { dir: real, manifestPath: join(real, "manifest.json"), info };
}

/** Keep the manifest at `manifestPath` as the project's state for its target. */
export async function keepState(
  project: ResolvedProject,
  manifestPath: string,
  meta: Omit<StateInfo, "run_id" | "invocation_id" | "kept_at">,
): Promise<FoundState> {
  const root = project.projectDir;
  const text = await readRegularText(manifestPath, {
    root,
    what: "manifest",
  });
  const invocation = invocationIdOf(text);
  return await writeState(
    root,
    keptStateDir(root, targetName(project)),
    text,
    {
      run_id: invocation,
      invocation_id: invocation,
      kept_at: new Date().toISOString(),
      ...meta,
    },
  );
}

/**
 * The state in `dir` when it holds a manifest.json (undefined when not);
 * inside the project, links are refused (E003).
 */
export async function readState(
  dir: string,
  root?: string,
): Promise<FoundState | undefined> {
  const full = resolve(dir);
  const within = root && isInside(root, full) ? root : undefined;
  const manifestPath = join(full, "manifest.json");
  try {
    const { file } = await openRegularFile(manifestPath, {
      root: within,
      what: "state manifest",
    });
    file.close();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  let info: StateInfo | null = null;
  try {
    const text = await readRegularText(join(full, "state.json"), {
      root: within,
      what: "state.json",
      maxBytes: 1024 * 1024,
    });
    const parsed = StateInfoSchema.safeParse(JSON.parse(text));
    info = parsed.success ? parsed.data : null;
  } catch (e) {
    if (e instanceof FloeDbtError) throw e;
    info = null; // missing or not JSON: a state dbt made, not floe-dbt
  }
  return { dir: full, manifestPath, info };
}

/**
 * A job's `state`: relative paths are the project's; a daemon job may only
 * name a state inside its project (E010 otherwise).
 */
export function jobStateDir(projectDir: string, state: string): string {
  const full = resolve(projectDir, state);
  if (!isInside(projectDir, full)) {
    throw new FloeDbtError(
      ERROR_CODES.usage,
      `state '${state}' is outside the project '${resolve(projectDir)}'`,
      {
        hint:
          "copy the state (its manifest.json) into the project, e.g. prod-state/, and name that",
        details: { state },
      },
    );
  }
  return full;
}

/** `--state DIR` that holds no manifest.json (E010, with the path). */
export function noManifestError(dir: string): FloeDbtError {
  return new FloeDbtError(
    ERROR_CODES.usage,
    `The state directory '${dir}' has no manifest.json`,
    {
      hint:
        "point --state at a directory holding a dbt manifest.json (e.g. a copy of a production run's target/)",
      details: { path: dir },
    },
  );
}
