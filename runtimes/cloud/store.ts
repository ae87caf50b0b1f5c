/**
 * Where a cloud run's artifacts go (the cache, or a temp dir when the cache
 * is bypassed), how a cached-or-fetched artifact is read, and the run
 * metadata of a result (never the token).
 *
 * @module
 */
import { join } from "node:path";
import { ERROR_CODES, FloeDbtError } from "../../src/errors.ts";
import type { Selection } from "../../src/runtime.ts";
import type { DbtCommand } from "../../src/schemas.ts";
import {
  type ArtifactCache,
  atomicWrite,
  type CacheMetadata,
} from "./cache.ts";
import type { Run } from "./schemas.ts";

/** Store artifacts in the cache, or (cache bypassed) in a fresh temp dir. */
export async function storeArtifacts(
  cache: ArtifactCache | undefined,
  key: string,
  files: Record<string, string>,
  meta: Omit<CacheMetadata, "cached_at" | "artifacts">,
): Promise<string> {
  if (cache) return await cache.write(key, files, meta);
  const dir = await Deno.makeTempDir({ prefix: `floe-dbt-cloud-${key}-` });
  for (const [n, t] of Object.entries(files)) {
    await atomicWrite(join(dir, n), t);
  }
  return dir;
}

/** A JSON artifact: from a fresh cache entry, else fetched (and cached). */
export async function cachedArtifact(
  cache: ArtifactCache | undefined,
  key: string,
  name: string,
  meta: Omit<CacheMetadata, "cached_at" | "artifacts">,
  fetch: () => Promise<string | undefined>,
): Promise<Record<string, unknown>> {
  const cached = await cache?.path(key, name);
  let text = cached ? await Deno.readTextFile(cached) : undefined;
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
    adopted_after_ambiguous_trigger: adopted,
    select: selection.select ?? [],
    exclude: selection.exclude ?? [],
    full_refresh: Boolean(selection.fullRefresh),
  };
}
