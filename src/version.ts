/**
 * The agent's version and the floe API version it implements.
 *
 * @module
 */

/** Agent version shown by `--version` and `GET /v1/version`. */
export const AGENT_VERSION = "0.1.0";
