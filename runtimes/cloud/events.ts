/**
 * Progress events of a cloud run: job-level log lines for status changes while
 * polling, then node_started/node_finished from run_results.json afterwards
 * (dbt Cloud has no live per-node stream in the Admin API).
 *
 * @module
 */
import type { NodeResult } from "../../src/dbt/artifacts.ts";
import type { ProgressEvent } from "../../src/contract/schemas.ts";

function now(): string {
  return new Date().toISOString();
}

export { logEvent } from "../../src/contract/schemas.ts";

/** node_started + node_finished for every result of a run_results.json. */
export function nodeEvents(
  runResults: Record<string, unknown>,
): ProgressEvent[] {
  const results =
    (Array.isArray(runResults.results)
      ? runResults.results
      : []) as NodeResult[];
  const total = results.length;
  const out: ProgressEvent[] = [];
  results.forEach((r, i) => {
    const parts = r.unique_id.split(".");
    const base = {
      unique_id: r.unique_id,
      resource_type: parts[0] ?? "unknown",
      name: parts.at(-1) ?? r.unique_id,
      index: i + 1,
      total,
      ts: now(),
    };
    out.push({ v: 1, type: "node_started", ...base });
    out.push({
      v: 1,
      type: "node_finished",
      ...base,
      status: r.status,
      execution_time: typeof r.execution_time === "number"
        ? r.execution_time
        : null,
      message: r.message ? String(r.message) : null,
    });
  });
  return out;
}
