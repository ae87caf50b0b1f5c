/**
 * What the fake dbt Cloud runs: real dbt-core through the local runtime on a
 * copy of the example project (the contract suite), or the artifacts of one
 * real `dbt build`, generated once and kept in the temp dir by a hash of the
 * example's files (the other cloud tests).
 *
 * @module
 */
import { LocalRuntime } from "../../runtimes/local/mod.ts";
import type { DbtCommand } from "../../src/contract/schemas.ts";
import { copyExample, EXAMPLE } from "../_helpers.ts";
import { join, relative } from "../_path.ts";
import type { Executor } from "./fake_server.ts";

const NAMES = ["manifest.json", "run_results.json", "catalog.json"];

async function readArtifacts(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of NAMES) {
    try {
      out[n] = await Deno.readTextFile(join(dir, n));
    } catch { /* absent, like a run without docs */ }
  }
  return out;
}

/** Parse `dbt CMD [--select a b] [--exclude c] [--full-refresh]`. */
export function parseStep(step: string) {
  const [dbt, command, ...rest] = step.split(/\s+/);
  if (dbt !== "dbt" || !command) throw new Error(`not a dbt step: ${step}`);
  const select: string[] = [];
  const exclude: string[] = [];
  let fullRefresh = false;
  let into: string[] | undefined;
  for (const t of rest) {
    if (t === "--select" || t === "-s") into = select;
    else if (t === "--exclude") into = exclude;
    else if (t === "--full-refresh") fullRefresh = true;
    else if (into) into.push(t);
    else throw new Error(`unexpected token ${t}`);
  }
  return { command: command as DbtCommand, select, exclude, fullRefresh };
}

/** Runs each step with real dbt-core on `projectDir`. */
export function localExecutor(
  runtime: LocalRuntime,
  projectDir: string,
): Executor {
  return async (steps) => {
    let ok = true;
    for (const step of steps) {
      const s = parseStep(step);
      const r = await runtime.execute(s.command, {
        projectDir,
        profilesDir: projectDir,
      }, s);
      ok &&= r.success;
    }
    return { ok, artifacts: await readArtifacts(join(projectDir, "target")) };
  };
}

/** Always answers with the same artifacts. */
export function staticExecutor(
  artifacts: Record<string, string>,
  ok = true,
): Executor {
  return () => Promise.resolve({ ok, artifacts });
}

async function exampleHash(): Promise<string> {
  const parts: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (["target", "logs", ".floe", "dbt_packages"].includes(e.name)) {
        continue;
      }
      const p = join(dir, e.name);
      if (e.isDirectory) await walk(p);
      else parts.push(`${relative(EXAMPLE, p)}\0${await Deno.readTextFile(p)}`);
    }
  };
  await walk(EXAMPLE);
  parts.sort();
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(parts.join("\n")),
  );
  return [...new Uint8Array(digest)].slice(0, 8).map((b) =>
    b.toString(16).padStart(2, "0")
  ).join("");
}

/** The artifacts of a real `dbt build` of the example (generated once). */
export async function realBuildArtifacts(): Promise<Record<string, string>> {
  const dir = join(
    Deno.env.get("TMPDIR") ?? "/tmp",
    `floe-dbt-cloud-fixture-${await exampleHash()}`,
  );
  const cached = await readArtifacts(dir);
  if (cached["manifest.json"] && cached["run_results.json"]) return cached;
  await using copy = await copyExample();
  const runtime = new LocalRuntime();
  try {
    const r = await runtime.execute("build", {
      projectDir: copy.dir,
      profilesDir: copy.dir,
    });
    if (!r.success) throw new Error("the example's build failed");
  } finally {
    await runtime.close();
  }
  const artifacts = await readArtifacts(join(copy.dir, "target"));
  const tmp = `${dir}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(tmp, { recursive: true });
  for (const [n, t] of Object.entries(artifacts)) {
    await Deno.writeTextFile(join(tmp, n), t);
  }
  await Deno.rename(tmp, dir).catch(() =>
    Deno.remove(tmp, { recursive: true })
  );
  return artifacts;
}
