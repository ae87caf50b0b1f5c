/**
 * Running the unit tests `--skip-unchanged` decided to run whose model it
 * reuses. dbt-core's `build` runs a unit test only with its model (it
 * drops a unit test selected alone: "Nothing to do"), so such unit tests
 * run in a `dbt test` call of their own, before the build of the rest
 * (dbt runs unit tests before their model too). Fusion's build would take
 * them, but one path for both keeps the runtimes alike. The two calls'
 * results are reported as one: the test call's node results are added to
 * the build's run_results.json (dbt's own entries, unchanged), and its
 * counts, statuses and errors to the build's result.
 *
 * @module
 */
import { writeAtomic } from "../os/atomic.ts";
import { readRegularText } from "../os/safe_fs.ts";
import type { DbtCommand, RunResult } from "../contract/schemas.ts";
import type { ManifestView } from "./keys.ts";
import { parentsOf } from "./keys.ts";

/** The unit tests among `ids` none of whose parents is among `ids`. */
export function loneUnitTests(
  view: ManifestView,
  ids: ReadonlySet<string>,
): Set<string> {
  const out = new Set<string>();
  for (const id of ids) {
    const node = view.nodes[id];
    if (node?.resource_type !== "unit_test") continue;
    if (!parentsOf(node).some((p) => ids.has(p))) out.add(id);
  }
  return out;
}

/** Runs dbt `command` on exactly `ids`. */
export type CallOn = (
  command: DbtCommand,
  ids: ReadonlySet<string>,
) => Promise<RunResult>;

/**
 * Build `ids` with `command`: lone unit tests first in a `test` call,
 * then the rest in one `command` call; one result. With `failFast`, a
 * failed test call ends there (dbt's `--fail-fast` across both calls):
 * the rest is not built, and the result says so.
 */
export async function buildWithUnitTests(
  view: ManifestView,
  ids: ReadonlySet<string>,
  command: DbtCommand,
  projectDir: string,
  call: CallOn,
  failFast = false,
): Promise<RunResult> {
  const lone = loneUnitTests(view, ids);
  if (!lone.size) return await call(command, ids);
  const tests = await call("test", lone);
  tests.metadata.unit_tests_alone = [...lone].sort();
  const rest = new Set([...ids].filter((id) => !lone.has(id)));
  if (rest.size && failFast && !tests.success) {
    tests.metadata.not_built_fail_fast = [...rest].sort();
  }
  if (!rest.size || (failFast && !tests.success)) {
    tests.metadata.dbt_command = "test";
    tests.metadata.command = command;
    return tests;
  }
  const testDoc = await readResults(tests.run_results_path, projectDir);
  const result = await call(command, rest);
  result.metadata.unit_tests_alone = tests.metadata.unit_tests_alone;
  await merge(result, tests, testDoc, projectDir);
  return result;
}

type Doc = { results?: unknown[]; [k: string]: unknown };

async function readResults(
  path: string,
  projectDir: string,
): Promise<Doc | undefined> {
  if (!path) return undefined;
  try {
    return JSON.parse(
      await readRegularText(path, { root: projectDir, what: "run results" }),
    ) as Doc;
  } catch {
    return undefined;
  }
}

/** Add the test call's results and counts to the build's. */
async function merge(
  result: RunResult,
  tests: RunResult,
  testDoc: Doc | undefined,
  projectDir: string,
): Promise<void> {
  result.success &&= tests.success;
  result.tests_run += tests.tests_run;
  result.failures += tests.failures;
  result.execution_time_seconds += tests.execution_time_seconds;
  const m = result.metadata;
  const t = tests.metadata;
  const statuses = { ...(m.statuses as Record<string, number> ?? {}) };
  for (const [k, n] of Object.entries(t.statuses ?? {})) {
    statuses[k] = (statuses[k] ?? 0) + Number(n);
  }
  m.statuses = statuses;
  m.skipped = Number(m.skipped ?? 0) + Number(t.skipped ?? 0);
  if (Array.isArray(t.errors)) {
    m.errors = [...(Array.isArray(m.errors) ? m.errors : []), ...t.errors];
    m.error_code ??= t.error_code;
  }
  if (!testDoc || !Array.isArray(testDoc.results)) return;
  const doc = await readResults(result.run_results_path, projectDir);
  if (!doc) return;
  doc.results = [
    ...testDoc.results,
    ...(Array.isArray(doc.results) ? doc.results : []),
  ];
  await writeAtomic(result.run_results_path, JSON.stringify(doc));
}
