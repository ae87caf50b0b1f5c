/**
 * Which dbt Cloud URLs the agent sends its token to: https only (plain http
 * only to a loopback address, for tests and local proxies, by the one
 * loopback rule of src/os/url.ts), and the account's access URL rather than a
 * retired host.
 *
 * @module
 */
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import { isLoopbackHost } from "../../src/os/url.ts";

/** Hosts dbt retires on 2026-11-01 (use the account's access URL instead). */
export const LEGACY_HOSTS = ["cloud.getdbt.com", "emea.dbt.com", "au.dbt.com"];

/** The account's access URL without `/api/v2` or a trailing slash. */
export function accessUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "").replace(/\/api\/v2$/, "");
}

/**
 * Refuse a dbt Cloud URL that is not https (loopback http is allowed, for
 * tests and local proxies): the API token must never travel in clear text.
 */
export function checkHttps(url: string, key: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FloeDbtError(
      ERROR_CODES.configuration,
      `${key} is not a URL: ${JSON.stringify(url)}`,
      { hint: `set ${key} to the account's https access URL` },
    );
  }
  if (u.protocol === "https:") return;
  if (u.protocol === "http:" && isLoopbackHost(u.hostname)) return;
  throw new FloeDbtError(
    ERROR_CODES.configuration,
    `${key} must use https (http only for loopback addresses): ${
      JSON.stringify(url)
    }`,
    {
      hint:
        `set ${key} to an https:// URL, e.g. https://ACCOUNT_PREFIX.us1.dbt.com; the API token is sent with every request`,
    },
  );
}
