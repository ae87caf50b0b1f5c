/**
 * The one atomic write: a temp file beside the target, created with O_EXCL
 * (never through a link planted at the temp name) and the given mode, then
 * renamed over the target (rename(2) replaces a file or a link at the name,
 * never follows it). A reader sees the old file or the new one, never half.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";

/** Write `data` to `path` atomically, mode `mode` (default 0600). */
export async function writeAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
): Promise<void> {
  const tmp = join(
    dirname(path),
    `.${basename(path)}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`,
  );
  try {
    const bytes = typeof data === "string"
      ? new TextEncoder().encode(data)
      : data;
    await Deno.writeFile(tmp, bytes, { createNew: true, mode });
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
