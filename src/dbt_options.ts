/**
 * The everyday dbt options (`--vars`, `--threads`, `--fail-fast`,
 * `--selector`, `--indirect-selection`, `--full-refresh`): one validation
 * for the CLI, job requests and every runtime, and one argument list built
 * from them. `--vars` is parsed like dbt parses it (YAML, so JSON too) into a
 * mapping and handed to dbt as a single JSON argument: no value can become a
 * flag of its own.
 *
 * @module
 */
import { parse as parseYaml } from "yaml";
import { ERROR_CODES, FloeDbtError } from "./errors.ts";
import type { CallOptions, Selection } from "./runtime.ts";
import {
  type DbtCommand,
  FULL_REFRESH_COMMANDS,
  IndirectSelectionSchema,
} from "./schemas.ts";
import { checkSelector, textProblem } from "./validate.ts";

/** What a selector name may look like. */
export const SELECTOR_NAME_ALLOWED =
  "a YAML selector name: letters, digits, '_', '-' and '.', not starting with '-' or '.'";
const SELECTOR_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** The most threads a call may ask for. */
export const MAX_THREADS = 1024;

function refuse(message: string, hint: string): FloeDbtError {
  return new FloeDbtError(ERROR_CODES.usage, message, { hint });
}

/** Why a selector name is refused, or undefined. */
export function selectorNameProblem(name: string): string | undefined {
  const control = textProblem(name);
  if (control) return control;
  if (!SELECTOR_NAME.test(name)) return "it is not a YAML selector name";
  return undefined;
}

/** Why a threads value is refused, or undefined. */
export function threadsProblem(n: number): string | undefined {
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    return `threads must be a whole number from 1 to ${MAX_THREADS}`;
  }
  return undefined;
}

/** Why a vars mapping is refused (a key with a control character), or undefined. */
export function varsProblem(value: unknown, path = "vars"): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const p = varsProblem(v, `${path}[${i}]`);
      if (p) return p;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const control = textProblem(k);
    if (control) return `the key ${JSON.stringify(k)} of ${path}: ${control}`;
    const p = varsProblem(v, `${path}.${k}`);
    if (p) return p;
  }
  return undefined;
}

const VARS_HINT =
  `give --vars as a YAML or JSON mapping, e.g. --vars '{"start_date": "2026-01-01"}' or --vars 'start_date: 2026-01-01'`;

/**
 * Parse `--vars` text as dbt does (YAML; JSON is YAML) into a mapping.
 * E010 when it is not YAML, not a mapping, or a key has a control character.
 */
export function parseVars(
  text: string,
  field = "--vars",
): Record<string, unknown> {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (e) {
    throw refuse(
      `${field} is not valid YAML or JSON: ${
        (e as Error).message.split("\n")[0]
      }`,
      VARS_HINT,
    );
  }
  return checkVars(value, field);
}

/** Check a parsed vars value: a mapping whose keys have no control characters. */
export function checkVars(
  value: unknown,
  field = "vars",
): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw refuse(
      `${field} must be a mapping of variable names to values, not ${
        JSON.stringify(value) ?? String(value)
      }`,
      VARS_HINT,
    );
  }
  const problem = varsProblem(value);
  if (problem) throw refuse(`Unsafe ${field}: ${problem}`, VARS_HINT);
  return value as Record<string, unknown>;
}

/** Check a selector name; E010 naming it. */
export function checkSelectorName(name: string, field = "selector"): string {
  const reason = selectorNameProblem(name);
  if (reason) {
    throw refuse(
      `Unsafe ${field} value ${
        JSON.stringify(name)
      }: ${reason}; allowed: ${SELECTOR_NAME_ALLOWED}`,
      "use the name of a selector in the project's selectors.yml",
    );
  }
  return name;
}

/** Check a threads value; E010. */
export function checkThreads(n: number, field = "threads"): number {
  const reason = threadsProblem(n);
  if (reason) {
    throw refuse(
      `${field} is ${JSON.stringify(n)}: ${reason}`,
      "pass --threads N with N of at least 1",
    );
  }
  return n;
}

/**
 * Check everything the options carry before a runtime builds arguments (the
 * runtimes call this, so no entry point can skip it), and refuse what the
 * command cannot take: `retry` replays the previous run's selection.
 */
export function checkOptions(
  command: DbtCommand,
  selection: Selection,
  options: Pick<CallOptions, "threads"> = {},
): void {
  if (selection.vars !== undefined) checkVars(selection.vars);
  if (selection.selector !== undefined) checkSelectorName(selection.selector);
  if (selection.indirectSelection !== undefined) {
    const ok = IndirectSelectionSchema.safeParse(selection.indirectSelection);
    if (!ok.success) {
      throw refuse(
        `indirect_selection ${
          JSON.stringify(selection.indirectSelection)
        } is not one of ${IndirectSelectionSchema.options.join(", ")}`,
        "pass --indirect-selection eager|cautious|buildable|empty",
      );
    }
  }
  if (options.threads !== undefined) checkThreads(options.threads);
  if (
    command === "retry" &&
    (selection.select?.length || selection.exclude?.length ||
      selection.selector)
  ) {
    throw refuse(
      "dbt retry takes no selection: it re-runs what failed or was skipped in the project's last run",
      "drop --select, --exclude and --selector, or run the command itself with them",
    );
  }
}

/**
 * The dbt arguments of a call's options, after the command words:
 * selection, full refresh (where it applies), fail fast, threads. `--vars`
 * is separate ({@link varsArgs}): the local runtime gives it to the parse
 * too.
 */
export function optionArgs(
  command: DbtCommand,
  selection: Selection = {},
  options: Pick<CallOptions, "threads"> = {},
): string[] {
  const args: string[] = [];
  for (const t of selection.select ?? []) checkSelector(t, "select");
  for (const t of selection.exclude ?? []) checkSelector(t, "exclude");
  if (selection.select?.length) args.push("--select", ...selection.select);
  if (selection.exclude?.length) args.push("--exclude", ...selection.exclude);
  if (selection.selector) {
    args.push("--selector", checkSelectorName(selection.selector));
  }
  if (selection.indirectSelection) {
    args.push("--indirect-selection", selection.indirectSelection);
  }
  if (selection.fullRefresh && FULL_REFRESH_COMMANDS.includes(command)) {
    args.push("--full-refresh");
  }
  if (selection.failFast) args.push("--fail-fast");
  // Slim runs (src/state_runtime.ts resolves --changed into these).
  if (selection.state) args.push("--state", selection.state);
  if (selection.state && selection.defer) args.push("--defer");
  if (options.threads !== undefined) {
    args.push("--threads", String(checkThreads(options.threads)));
  }
  return args;
}

/** `["--vars", "<json>"]`, or nothing: one argv item holding the mapping. */
export function varsArgs(vars: Record<string, unknown> | undefined): string[] {
  if (vars === undefined) return [];
  return ["--vars", JSON.stringify(checkVars(vars))];
}

/** The options as run metadata (what the result says was asked). */
export function optionMetadata(
  command: DbtCommand,
  selection: Selection,
  options: Pick<CallOptions, "threads"> = {},
): Record<string, unknown> {
  return {
    selector: selection.selector ?? null,
    indirect_selection: selection.indirectSelection ?? null,
    fail_fast: Boolean(selection.failFast),
    threads: options.threads ?? null,
    vars: selection.vars ?? null,
    full_refresh: Boolean(selection.fullRefresh) &&
      FULL_REFRESH_COMMANDS.includes(command),
  };
}
