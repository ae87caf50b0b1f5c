/**
 * Map dbt-core's exceptions (by class name) to the agent's error codes.
 *
 * @module
 */
import {
  ERROR_CODES,
  type ErrorCode,
  FloeDbtError,
} from "../../src/contract/errors.ts";
import { stripAnsi } from "../../src/dbt/dbt_events.ts";

const COMPILATION =
  /Compilation|Parsing|Jinja|UndefinedMacro|Macro|DbtReference|TargetNotFound|Template|Syntax/;
const CONFIGURATION =
  /Profile|Project|Config|Contract|DbtRuntime.*Config|Selector|Validation|Usage|BadParameter|NoSuchOption|Dependency/;

/** The code for a dbt exception class name (and its message). */
export function codeForDbtException(type: string, message: string): ErrorCode {
  if (COMPILATION.test(type)) return ERROR_CODES.compilation;
  if (CONFIGURATION.test(type)) return ERROR_CODES.configuration;
  if (/Could not find profile|profiles\.yml|dbt_project\.yml/i.test(message)) {
    return ERROR_CODES.configuration;
  }
  return ERROR_CODES.execution;
}

const HINTS: Record<string, string> = {
  [ERROR_CODES.compilation]:
    "fix the Jinja or SQL at the place dbt names, then run again",
  [ERROR_CODES.configuration]:
    "check dbt_project.yml, profiles.yml and the --target / --profiles-dir you passed",
  [ERROR_CODES.execution]:
    "see dbt's message above; logs are in the project's logs/dbt.log",
};

/** A FloeDbtError from a dbt exception, with dbt's own message attached. */
export function errorFromDbt(
  command: string,
  exception: { type: string; message: string },
): FloeDbtError {
  const code = codeForDbtException(exception.type, exception.message);
  const message = stripAnsi(exception.message).trim();
  return new FloeDbtError(
    code,
    `dbt ${command} failed (${exception.type}): ${message}`,
    { hint: HINTS[code], details: { dbt_exception: exception.type } },
  );
}
