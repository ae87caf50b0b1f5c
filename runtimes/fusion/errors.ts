/**
 * Map what Fusion reported on a failed call to the agent's error codes.
 *
 * @module
 */
import {
  ERROR_CODES,
  type ErrorCode,
  FloeDbtError,
} from "../../src/contract/errors.ts";
import type { FusionError } from "./run.ts";

const COMPILE_NAMES =
  /DependencyNotFound|Macro|Jinja|Parse|Syntax|Compil|Render|Yaml|Schema|Unused|Ref|Source/;

/**
 * The code for one Fusion error: parse, Jinja and project-definition errors
 * (dbt0xxx-dbt12xx, and names such as DependencyNotFound or
 * MacroSyntaxInvalid) are compilation errors (E001); database and driver
 * errors (dbt13xx and above) and anything else are execution errors (E002).
 */
export function codeForFusionError(e: FusionError): ErrorCode {
  const n = parseInt(e.code.replace(/^dbt/, ""), 10);
  if (!Number.isNaN(n)) {
    return n < 1300 ? ERROR_CODES.compilation : ERROR_CODES.execution;
  }
  return COMPILE_NAMES.test(e.name)
    ? ERROR_CODES.compilation
    : ERROR_CODES.execution;
}

/** A FloeDbtError for a failed Fusion call, with Fusion's own message. */
export function errorFromFusion(
  command: string,
  errors: FusionError[],
  exitCode: number,
  stderr: string,
): FloeDbtError {
  const first = errors[0];
  if (!first) {
    const tail = stderr.trim().split("\n").slice(-5).join(" | ");
    return new FloeDbtError(
      ERROR_CODES.execution,
      `dbt Fusion ${command} failed (exit ${exitCode})${
        tail ? `: ${tail}` : " without an error message"
      }`,
      { hint: "see the Fusion log (dbt.log) in the call's log directory" },
    );
  }
  const code =
    errors.some((e) => codeForFusionError(e) === ERROR_CODES.compilation)
      ? ERROR_CODES.compilation
      : ERROR_CODES.execution;
  const shown = errors.slice(0, 3).map((e) =>
    e.name ? `[${e.name} (${e.code})] ${e.message}` : e.message
  ).join("\n");
  const more = errors.length > 3 ? `\n(and ${errors.length - 3} more)` : "";
  return new FloeDbtError(
    code,
    `dbt Fusion ${command} failed: ${shown}${more}`,
    {
      hint: code === ERROR_CODES.compilation
        ? "fix the model, YAML or Jinja at the place Fusion names, then run again"
        : "see Fusion's message above; its log is in the call's log directory",
      details: {
        fusion_errors: errors.map((e) => ({ name: e.name, code: e.code })),
      },
    },
  );
}

/** Whether run_results.json exists and records failed or errored nodes. */
export async function hasNodeFailures(path: string): Promise<boolean> {
  try {
    const rr = JSON.parse(await Deno.readTextFile(path)) as {
      results?: { status?: string }[];
    };
    return (rr.results ?? []).some((r) =>
      ["error", "fail", "runtime error"].includes(String(r.status))
    );
  } catch {
    return false;
  }
}
