/**
 * Where a cloud run's artifacts go (the cache, or the project's `target/`
 * like a local dbt run when the cache is disabled: never a temp dir that
 * outlives the run), how a cached-or-fetched artifact is read, and the run
 * metadata of a result (never the token).
 *
 * @module
 */
import { join } from "node:path";
import { optionMetadata } from "../../src/dbt/dbt_options.ts";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import type { Selection } from "../../src/contract/runtime.ts";
import { ensureDirInside, readRegularText } from "../../src/os/safe_fs.ts";
import type { DbtCommand } from "../../src/contract/schemas.ts";
import {
  type ArtifactCache,
  atomicWrite,
  type CacheMetadata,
} from "./cache.ts";
import type { Run } from "./schemas.ts";

/** The artifacts a cloud run may leave. */
export const ARTIFACTS = [
  "run_results.json",
  "manifest.json",
  "catalog.json",
  "sources.json",
];

/**
 * Store artifacts in the cache, or (cache disabled) in `targetDir` of
 * `projectDir` (created inside the project, never through a link), where an
 * artifact this run did not produce (a stale catalog.json) is removed.
 */
export async function storeArtifacts(
  cache: ArtifactCache | undefined,
  key: string,
  files: Record<string, string>,
  meta: Omit<CacheMetadata, "cached_at" | "artifacts">,
  target: { projectDir: string; targetDir: string },
): Promise<string> {
  if (cache) return await cache.write(key, files, meta);
  const targetDir = await ensureDirInside(
    target.projectDir,
    target.targetDir,
    "target directory",
  );
  for (const name of ARTIFACTS) {
    const text = files[name];
    if (text !== undefined) await atomicWrite(join(targetDir, name), text);
    else await Deno.remove(join(targetDir, name)).catch(() => {});
  }
  return targetDir;
}

/**
 * A JSON artifact: from a fresh cache entry unless `refresh`, else fetched
 * (and written to the entry, so `--no-cache` refreshes it).
 */
export async function cachedArtifact(
  cache: ArtifactCache | undefined,
  key: string,
  name: string,
  meta: Omit<CacheMetadata, "cached_at" | "artifacts">,
  fetch: () => Promise<string | undefined>,
  refresh = false,
): Promise<Record<string, unknown>> {
  const cached = refresh ? undefined : await cache?.path(key, name);
  let text = cached
    ? await readRegularText(cached, {
      root: cache?.root,
      what: "cached artifact",
    })
    : undefined;
  if (text === undefined) {
    text = await fetch();
    if (text === undefined) {
      throw new FloeDbtError(
        ERROR_CODES.remoteApi,
        `dbt Cloud has no ${name} for ${
          meta.run_id ? `run ${meta.run_id}` : `job ${meta.job_id}`
        }`,
        {
          hint:
            "run the job once (with artifacts saved) so dbt Cloud keeps its artifacts",
        },
      );
    }
    if (cache) await cache.write(key, { [name]: text }, meta);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new FloeDbtError(
      ERROR_CODES.remoteApi,
      `dbt Cloud's ${name} is not valid JSON`,
      { hint: "clear the cache with 'floe-dbt cache clear' and retry" },
    );
  }
}

/** The metadata of a cloud run result. */
export function runMetadata(
  command: DbtCommand,
  run: Run,
  ids: { jobId: string; accountId: string },
  selection: Selection,
  steps: string[] | undefined,
  adopted: boolean,
  overrides: { target?: string; threads?: number } = {},
): Record<string, unknown> {
  return {
    runtime: "cloud",
    command,
    run_id: run.id,
    job_id: ids.jobId,
    account_id: ids.accountId,
    href: run.href ?? null,
    status: run.status,
    status_humanized: run.status_humanized ?? null,
    status_message: run.status_message ?? null,
    started_at: run.started_at ?? null,
    finished_at: run.finished_at ?? null,
    steps_override: steps ?? null,
    target_name_override: overrides.target ?? null,
    threads_override: overrides.threads ?? null,
    adopted_after_ambiguous_trigger: adopted,
    select: selection.select ?? [],
    exclude: selection.exclude ?? [],
    ...optionMetadata(command, selection, overrides),
  };
}
