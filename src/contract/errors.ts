/**
 * One error class for the whole agent, with stable codes callers branch on.
 *
 * | code           | meaning                                                         | CLI exit | HTTP |
 * | -------------- | --------------------------------------------------------------- | -------- | ---- |
 * | FLOE-DBT-E001  | compilation failed (Jinja, SQL templating, parse)               | 1        | 422  |
 * | FLOE-DBT-E002  | execution failed (a model errored, a test failed, dbt crashed)  | 1        | 500  |
 * | FLOE-DBT-E003  | configuration (dbt_project.yml, profiles.yml, manifest.yaml...)| 2        | 400  |
 * | FLOE-DBT-E004  | the lint process failed (not: the SQL has lint findings)        | 1        | 500  |
 * | FLOE-DBT-E005  | dbt Fusion binary not found, or the wrong binary                | 2        | 503  |
 * | FLOE-DBT-E006  | adapter unavailable for this runtime                            | 2        | 503  |
 * | FLOE-DBT-E007  | timed out waiting (lock wait, remote run, execution deadline)   | 1        | 504  |
 * | FLOE-DBT-E008  | cancelled by the caller                                         | 1        | 409  |
 * | FLOE-DBT-E009  | remote API error (dbt Cloud answered with an error)             | 1        | 502  |
 * | FLOE-DBT-E010  | usage: bad command line or request                              | 2        | 400  |
 * | FLOE-DBT-E011  | forbidden: missing/wrong token, project outside the roots       | 2        | 401/403 |
 * | FLOE-DBT-E012  | not found: no such job or artifact                              | 1        | 404  |
 * | FLOE-DBT-E013  | unavailable: the agent is shutting down                         | 1        | 503  |
 *
 * @module
 */

/** Every stable error code of floe-dbt. */
export const ERROR_CODES = {
  compilation: "FLOE-DBT-E001",
  execution: "FLOE-DBT-E002",
  configuration: "FLOE-DBT-E003",
  lint: "FLOE-DBT-E004",
  fusionNotFound: "FLOE-DBT-E005",
  adapterUnavailable: "FLOE-DBT-E006",
  timeout: "FLOE-DBT-E007",
  cancelled: "FLOE-DBT-E008",
  remoteApi: "FLOE-DBT-E009",
  usage: "FLOE-DBT-E010",
  forbidden: "FLOE-DBT-E011",
  notFound: "FLOE-DBT-E012",
  unavailable: "FLOE-DBT-E013",
} as const;

/** A stable error code such as `FLOE-DBT-E003`. */
export type ErrorCode = typeof ERROR_CODES[keyof typeof ERROR_CODES];

/** What a person should read: the code, what was wrong and what to do. */
export class FloeDbtError extends Error {
  /** Stable code, e.g. `FLOE-DBT-E003`. */
  readonly code: ErrorCode;
  /** What to do next, shown after the message. */
  readonly hint: string | undefined;
  /** Extra structured detail (file, line, key...) safe to print. */
  readonly details: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      hint?: string;
      cause?: unknown;
      details?: Record<string, unknown>;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "FloeDbtError";
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? {};
  }

  /** One line for a person: `FLOE-DBT-E003 message: hint`. */
  override toString(): string {
    return this.hint
      ? `${this.code} ${this.message}\n  hint: ${this.hint}`
      : `${this.code} ${this.message}`;
  }

  /** The JSON body used by the CLI's `--json` errors and the daemon. */
  toJSON(): { code: ErrorCode; message: string; hint?: string } {
    return this.hint
      ? { code: this.code, message: this.message, hint: this.hint }
      : { code: this.code, message: this.message };
  }
}

/** Codes that mean the caller's input or set-up is wrong (CLI exit 2). */
const USER_CODES: ReadonlySet<ErrorCode> = new Set([
  ERROR_CODES.configuration,
  ERROR_CODES.fusionNotFound,
  ERROR_CODES.adapterUnavailable,
  ERROR_CODES.usage,
  ERROR_CODES.forbidden,
]);

/** CLI exit status for an error: 2 for usage or configuration, else 1. */
export function exitCodeFor(error: FloeDbtError): number {
  return USER_CODES.has(error.code) ? 2 : 1;
}

/** HTTP status for an error code. */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case ERROR_CODES.compilation:
      return 422;
    case ERROR_CODES.configuration:
    case ERROR_CODES.usage:
      return 400;
    case ERROR_CODES.fusionNotFound:
    case ERROR_CODES.adapterUnavailable:
    case ERROR_CODES.unavailable:
      return 503;
    case ERROR_CODES.timeout:
      return 504;
    case ERROR_CODES.cancelled:
      return 409;
    case ERROR_CODES.remoteApi:
      return 502;
    case ERROR_CODES.forbidden:
      return 403;
    case ERROR_CODES.notFound:
      return 404;
    default:
      return 500;
  }
}

/** Shorthand for a configuration error (E003). */
export function configError(
  message: string,
  hint?: string,
  details?: Record<string, unknown>,
): FloeDbtError {
  return new FloeDbtError(ERROR_CODES.configuration, message, {
    ...(hint ? { hint } : {}),
    ...(details ? { details } : {}),
  });
}
