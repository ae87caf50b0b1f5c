/**
 * `floe-dbt config validate [FILE]` and `floe-dbt config schema`.
 *
 * validate loads the file (a syntax or schema error is thrown as usual),
 * then reports what would stop a run on this machine: a pinned dbt-core or
 * Python version that is not installed, secret references that resolve
 * nowhere (names only, never values), a cloud runtime without base_url;
 * and the warnings (deprecated keys, unmet version ranges). Exit 2 when
 * anything but a warning was found.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadConfigFile } from "../config/config.ts";
import {
  compareLocalVersions,
  localPython,
  missingSecrets,
  probeInstalledVersions,
} from "../config/config_check.ts";
import { manifestJsonSchemaText } from "../config/config_schema.ts";
import { configError, ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import { DEFAULT_SECRETS_DIR } from "../config/secrets.ts";
import type { CliArgs } from "./args.ts";

/** Where the command writes. */
export interface ConfigIo {
  out(text: string): void;
  err(text: string): void;
}

const USAGE = "Usage: floe-dbt config validate [FILE] | floe-dbt config schema";

/** Run `config validate|schema`; returns the exit code. */
export async function configCommand(
  args: Pick<CliArgs, "positionals" | "json" | "config">,
  io: ConfigIo,
): Promise<number> {
  const [sub, ...rest] = args.positionals;
  if (sub === "schema" && rest.length === 0) {
    io.out(manifestJsonSchemaText());
    return 0;
  }
  if (sub !== "validate" || rest.length > 1) {
    throw new FloeDbtError(ERROR_CODES.usage, USAGE, {
      hint:
        "validate checks a manifest.yaml (default: --config or ./manifest.yaml); schema prints its JSON Schema",
    });
  }
  const file = rest[0] ?? args.config ??
    (existsSync("manifest.yaml") ? "manifest.yaml" : undefined);
  if (!file) {
    throw new FloeDbtError(ERROR_CODES.usage, USAGE, {
      hint: "name the manifest.yaml to check (there is none here)",
    });
  }
  const report = await validate(file);
  if (args.json) {
    io.out(JSON.stringify({
      ...report,
      errors: report.errors.map((e) => e.toJSON()),
    }));
  } else {
    io.out(
      report.valid
        ? `${file}: valid (dbt_runtime: ${report.dbt_runtime})`
        : `${file}: ${report.errors.length} problem(s) (dbt_runtime: ${report.dbt_runtime})`,
    );
    for (const w of report.warnings) io.out(`warning: ${w}`);
    for (const e of report.errors) io.out(e.toString());
  }
  return report.valid ? 0 : 2;
}

/** What validate found about one file. */
interface Report {
  valid: boolean;
  file: string;
  dbt_runtime: string;
  warnings: string[];
  errors: FloeDbtError[];
  missing_secrets: { ref: string; key: string; env: string }[];
}

async function validate(file: string): Promise<Report> {
  const { config, warnings } = await loadConfigFile(file);
  const errors: FloeDbtError[] = [];
  const plugins = config.plugins;
  const local = plugins.dbt_runtime_config.local;
  if (local?.dbt_version || local?.python_version) {
    const python = localPython(config);
    if (!python) {
      warnings.push(
        "no dbt-core Python found here: local.dbt_version and local.python_version were not compared (run scripts/setup or set local.python)",
      );
    } else {
      const found = compareLocalVersions(
        config,
        await probeInstalledVersions(python),
        python,
      );
      errors.push(...found.errors);
      warnings.push(...found.warnings);
    }
  }
  const cloud = plugins.dbt_runtime_config.cloud;
  if (cloud && !cloud.base_url) {
    const message =
      `plugins.dbt_runtime_config.cloud.base_url is missing in '${file}'`;
    const hint =
      "set base_url to your account's access URL (Account settings > Access URLs), e.g. https://ACCOUNT_PREFIX.us1.dbt.com";
    if (plugins.dbt_runtime === "cloud") {
      errors.push(configError(`${message}: the cloud runtime needs it`, hint));
    } else {
      warnings.push(
        `${message}: the cloud runtime cannot be used until it is set`,
      );
    }
  }
  const missing = await missingSecrets(config);
  const dir = Deno.env.get("FLOE_SECRETS_DIR") || DEFAULT_SECRETS_DIR;
  for (const m of missing) {
    errors.push(configError(
      `Secret reference '${m.ref}' (${m.key}) resolves nowhere: no file '${
        join(dir, m.ref)
      }' and no environment variable '${m.env}'`,
      `mount the secret as '${
        join(dir, m.ref)
      }' (or set FLOE_SECRETS_DIR) or set ${m.env}`,
    ));
  }
  return {
    valid: errors.length === 0,
    file,
    dbt_runtime: plugins.dbt_runtime,
    warnings,
    errors,
    missing_secrets: missing,
  };
}
