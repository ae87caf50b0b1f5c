/**
 * `steps_override` and `cause` for a dbt Cloud job run, built from argument
 * lists. Selectors are checked against dbt's selector grammar (the one check
 * of src/validate.ts) and rejected otherwise: no value can add a flag or a
 * second command, so nothing needs shell quoting (dbt Cloud splits a step on
 * whitespace).
 *
 * @module
 */
import type { Selection } from "../../src/runtime.ts";
import type { DbtCommand } from "../../src/schemas.ts";
import { selectorTokens } from "../../src/validate.ts";

/** The dbt command line of one step, e.g. `dbt run --select a b --full-refresh`. */
export function dbtStep(
  command: DbtCommand,
  selection: Selection = {},
): string {
  const parts = ["dbt", command];
  // Spaces separate selectors; each token is checked.
  const select = selectorTokens(selection.select, "--select");
  const exclude = selectorTokens(selection.exclude, "--exclude");
  if (select.length) parts.push("--select", ...select);
  if (exclude.length) parts.push("--exclude", ...exclude);
  if (selection.fullRefresh && command !== "compile" && command !== "test") {
    parts.push("--full-refresh");
  }
  return parts.join(" ");
}

/** True when the call needs steps_override (a selection, or no job of its own). */
export function needsOverride(selection: Selection, ownJob: boolean): boolean {
  return !ownJob || Boolean(
    selection.select?.length || selection.exclude?.length ||
      selection.fullRefresh,
  );
}

/** Max length of a run's cause (dbt Cloud's column). */
export const CAUSE_MAX = 255;

/** The run's cause: what ran plus a nonce that identifies the trigger. */
export function causeFor(step: string, nonce: string): string {
  const tail = ` [floe:${nonce}]`;
  const head = `floe-dbt: ${step}`;
  const room = CAUSE_MAX - tail.length;
  return (head.length > room ? head.slice(0, room - 3) + "..." : head) + tail;
}
