/**
 * Test helpers: fresh copies of the example project, the repo root, running
 * the CLI as a real process.
 *
 * @module
 */
import { dirname, fromFileUrl, join } from "./_path.ts";

/** The repository root. */
export const ROOT = dirname(dirname(fromFileUrl(import.meta.url)));
/** The bundled example project. */
export const EXAMPLE = join(ROOT, "examples", "jaffle_duck");

const SKIP = new Set(["target", "logs", ".floe", "dbt_packages"]);

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (SKIP.has(e.name)) continue;
    const src = join(from, e.name);
    const dst = join(to, e.name);
    if (e.isDirectory) await copyDir(src, dst);
    else if (e.isFile) await Deno.copyFile(src, dst);
  }
}

/** A fresh copy of the example project in a temp dir; remove it when done. */
export async function copyExample(
  prefix = "floe-dbt-test-",
): Promise<{ dir: string; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix });
  await copyDir(EXAMPLE, dir);
  return {
    dir,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Write a file under a project, creating directories. */
export async function writeFile(
  projectDir: string,
  rel: string,
  text: string,
): Promise<void> {
  const path = join(projectDir, rel);
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, text);
}

/** Run the agent's CLI (main.ts) as a real process. */
export async function runAgent(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", join(ROOT, "main.ts"), ...args],
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...(options.env ?? {}) },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}
