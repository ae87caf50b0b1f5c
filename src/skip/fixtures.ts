/**
 * The fixture files of unit tests, for their input keys: where a unit
 * test's manifest entry names a fixture file instead of recording its rows
 * (Fusion's `dbt parse` gives the path inside the project, e.g.
 * `tests/fixtures/orders.csv`; dbt-core records the rows themselves), the
 * sha256 of that file, read as a regular file inside the project.
 *
 * @module
 */
import { isAbsolute, join, normalize } from "node:path";
import { readRegularText } from "../os/safe_fs.ts";
import { type ManifestView, sha256 } from "./keys.ts";

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Obj : {};
}

/** The fixture paths the unit tests of a manifest name without rows. */
export function fixturePaths(view: ManifestView): string[] {
  const out = new Set<string>();
  for (const node of Object.values(view.nodes)) {
    if (node.resource_type !== "unit_test") continue;
    const given = Array.isArray(node.given) ? node.given : [];
    for (const part of [...given, node.expect]) {
      const fixture = obj(part).fixture;
      if (typeof fixture === "string" && !Array.isArray(obj(part).rows)) {
        out.add(fixture);
      }
    }
  }
  return [...out].sort();
}

/**
 * sha256 of each fixture file named without rows; a file that cannot be
 * read (missing, a link, outside the project) is left out, and its unit
 * test then always runs.
 */
export async function fixtureChecksums(
  projectDir: string,
  view: ManifestView,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const path of fixturePaths(view)) {
    // Only a relative path that stays inside the project is read.
    if (isAbsolute(path) || normalize(path).split(/[\\/]/).includes("..")) {
      continue;
    }
    try {
      out[path] = sha256(
        await readRegularText(join(projectDir, path), {
          root: projectDir,
          what: "unit test fixture",
        }),
      );
    } catch {
      // no version: the unit test always runs
    }
  }
  return out;
}
