/**
 * URL helpers (node:url's fileURLToPath without throwing on other schemes).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { isLoopbackAddress } from "./loopback.ts";

/** The path of a file: URL, or undefined for any other URL. */
export function fromFileUrl(url: string): string | undefined {
  return url.startsWith("file:") ? fileURLToPath(url) : undefined;
}

/**
 * Whether a URL host is a loopback name or address (127/8, ::1, the mapped
 * ::ffff:127.x, localhost; in any spelling: see loopback.ts).
 */
export function isLoopbackHost(hostname: string): boolean {
  return isLoopbackAddress(hostname);
}

/**
 * Whether a URL may carry credentials: https, or http to a loopback host
 * (a local test server or a sidecar on the same machine).
 */
export function isSecureUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  return u.protocol === "https:" ||
    (u.protocol === "http:" && isLoopbackHost(u.hostname));
}
