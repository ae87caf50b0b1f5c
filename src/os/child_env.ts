/**
 * The environment every dbt child gets (the dbt-core worker, SQLFluff, dbt
 * Fusion): the agent's own environment minus its secrets. dbt renders
 * `{{ env_var('...') }}` from project files, so anything left in the
 * environment is readable by any project the agent runs. Scrubbed by
 * denylist, so PATH, HOME, DBT_* and the variables a profiles.yml reads stay:
 *
 * - `FLOE_SECRET_*` (secret references fall back to these) and
 *   `FLOE_SECRETS_DIR` (where the secret files are mounted);
 * - `FLOE_DBT_TOKEN` (the daemon's bearer token for its clients);
 * - `DBT_CLOUD_*TOKEN*` (dbt Cloud API tokens);
 * - every name registered with {@link protectEnvName} (the exact variables
 *   the agent resolved a secret from).
 *
 * Deno.Command inherits the parent environment unless `clearEnv` is set, so
 * spawns pass `{ clearEnv: true, env: childEnv(...) }`.
 *
 * @module
 */

const registered = new Set<string>();

/** Keep a variable out of every child from now on (e.g. a resolved token's). */
export function protectEnvName(name: string): void {
  registered.add(name);
}

/** Whether a variable holds an agent secret and must not reach dbt. */
export function isSecretEnvName(name: string): boolean {
  const upper = name.toUpperCase();
  return upper.startsWith("FLOE_SECRET_") ||
    upper === "FLOE_SECRETS_DIR" ||
    upper === "FLOE_DBT_TOKEN" ||
    /^DBT_CLOUD_.*TOKEN/.test(upper) ||
    registered.has(name);
}

/**
 * The environment for a dbt child: `base` (default: the agent's own
 * environment) without secrets, then `overrides` on top.
 */
export function childEnv(
  overrides: Readonly<Record<string, string>> = {},
  base: Readonly<Record<string, string>> = Deno.env.toObject(),
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) {
    if (!isSecretEnvName(k)) env[k] = v;
  }
  for (const [k, v] of Object.entries(overrides)) {
    if (!isSecretEnvName(k)) env[k] = v;
  }
  return env;
}
