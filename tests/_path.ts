/**
 * Path helpers for tests (node:path plus fromFileUrl).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
export { basename, dirname, join, relative, resolve } from "node:path";

/** The path of a file: URL. */
export function fromFileUrl(url: string): string {
  return fileURLToPath(url);
}
