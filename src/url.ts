/**
 * URL helpers (node:url's fileURLToPath without throwing on other schemes).
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The path of a file: URL, or undefined for any other URL. */
export function fromFileUrl(url: string): string | undefined {
  return url.startsWith("file:") ? fileURLToPath(url) : undefined;
}
