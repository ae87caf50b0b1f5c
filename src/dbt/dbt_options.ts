/**
 * The everyday dbt options (`--vars`, `--threads`, `--fail-fast`,
 * `--selector`, `--indirect-selection`, `--full-refresh`): one validation
 * for the CLI, job requests and every runtime, and one argument list built
 * from them. `--vars` is parsed like dbt parses it (YAML, so JSON too) into a
 * mapping and handed to dbt as a single JSON argument: no value can become a
 * flag of its own. Vars are data: dbt renders a var's text as Jinja, so a
 * Jinja delimiter anywhere in them is refused unless the operator allows it
 * (`--allow-jinja-vars`), and their depth and size are capped.
 *
 * @module
 */
import { parse as parseYaml } from "yaml";
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import type { CallOptions, Selection } from "../contract/runtime.ts";
import {
  type DbtCommand,
  FULL_REFRESH_COMMANDS,
  IndirectSelectionSchema,
} from "../contract/schemas.ts";
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

/** The deepest a vars value may nest (mappings and lists, the top one included). */
export const MAX_VARS_DEPTH = 32;
/** The largest vars mapping, serialized as JSON (UTF-8 bytes). */
export const MAX_VARS_BYTES = 64 * 1024;
/** Jinja's delimiters: dbt renders a var's text as Jinja when it holds one. */
export const JINJA_DELIMITERS = ["{{", "{%", "{#"] as const;

/** Why a vars value is refused, and which kind of refusal it is. */
interface VarsRefusal {
  kind: "key" | "jinja" | "depth" | "size";
  message: string;
}

