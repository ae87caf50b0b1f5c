/**
 * The one FLOE-DBT-E007 for a call stopped at its deadline (dbt-core's
 * worker, Fusion, SQLFluff, a dbt Cloud run): what did not finish, in how
 * many seconds, what was done about it, and what to try.
 *
 * @module
 */
import { ERROR_CODES, FloeDbtError } from "./errors.ts";

/**
 * `${what} did not finish within its deadline of ${seconds} s; ${done}`,
 * with `hint`, and `timeout_seconds` (plus `details`) in its details.
 */
export function deadlineError(
  what: string,
  seconds: number | undefined,
  done: string,
  hint: string,
  details: Record<string, unknown> = {},
): FloeDbtError {
  return new FloeDbtError(
    ERROR_CODES.timeout,
    `${what} did not finish within its deadline of ${seconds} s; ${done}`,
    { hint, details: { timeout_seconds: seconds, ...details } },
  );
}
