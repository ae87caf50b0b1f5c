/**
 * Checks of a loaded manifest.yaml against this machine: the installed
 * dbt-core and Python versions (`local.dbt_version`, `local.python_version`)
 * and whether every secret reference resolves. `config validate` runs them
 * all; the CLI runs the version check when the local runtime is used.
 *
 * @module
 */
import { dbtCorePython } from "../os/paths.ts";
import { configFile, type PlatformConfig } from "./config.ts";
import { configError, FloeDbtError } from "../contract/errors.ts";
import { resolveSecret, secretEnvName } from "./secrets.ts";
import { probePython } from "../os/spawn.ts";
import { checkSpec } from "./version_spec.ts";

/** What a dbt-core environment has installed (null when unknown). */
export interface InstalledVersions {
  dbt_version: string | null;
  python_version: string | null;
}

/** What the checks found: errors stop a run, warnings are printed. */
export interface CheckFindings {
  errors: FloeDbtError[];
  warnings: string[];
}

const PROBE = "import json, sys\n" +
  "try:\n" +
  "    from importlib.metadata import version\n" +
  "    dbt = version('dbt-core')\n" +
  "except Exception:\n" +
  "    dbt = None\n" +
  "print(json.dumps({'dbt_version': dbt, 'python_version': sys.version.split()[0]}))\n";

/** Ask a Python which dbt-core and Python versions it has. */
export async function probeInstalledVersions(
  python: string,
): Promise<InstalledVersions> {
  try {
    const out = await probePython(python, PROBE, 30_000);
    if (!out.success) return { dbt_version: null, python_version: null };
    const v = JSON.parse(out.stdout);
    return { dbt_version: v.dbt_version, python_version: v.python_version };
  } catch {
    return { dbt_version: null, python_version: null };
  }
}

/**
 * Compare `local.dbt_version` / `local.python_version` with what is
 * installed: an unmet pin is an E003 naming both versions, an unmet range a
 * warning. A version that could not be found is an error for a pin.
 */
export function compareLocalVersions(
  config: PlatformConfig,
  installed: InstalledVersions,
  python: string,
): CheckFindings {
  const local = config.plugins.dbt_runtime_config.local;
  const file = configFile(config) ?? "manifest.yaml";
  const findings: CheckFindings = { errors: [], warnings: [] };
  const items = [
    {
      key: "dbt_version",
      what: "dbt-core",
      spec: local?.dbt_version,
      have: installed.dbt_version,
      fix: (s: string) => `install dbt-core${pipSpec(s)} into that environment`,
    },
    {
      key: "python_version",
      what: "Python",
      spec: local?.python_version,
      have: installed.python_version,
      fix: (s: string) => `recreate the environment with Python ${s}`,
    },
  ];
  for (const { key, what, spec, have, fix } of items) {
    if (spec === undefined) continue;
    const where = `plugins.dbt_runtime_config.local.${key} in '${file}'`;
    if (have === null) {
      findings.errors.push(configError(
        `${what} is not installed in '${python}', but ${where} asks for ${spec}`,
        `${fix(spec)} (scripts/setup), or set dbt_runtime_config.local.python`,
      ));
      continue;
    }
    const { kind, satisfied } = checkSpec(spec, have);
    if (satisfied) continue;
    if (kind === "range") {
      findings.warnings.push(
        `${what} ${have} (in '${python}') is outside ${where}: '${spec}'`,
      );
    } else {
      findings.errors.push(configError(
        `${what} ${have} is installed (in '${python}'), but ${where} pins ${spec}`,
        `${
          fix(spec)
        }, or set ${key} to '${have}' (a range such as '>=${spec}' only warns)`,
        { key: `plugins.dbt_runtime_config.local.${key}`, file },
      ));
    }
  }
  return findings;
}

function pipSpec(spec: string): string {
  return /^\d/.test(spec.trim()) ? `==${spec.trim()}` : ` '${spec}'`;
}

/** The Python the local runtime would use, or undefined when none is found. */
export function localPython(config: PlatformConfig): string | undefined {
  return dbtCorePython(config.plugins.dbt_runtime_config.local?.python);
}

/**
 * The version check for a run on the local runtime: throws the first
 * mismatch (E003), returns the warnings. Nothing to do (and no process
 * started) when the config names no version or no Python is found (the
 * runtime reports that itself).
 */
export async function checkLocalVersions(
  config: PlatformConfig,
): Promise<string[]> {
  const local = config.plugins.dbt_runtime_config.local;
  if (!local?.dbt_version && !local?.python_version) return [];
  const python = localPython(config);
  if (!python) return [];
  const found = compareLocalVersions(
    config,
    await probeInstalledVersions(python),
    python,
  );
  if (found.errors.length > 0) throw found.errors[0];
  return found.warnings;
}

/** One secret reference of the config: the key holding it and the name. */
export interface SecretRefUse {
  key: string;
  ref: string;
}

/** Every secret reference in the config (every `*_ref` string value). */
export function secretReferences(config: PlatformConfig): SecretRefUse[] {
  const found: SecretRefUse[] = [];
  const walk = (value: unknown, path: string[]) => {
    if (value === null || typeof value !== "object") return;
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === "string" && k.endsWith("_ref")) {
        found.push({ key: [...path, k].join("."), ref: v });
      } else walk(v, [...path, k]);
    }
  };
  walk(config, []);
  return found;
}

/** A reference that resolves nowhere, with where it was looked for. */
export interface MissingSecret extends SecretRefUse {
  /** The environment variable that would satisfy it. */
  env: string;
}

/** The secret references that resolve nowhere (names only, never values). */
export async function missingSecrets(
  config: PlatformConfig,
): Promise<MissingSecret[]> {
  const missing: MissingSecret[] = [];
  for (const use of secretReferences(config)) {
    try {
      await resolveSecret(use.ref);
    } catch (e) {
      if (!(e instanceof FloeDbtError)) throw e;
      missing.push({ ...use, env: secretEnvName(use.ref) });
    }
  }
  return missing;
}
