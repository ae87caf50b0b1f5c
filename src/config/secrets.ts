/**
 * Secret references: a config names a secret (`api_token_ref: NAME`), never
 * holds it. Resolved from `$FLOE_SECRETS_DIR/NAME` (default
 * `/var/run/secrets/floe`), then from `FLOE_SECRET_<NAME>`.
 *
 * Secrets given as environment variables do not stay in the agent's
 * environment: {@link sealSecretEnv} (run when the platform config is
 * loaded and when the daemon starts) moves every `FLOE_SECRET_*` and
 * `DBT_CLOUD_*TOKEN*` variable into memory and deletes it from the
 * environment, so nothing that reads the agent's environment later (a child
 * that inherits it, code that calls `Deno.env`) finds them. The kernel's copy
 * of the environment the process started with (`/proc/<pid>/environ`) is not
 * rewritten: that file is readable only by the agent's own user.
 *
 * @module
 */
import { join } from "node:path";
import { protectEnvName } from "../os/child_env.ts";
import { configError } from "../contract/errors.ts";

/** Secret variables taken out of the environment, by name. */
const held = new Map<string, string>();

/** Whether a variable is a secret the agent keeps in memory only. */
function sealedName(name: string): boolean {
  const upper = name.toUpperCase();
  return upper.startsWith("FLOE_SECRET_") || /^DBT_CLOUD_.*TOKEN/.test(upper);
}

/** Take one variable out of the environment into memory. */
function hold(name: string, value: string): void {
  held.set(name, value);
  protectEnvName(name);
  Deno.env.delete(name);
}

/**
 * Move every `FLOE_SECRET_*` and `DBT_CLOUD_*TOKEN*` variable from the
 * agent's environment into memory (see the module doc). Idempotent.
 */
export function sealSecretEnv(): void {
  for (const [name, value] of Object.entries(Deno.env.toObject())) {
    if (sealedName(name)) hold(name, value);
  }
}

/**
 * A secret variable's value: the environment's (set since the last seal, as
 * a rotation does) is taken into memory first, else the one held.
 */
export function secretEnvValue(name: string): string | undefined {
  const now = Deno.env.get(name);
  if (now !== undefined && sealedName(name)) hold(name, now);
  return now ?? held.get(name);
}

/** Default mount of a Kubernetes secret volume. */
export const DEFAULT_SECRETS_DIR = "/var/run/secrets/floe";

/** The environment variable a reference falls back to. */
export function secretEnvName(ref: string): string {
  return `FLOE_SECRET_${ref.toUpperCase().replace(/[-.]/g, "_")}`;
}

/** Resolve a secret reference to its value (never log the result). */
export async function resolveSecret(ref: string): Promise<string> {
  const dir = Deno.env.get("FLOE_SECRETS_DIR") || DEFAULT_SECRETS_DIR;
  const file = join(dir, ref);
  try {
    const value = (await Deno.readTextFile(file)).trim();
    if (value) return value;
  } catch {
    // fall through to the environment
  }
  const envName = secretEnvName(ref);
  // Whatever its name, a variable a secret came from never reaches dbt.
  protectEnvName(envName);
  const value = secretEnvValue(envName)?.trim();
  if (value) return value;
  throw configError(
    `Secret reference '${ref}' resolves nowhere: no file '${file}' and no environment variable '${envName}'`,
    `mount the secret as '${file}' (or set FLOE_SECRETS_DIR) or set ${envName}`,
  );
}