const UTF8 = new TextEncoder();
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `vars.day`, `vars.a[2]`, `vars["odd key"]`. */
function keyPath(path: string, key: string): string {
  return NAME.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function jinjaIn(text: string): string | undefined {
  return JINJA_DELIMITERS.find((d) => text.includes(d));
}

function excerpt(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

/**
 * Walk a vars value once: keys without control characters, no Jinja
 * delimiter in any key or string (unless allowed), at most
 * {@link MAX_VARS_DEPTH} levels, at most {@link MAX_VARS_BYTES} as JSON. Stops
 * at the first refusal, so a deep or huge value costs no more than the caps.
 */
function walkVars(
  value: unknown,
  allowJinja: boolean,
): VarsRefusal | undefined {
  let bytes = 0;
  const tooBig = (): VarsRefusal => ({
    kind: "size",
    message: `vars is over ${MAX_VARS_BYTES} bytes as JSON`,
  });
  const visit = (
    v: unknown,
    path: string,
    depth: number,
  ): VarsRefusal | undefined => {
    if (typeof v === "string") {
      bytes += UTF8.encode(JSON.stringify(v)).length;
      const d = allowJinja ? undefined : jinjaIn(v);
      if (d) {
        return {
          kind: "jinja",
          message: `${path} holds the Jinja delimiter '${d}' (${
            excerpt(v)
          }): dbt renders a var's text as Jinja, so it would run as code`,
        };
      }
      return bytes > MAX_VARS_BYTES ? tooBig() : undefined;
    }
    if (v === null || typeof v !== "object") {
      bytes += (JSON.stringify(v) ?? "null").length;
      return bytes > MAX_VARS_BYTES ? tooBig() : undefined;
    }
    if (depth > MAX_VARS_DEPTH) {
      return {
        kind: "depth",
        message: `${path} nests deeper than ${MAX_VARS_DEPTH} levels`,
      };
    }
    const entries: [string | number, unknown][] = Array.isArray(v)
      ? [...v.entries()]
      : Object.entries(v as Record<string, unknown>);
    bytes += 2 + Math.max(0, entries.length - 1);
    for (const [k, item] of entries) {
      let at: string;
      if (typeof k === "number") at = `${path}[${k}]`;
      else {
        const control = textProblem(k);
        if (control) {
          return {
            kind: "key",
            message: `the key ${JSON.stringify(k)} of ${path}: ${control}`,
          };
        }
        const d = allowJinja ? undefined : jinjaIn(k);
        if (d) {
          return {
            kind: "jinja",
            message: `the key ${
              excerpt(k)
            } of ${path} holds the Jinja delimiter '${d}': dbt renders a var's text as Jinja, so it would run as code`,
          };
        }
        bytes += UTF8.encode(JSON.stringify(k)).length + 1;
        at = keyPath(path, k);
      }
      const problem = visit(item, at, depth + 1);
      if (problem) return problem;
    }
    return bytes > MAX_VARS_BYTES ? tooBig() : undefined;
  };
  return visit(value, "vars", 1);
}

/**
 * Why a vars mapping is refused (a key with a control character, a Jinja
 * delimiter unless `allowJinja`, too deep, too big), or undefined.
 */
export function varsProblem(
  value: unknown,
  allowJinja = false,
): string | undefined {
  return walkVars(value, allowJinja)?.message;
}

const VARS_HINT =
  `give --vars as a YAML or JSON mapping, e.g. --vars '{"start_date": "2026-01-01"}' or --vars 'start_date: 2026-01-01'`;

function jinjaHint(field: string): string {
  const plain =
    "vars are data: send plain values and keep the Jinja in the project's models";
  return field.startsWith("--")
    ? `${plain}; to let --vars hold Jinja anyway, pass --allow-jinja-vars`
    : `${plain}; only the daemon's operator can allow Jinja in vars (floe-dbt serve --allow-jinja-vars: job authors can then run any SQL)`;
}

/**
 * Parse `--vars` text as dbt does (YAML; JSON is YAML) into a mapping.
 * E010 when it is not YAML, not a mapping, or {@link checkVars} refuses it.
 */
export function parseVars(
  text: string,
  field = "--vars",
  allowJinja = false,
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
  return checkVars(value, field, allowJinja);
}

/**
 * Check a parsed vars value: a mapping whose keys have no control
 * characters, with no Jinja delimiter in any key or string (unless
 * `allowJinja`: the operator's `--allow-jinja-vars`), nested at most
 * {@link MAX_VARS_DEPTH} levels and at most {@link MAX_VARS_BYTES} as JSON.
 * E010 naming the key.
 */
export function checkVars(
  value: unknown,
  field = "vars",
  allowJinja = false,
): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw refuse(
      `${field} must be a mapping of variable names to values, not ${
        JSON.stringify(value) ?? String(value)
      }`,
      VARS_HINT,
    );
  }
  const problem = walkVars(value, allowJinja);
  if (problem) {
    throw refuse(
      `Unsafe ${field}: ${problem.message}`,
      problem.kind === "jinja"
        ? jinjaHint(field)
        : problem.kind === "key"
        ? VARS_HINT
        : `keep vars small: at most ${MAX_VARS_DEPTH} levels deep and ${MAX_VARS_BYTES} bytes as JSON; pass bulk data as a seed or a table`,
    );
  }
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
  if (selection.vars !== undefined) {
    checkVars(selection.vars, "vars", Boolean(selection.allowJinjaVars));
  }
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
  // Slim runs (src/wrappers/state.ts resolves --changed into these).
  if (selection.state) args.push("--state", selection.state);
  if (selection.state && selection.defer) args.push("--defer");
  if (options.threads !== undefined) {
    args.push("--threads", String(checkThreads(options.threads)));
  }
  return args;
}

/**
 * `["--vars", "<json>"]`, or nothing: one argv item holding the mapping,
 * checked again (Jinja only when the operator allows it: `allowJinja`).
 */
export function varsArgs(
  vars: Record<string, unknown> | undefined,
  allowJinja = false,
): string[] {
  if (vars === undefined) return [];
  return ["--vars", JSON.stringify(checkVars(vars, "vars", allowJinja))];
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
