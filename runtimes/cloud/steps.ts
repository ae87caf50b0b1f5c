/**
 * `steps_override` and `cause` for a dbt Cloud job run, built from argument
 * lists. Selectors are checked against dbt's selector grammar (the one check
 * of src/dbt/validate.ts) and rejected otherwise: no value can add a flag or a
 * second command, so nothing needs shell quoting (dbt Cloud splits a step on
 * whitespace).
 *
 * @module
 */
import { checkOptions, optionArgs } from "../../src/dbt/dbt_options.ts";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import type { Selection } from "../../src/contract/runtime.ts";
import {
  type DbtCommand,
  dbtCommandWords,
} from "../../src/contract/schemas.ts";
import { selectorTokens } from "../../src/dbt/validate.ts";

/**
 * E010 for what the cloud runtime cannot put in a step: `--vars` (a mapping
 * needs quoting, and a step is split on whitespace) and `retry` (dbt Cloud
 * retries a failed run through its own endpoint, see retry.ts, never as a
 * step of a new run).
 */
export function refuseInCloud(command: DbtCommand, selection: Selection): void {
  if (command === "retry") {
    throw new FloeDbtError(
      ERROR_CODES.usage,
      "dbt retry is never a step of a dbt Cloud run: the cloud runtime retries the failed run through dbt Cloud's retry endpoint",
      {
        hint:
          "call execute('retry') on the cloud runtime (floe-dbt retry --runtime cloud)",
      },
    );
  }
  if (selection.vars !== undefined) {
    throw new FloeDbtError(
      ERROR_CODES.usage,
      "The cloud runtime cannot pass --vars: a dbt Cloud step is split on whitespace, so a vars mapping cannot be given safely",
      {
        hint:
          "set the vars in the dbt Cloud job's commands or in dbt_project.yml, or use --runtime local or fusion",
      },
    );
  }
}

/**
 * The dbt command line of one step, e.g. `dbt run --select a b --full-refresh`.
 * Threads go through `threads_override`, not the step.
 */
export function dbtStep(
  command: DbtCommand,
  selection: Selection = {},
): string {
  refuseInCloud(command, selection);
  // Spaces separate selectors; each token is checked.
  const select = selectorTokens(selection.select, "--select");
  const exclude = selectorTokens(selection.exclude, "--exclude");
  const checked = { ...selection, select, exclude };
  checkOptions(command, checked);
  return ["dbt", ...dbtCommandWords(command), ...optionArgs(command, checked)]
    .join(" ");
}

/**
 * True when the call needs steps_override: a selection or option, or a
 * command without a job of its own.
 */
export function needsOverride(selection: Selection, ownJob: boolean): boolean {
  return !ownJob || Boolean(
    selection.select?.length || selection.exclude?.length ||
      selection.fullRefresh || selection.selector ||
      selection.indirectSelection || selection.failFast,
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
