/**
 * `floe-dbt state clear [--target T]`: forget the state floe-dbt keeps for a
 * project (`.floe/state/<target>/`: the kept manifest `--changed` compares
 * with, and the input keys `--skip-unchanged` reuses by), for one target or
 * all. The next build builds everything and keeps them again. Nothing is
 * removed through a link.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import { checkDirInside, removeOwned } from "../os/safe_fs.ts";
import type { CliArgs } from "./args.ts";

/** Where the command writes. */
export interface StateIo {
  out(text: string): void;
}

/** A target folder name floe-dbt writes (src/dbt/state.ts). */
const TARGET_DIR = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Run `state clear`; returns the exit code. */
export async function stateCommand(
  args: Pick<CliArgs, "positionals" | "projectDir" | "target" | "json">,
  io: StateIo,
): Promise<number> {
  if (args.positionals.length !== 1 || args.positionals[0] !== "clear") {
    throw new FloeDbtError(
      ERROR_CODES.usage,
      `Usage: floe-dbt state clear [--target T] (got '${
        args.positionals.join(" ")
      }')`,
      {
        hint: "clear forgets the kept state of one target (--target) or of all",
      },
    );
  }
  const root = resolve(args.projectDir);
  const dir = join(root, ".floe", "state");
  const removed: string[] = [];
  if (await checkDirInside(root, dir, "floe-dbt state directory")) {
    const names: string[] = [];
    if (args.target) names.push(args.target);
    else {
      for await (const e of Deno.readDir(dir)) names.push(e.name);
    }
    for (const name of names.sort()) {
      if (await removeOwned(dir, name, TARGET_DIR)) removed.push(name);
    }
  }
  if (args.json) io.out(JSON.stringify({ dir, removed }));
  else if (removed.length === 0) io.out(`${dir}: no kept state to clear`);
  else io.out(`cleared the kept state of ${removed.join(", ")} in ${dir}`);
  return 0;
}
