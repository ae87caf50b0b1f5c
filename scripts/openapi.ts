/**
 * Write the checked-in API documents from the code: `docs/openapi.json` (the
 * daemon's OpenAPI document). `--check` exits 1 when a file is stale.
 *
 * @module
 */
import { openApiDocument } from "../src/daemon/openapi.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** The documents and their text. */
export function documents(): Record<string, string> {
  return {
    "docs/openapi.json": JSON.stringify(openApiDocument(), null, 2) + "\n",
  };
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  let stale = 0;
  for (const [path, text] of Object.entries(documents())) {
    const file = ROOT + path;
    const now = await Deno.readTextFile(file).catch(() => "");
    if (now === text) continue;
    if (check) {
      console.error(`${path} is stale: run 'deno task openapi'`);
      stale++;
    } else {
      await Deno.writeTextFile(file, text);
      console.error(`wrote ${path}`);
    }
  }
  Deno.exit(stale ? 1 : 0);
}
