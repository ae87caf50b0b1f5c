/**
 * `floe-dbt cache ls|gc|clear`: inspect and prune the cloud runtime's local
 * artifact cache (`.floe/dbt-cloud-cache/` under the project, or cache_dir).
 *
 * @module
 */
import { ArtifactCache, cacheDirFor } from "../../runtimes/cloud/mod.ts";
import type { PlatformConfig } from "../config/config.ts";
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import type { CliArgs } from "./args.ts";

/** Where the command writes. */
export interface CacheIo {
  out(text: string): void;
  err(text: string): void;
}

/** Run `cache ls|gc|clear`; returns the exit code. */
export async function cacheCommand(
  args: Pick<CliArgs, "positionals" | "projectDir" | "json">,
  config: PlatformConfig,
  io: CacheIo,
): Promise<number> {
  const sub = args.positionals[0];
  if (
    args.positionals.length !== 1 || !["ls", "gc", "clear"].includes(sub!)
  ) {
    throw new FloeDbtError(
      ERROR_CODES.usage,
      `Usage: floe-dbt cache ls|gc|clear (got '${args.positionals.join(" ")}')`,
      { hint: "ls lists entries, gc removes expired ones, clear removes all" },
    );
  }
  const cloud = config.plugins.dbt_runtime_config.cloud;
  const cache = new ArtifactCache(
    cacheDirFor(args.projectDir, cloud?.cache_dir),
    cloud?.cache_ttl_seconds ?? 86400,
  );
  if (sub === "ls") {
    const entries = await cache.list();
    if (args.json) {
      io.out(JSON.stringify({ dir: cache.dir, entries }));
    } else if (entries.length === 0) {
      io.out(`${cache.dir}: empty`);
    } else {
      for (const e of entries) {
        io.out(
          `${e.key.padEnd(22)} ${e.expired ? "expired" : "fresh  "} ${
            String(e.age_seconds ?? "?").padStart(8)
          } s  ${String(e.bytes).padStart(10)} B  ${
            e.metadata?.artifacts.join(",") ?? "(no metadata)"
          }`,
        );
      }
    }
    return 0;
  }
  const removed = sub === "gc" ? await cache.gc() : await cache.clear();
  const count = Array.isArray(removed) ? removed.length : removed;
  io.out(
    args.json
      ? JSON.stringify({ dir: cache.dir, removed: count })
      : `${cache.dir}: removed ${count} entr${count === 1 ? "y" : "ies"}`,
  );
  return 0;
}
