/**
 * Secret references: a config names a secret (`api_token_ref: NAME`), never
 * holds it. Resolved from `$FLOE_SECRETS_DIR/NAME` (default
 * `/var/run/secrets/floe`), then from `FLOE_SECRET_<NAME>`.
 *
 * @module
 */
import { join } from "node:path";
import { protectEnvName } from "./child_env.ts";
import { configError } from "./errors.ts";

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
  const value = Deno.env.get(envName)?.trim();
  if (value) return value;
  throw configError(
    `Secret reference '${ref}' resolves nowhere: no file '${file}' and no environment variable '${envName}'`,
    `mount the secret as '${file}' (or set FLOE_SECRETS_DIR) or set ${envName}`,
  );
}
