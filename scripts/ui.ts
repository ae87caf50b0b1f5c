/**
 * Build the daemon page's script: bundle src/daemon/ui/browser/main.ts for
 * the browser (`deno bundle`, offline once esbuild is cached) into
 * src/daemon/ui/app_js.ts, a string the agent serves and carries inside its
 * single artifact. `--check` exits 1 when that file is stale.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname;
const ENTRY = "src/daemon/ui/browser/main.ts";
const OUT = "src/daemon/ui/app_js.ts";

/** The generated module's text. */
export async function appJsModule(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", ENTRY],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `deno bundle failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const js = new TextDecoder().decode(out.stdout);
  return `/**
 * The daemon page's script, bundled from src/daemon/ui/browser/ by
 * \`deno task ui\` (generated: do not edit).
 *
 * @module
 */

/** The page's script (an ES module). */
export const APP_JS = ${JSON.stringify(js)};
`;
}

if (import.meta.main) {
  const text = await appJsModule();
  const now = await Deno.readTextFile(ROOT + OUT).catch(() => "");
  if (now === text) {
    console.error(`${OUT} is up to date`);
  } else if (Deno.args.includes("--check")) {
    console.error(`${OUT} is stale: run 'deno task ui'`);
    Deno.exit(1);
  } else {
    await Deno.writeTextFile(ROOT + OUT, text);
    console.error(`wrote ${OUT}`);
  }
}
