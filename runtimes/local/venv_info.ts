/**
 * What is installed in the dbt-core virtual environment, read from disk
 * without starting Python: the Python version from `pyvenv.cfg` and package
 * versions from the `*.dist-info` directory names in site-packages. It lets
 * `getRuntimeMetadata()` name dbt and Python before the first call.
 *
 * @module
 */
import { dirname, join } from "node:path";

/** Versions found in a virtual environment (null when not found). */
export interface VenvVersions {
  /** dbt-core's version, e.g. `1.11.16`. */
  dbt_version: string | null;
  /** The venv's Python version, e.g. `3.11.7`. */
  python_version: string | null;
  /** Versions of dbt adapters and SQLFluff by distribution name. */
  packages: Record<string, string>;
}

/** Distributions reported besides dbt-core (as the worker reports them). */
const REPORTED = ["dbt-duckdb", "dbt-postgres", "sqlfluff"];

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

function listDir(path: string): string[] {
  try {
    return [...Deno.readDirSync(path)].map((e) => e.name);
  } catch {
    return [];
  }
}

/** `version = 3.11.7` (venv) or `version_info = 3.11.7` (uv) of pyvenv.cfg. */
export function pyvenvVersion(cfg: string): string | null {
  const m = cfg.match(/^\s*version(?:_info)?\s*=\s*(\d+\.\d+(?:\.\d+)?)/m);
  return m ? m[1]! : null;
}

/** A distribution name normalized as pip does (`dbt_core` -> `dbt-core`). */
function normalize(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

/**
 * Versions in the virtual environment holding `python` (`<venv>/bin/python`),
 * read synchronously; nulls when `python` is not inside a venv.
 */
export function venvVersions(python: string): VenvVersions {
  const venv = dirname(dirname(python));
  const cfg = readText(join(venv, "pyvenv.cfg"));
  const out: VenvVersions = {
    dbt_version: null,
    python_version: cfg ? pyvenvVersion(cfg) : null,
    packages: {},
  };
  if (cfg === undefined) return out;
  const lib = join(venv, "lib");
  for (const py of listDir(lib).filter((n) => n.startsWith("python"))) {
    for (const entry of listDir(join(lib, py, "site-packages"))) {
      const m = entry.match(/^(.+?)-(\d[^-]*)\.dist-info$/);
      if (!m) continue;
      const name = normalize(m[1]!);
      if (name === "dbt-core") out.dbt_version = m[2]!;
      else if (REPORTED.includes(name)) out.packages[name] = m[2]!;
    }
  }
  return out;
}
