/**
 * `steps_override` and `cause` for a dbt Cloud job run, built from argument
 * lists. Selectors are checked against dbt's selector alphabet and rejected
 * otherwise: no value can add a flag or a second command, so nothing needs
 * shell quoting (dbt Cloud splits a step on whitespace).
 *
 * @module
 */
import { ERROR_CODES, FloeDbtError } from "../../src/errors.ts";
import type { Selection } from "../../src/runtime.ts";
import type { DbtCommand } from "../../src/schemas.ts";

/** dbt selector syntax: names, paths, methods (`tag:x`), graph operators, sets. */
const SELECTOR = /^[A-Za-z0-9_@+*.:/,=\-]+$/;

/** Check one selector token; throws E010 naming it when unsafe. */
export function checkSelector(token: string, flag: string): string {
  if (!SELECTOR.test(token) || token.startsWith("-")) {
    throw new FloeDbtError(
      ERROR_CODES.usage,
      `Unsafe ${flag} value ${
        JSON.stringify(token)
      } for a dbt Cloud step: only letters, digits and _ @ + * . : / , = - are allowed, and it may not start with '-'`,
      {
        hint:
          "pass plain dbt selectors (e.g. stg_orders+, tag:nightly, path:models/staging); quotes, spaces, ';', '&&', '|' and newlines are refused",
      },
    );
  }
  return token;
}

function tokens(values: string[] | undefined, flag: string): string[] {
  return (values ?? []).flatMap((v) => {
    // Spaces separate selectors; any other whitespace (newlines) is refused.
    if (/[^\S ]/.test(v)) checkSelector(v, flag);
    return v.split(" ");
  }).filter(Boolean).map((t) => checkSelector(t, flag));
}

/** The dbt command line of one step, e.g. `dbt run --select a b --full-refresh`. */
export function dbtStep(
  command: DbtCommand,
  selection: Selection = {},
): string {
  const parts = ["dbt", command];
  const select = tokens(selection.select, "--select");
  const exclude = tokens(selection.exclude, "--exclude");
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
