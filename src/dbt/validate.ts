/**
 * One validation of what a caller sends, shared by the CLI, the daemon's job
 * requests and every runtime: dbt selectors follow dbt's node selection
 * grammar (so none can be read as a flag), `target` has the shape of a
 * profile target name, and no string field carries a control character.
 *
 * Each check has two forms: `...Problem()` returns the reason a value is
 * refused (for zod issues), `check...()` throws FloeDbtError E010.
 *
 * @module
 */
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";

/** dbt's node selection methods (`method:value`); `config` needs `.KEY`. */
export const SELECTOR_METHODS = [
  "fqn",
  "tag",
  "group",
  "access",
  "source",
  "path",
  "file",
  "package",
  "config",
  "test_name",
  "test_type",
  "resource_type",
  "state",
  "exposure",
  "metric",
  "result",
  "source_status",
  "version",
  "semantic_model",
  "saved_query",
  "unit_test",
  "wildcard",
] as const;

/** What a selector may look like, for messages and docs. */
export const SELECTOR_ALLOWED =
  "dbt node selectors: an optional '@' or '+'/'N+' prefix, a name, path or " +
  "method:value, an optional '+'/'+N' suffix, ',' for intersections; " +
  "names and values use letters, digits and _ - . / * ? " +
  "(e.g. tag:nightly, +stg_orders+, 2+orders, path:models/staging, " +
  "config.materialized:view, stg_orders,tag:x)";

const METHOD_LIST = SELECTOR_METHODS.map((m) =>
  m === "config" ? "config.KEY" : m
).join(", ");

/** What a target may look like. */
export const TARGET_ALLOWED =
  "a profile target name: letters, digits, '_' and '-', not starting with '-'";

/** What any other string field may hold. */
export const TEXT_ALLOWED =
  "text without control characters (no newline, carriage return, tab or NUL)";

// Same shape as dbt's RAW_SELECTOR_PATTERN (dbt/graph/selector_spec.py).
const ATOM =
  /^(?<at>@)?(?<parents>\d*\+)?(?:(?<method>[^:]+):)?(?<value>.*?)(?<children>\+\d*)?$/su;
const VALUE = /^[\p{L}\p{N}_\-.\/*?]+$/u;
const CONFIG_METHOD = /^config(\.[\p{L}\p{N}_-]+)+$/u;
// C0 and C1 controls, DEL, and Unicode line/paragraph separators.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;
const TARGET = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;

function controlProblem(value: string): string | undefined {
  const m = value.match(CONTROL);
  if (!m) return undefined;
  const hex = m[0].codePointAt(0)!.toString(16).padStart(4, "0");
  return `it contains the control character U+${hex}`;
}

function atomProblem(atom: string): string | undefined {
  if (atom === "") return "it has an empty part around ','";
  const m = atom.match(ATOM);
  const g = m?.groups ?? {};
  const method = g.method;
  if (
    method !== undefined &&
    !(method !== "config" &&
      (SELECTOR_METHODS as readonly string[]).includes(method)) &&
    !CONFIG_METHOD.test(method)
  ) {
    return `'${method}' is not a dbt selector method (${METHOD_LIST})`;
  }
  const value = g.value ?? "";
  if (value === "") return `'${atom}' names no node`;
  if (!VALUE.test(value)) {
    const bad = [...value].find((c) => !VALUE.test(c)) ?? value;
    return `the character ${
      JSON.stringify(bad)
    } is not part of dbt's selector syntax`;
  }
  return undefined;
}

/** Why one selector token is refused, or undefined when it is a valid one. */
export function selectorProblem(token: string): string | undefined {
  if (token === "") return "it is empty";
  const control = controlProblem(token);
  if (control) return control;
  if (/\s/u.test(token)) return "it contains whitespace";
  if (token.startsWith("-")) {
    return "it starts with '-' and would be read as a dbt flag";
  }
  for (const atom of token.split(",")) {
    const problem = atomProblem(atom);
    if (problem) return problem;
  }
  return undefined;
}

/** Why a target is refused, or undefined. */
export function targetProblem(target: string): string | undefined {
  const control = controlProblem(target);
  if (control) return control;
  if (!TARGET.test(target)) return "it is not a profile target name";
  return undefined;
}

/** Why a free-text field (a path, a key) is refused, or undefined. */
export function textProblem(value: string): string | undefined {
  return controlProblem(value);
}

/** The message of a refusal: field, value (JSON-quoted), reason, allowed. */
export function refusalMessage(
  field: string,
  value: string,
  reason: string,
  allowed: string,
  whole?: string,
): string {
  const within = whole !== undefined && whole !== value
    ? ` (in ${JSON.stringify(whole)})`
    : "";
  return `Unsafe ${field} value ${
    JSON.stringify(value)
  }${within}: ${reason}; allowed: ${allowed}`;
}

function refuse(message: string, hint: string): FloeDbtError {
  return new FloeDbtError(ERROR_CODES.usage, message, { hint });
}

/**
 * Split selector strings into tokens and check each one. Plain spaces
 * separate selectors (`"a b"` is two, as in dbt); any other whitespace is
 * refused. Returns the tokens; `problem` gets the refusal message instead
 * of a throw when given.
 */
export function selectorTokens(
  values: string | readonly string[] | undefined,
  field: string,
  problem?: (message: string) => void,
): string[] {
  const list = values === undefined
    ? []
    : typeof values === "string"
    ? [values]
    : values;
  const out: string[] = [];
  for (const value of list) {
    for (const token of value.split(" ").filter(Boolean)) {
      const reason = selectorProblem(token);
      if (reason) {
        const message = refusalMessage(
          field,
          token,
          reason,
          SELECTOR_ALLOWED,
          value,
        );
        if (!problem) throw refuse(message, SELECTOR_HINT);
        problem(message);
        return [];
      }
      out.push(token);
    }
  }
  return out;
}

const SELECTOR_HINT =
  "pass dbt selectors only (several as one space-separated string or repeated); flags such as --target-path or --vars cannot be given this way";

/** Check one selector token (no splitting); throws E010 naming it. */
export function checkSelector(token: string, field: string): string {
  const reason = selectorProblem(token);
  if (reason) {
    throw refuse(
      refusalMessage(field, token, reason, SELECTOR_ALLOWED),
      SELECTOR_HINT,
    );
  }
  return token;
}

/** Check a target name; throws E010. */
export function checkTarget(target: string, field = "target"): string {
  const reason = targetProblem(target);
  if (reason) {
    throw refuse(
      refusalMessage(field, target, reason, TARGET_ALLOWED),
      "use the name of a target of the profile in profiles.yml",
    );
  }
  return target;
}

/** Check a free-text field (a path); throws E010. */
export function checkText(value: string, field: string): string {
  const reason = textProblem(value);
  if (reason) {
    throw refuse(
      refusalMessage(field, value, reason, TEXT_ALLOWED),
      "remove the control character (a stray newline from a script?)",
    );
  }
  return value;
}

/**
 * Check what a runtime is about to receive: project paths, target and
 * selector tokens (already split). Every runtime calls this before it
 * builds an argument list, so no path can skip the entry-point checks.
 */
export function checkCall(
  project: { projectDir: string; profilesDir: string; target?: string },
  selection: { select?: readonly string[]; exclude?: readonly string[] } = {},
): void {
  checkText(project.projectDir, "project_dir");
  checkText(project.profilesDir, "profiles_dir");
  if (project.target !== undefined) checkTarget(project.target);
  for (const t of selection.select ?? []) checkSelector(t, "select");
  for (const t of selection.exclude ?? []) checkSelector(t, "exclude");
}
