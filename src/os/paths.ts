/**
 * Where the agent finds its tools (the dbt-core and Fusion virtual
 * environments made by scripts/setup) and keeps its cache.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fromFileUrl } from "./url.ts";

/** Directories searched for `.venv/` in order, without duplicates. */
export function agentHomes(): string[] {
  const homes: string[] = [];
  const env = Deno.env.get("FLOE_DBT_HOME");
  if (env) homes.push(resolve(env));
  const main = fromFileUrl(Deno.mainModule);
  if (main) homes.push(dirname(main), dirname(dirname(main)));
  homes.push(dirname(Deno.execPath()));
  homes.push(Deno.cwd());
  return [...new Set(homes)];
}

/** The first existing file among candidates, or undefined. */
export function firstExisting(candidates: string[]): string | undefined {
  for (const c of candidates) {
    try {
      if (Deno.statSync(c).isFile) return c;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** Candidates for a venv executable, e.g. `venvCandidates("dbt-core", "python")`. */
export function venvCandidates(venv: string, exe: string): string[] {
  return agentHomes().map((h) => join(h, ".venv", venv, "bin", exe));
}

/**
 * The dbt-core Python: the configured one (`dbt_runtime_config.local.python`),
 * else `FLOE_DBT_PYTHON`, else `.venv/dbt-core/bin/python` beside the agent.
 */
export function dbtCorePython(configured?: string): string | undefined {
  if (configured) return configured;
  const env = Deno.env.get("FLOE_DBT_PYTHON");
  if (env) return env;
  return firstExisting(venvCandidates("dbt-core", "python"));
}

/** The agent's cache directory (worker script, cloud artifacts by default). */
export function cacheDir(): string {
  const env = Deno.env.get("FLOE_DBT_CACHE_DIR");
  if (env) return resolve(env);
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "floe-dbt");
  const home = Deno.env.get("HOME");
  return home
    ? join(home, ".cache", "floe-dbt")
    : join(Deno.cwd(), ".floe", "cache");
}
