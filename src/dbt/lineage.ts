/**
 * Column lineage for runtimes without a dbt-core process of their own
 * (fusion, cloud): one run of the dbt-core environment's Python
 * (`python -I -c LINEAGE_MAIN_PY request.json`, src/dbt/lineage_py.ts, the
 * code the local worker runs in process) over every model of a run. No
 * Python, no sqlglot, a failed or timed-out run: no lineage (an empty
 * answer) and debug lines, never an error.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { childEnv } from "../os/child_env.ts";
import { outputWithTimeout } from "../os/spawn.ts";
import type { ColumnRef } from "./node_facts.ts";
import { LINEAGE_MAIN_PY } from "./lineage_py.ts";

/** An upstream relation of a model, with its columns when known. */
export interface LineageParent {
  unique_id: string;
  database: string | null;
  schema: string;
  identifier: string;
  /** Column names; null when unknown (the model then gets no lineage). */
  columns: string[] | null;
}

/** One model to trace: its compiled SQL and upstream relations. */
export interface LineageModel {
  unique_id: string;
  sql: string;
  parents: LineageParent[];
}

/** Output column -> upstream columns, per model (absent: no lineage). */
export type LineageMap = Record<
  string,
  Record<string, ColumnRef[]> | null
>;

/** Bound on the lineage run, milliseconds. */
const TIMEOUT_MS = 300_000;

/**
 * The column lineage of `models` (absent or null: none), computed by the
 * Python at `python` (the dbt-core environment's; undefined: none).
 */
export async function columnLineage(
  python: string | undefined,
  adapterType: string,
  models: LineageModel[],
  debug: (message: string) => void,
  timeoutMs = TIMEOUT_MS,
): Promise<LineageMap> {
  if (models.length === 0) return {};
  const exe = python && (python.includes("/") ? resolve(python) : python);
  if (!exe || (exe.includes("/") && !existsSync(exe))) {
    debug("no column lineage: no dbt-core environment Python (sqlglot) found");
    return {};
  }
  const request = await Deno.makeTempFile({ prefix: "floe-dbt-lineage-" });
  try {
    await Deno.writeTextFile(
      request,
      JSON.stringify({ adapter_type: adapterType, models }),
    );
    const out = await outputWithTimeout(exe, {
      args: ["-I", "-c", LINEAGE_MAIN_PY, request],
      clearEnv: true,
      env: childEnv(),
      cwd: "/",
      timeoutMs,
    });
    for (const line of out.stderr.split("\n").filter(Boolean).slice(-50)) {
      debug(line);
    }
    if (!out.success) {
      debug(
        out.timedOut
          ? `no column lineage: sqlglot did not finish in ${timeoutMs / 1000} s`
          : `no column lineage: the lineage run exited with ${out.code}`,
      );
      return {};
    }
    const parsed = JSON.parse(out.stdout) as unknown;
    return parsed && typeof parsed === "object" && !Array.isArray(parsed)
      ? parsed as LineageMap
      : {};
  } catch (e) {
    debug(`no column lineage: ${e instanceof Error ? e.message : String(e)}`);
    return {};
  } finally {
    await Deno.remove(request).catch(() => {});
  }
}
