/**
 * Slim-run figures for `deno task bench`: on a synthetic project with one
 * model edited before each measurement, `run --changed` through the warm
 * agent against a full `run` through the warm agent and against plain
 * `dbt run` (dbt-core's CLI), for the local and fusion runtimes; one run
 * each, as ratios. Usage alone: deno run -A scripts/bench_slim.ts [models]
 *
 * @module
 */
import { join } from "node:path";
import { defaultConfig, type RuntimeName } from "../src/config/config.ts";
import { createRuntime } from "../src/registry.ts";
import type { ProjectRef } from "../src/contract/runtime.ts";
import { generateProject } from "./synthetic.ts";

const ENV = { DBT_SEND_ANONYMOUS_USAGE_STATS: "false", NO_COLOR: "1" };

/** One runtime's figures (seconds, ratios). */
export interface SlimFigures {
  runtime: string;
  models: number;
  changed_nodes: number;
  plain_dbt_run_s: number;
  warm_full_run_s: number;
  warm_changed_run_s: number;
  changed_vs_full: number;
  changed_vs_plain_dbt: number;
}

async function dbt(root: string, dir: string, command: string) {
  const out = await new Deno.Command(join(root, ".venv/dbt-core/bin/dbt"), {
    args: [command, "--project-dir", dir, "--profiles-dir", dir],
    cwd: dir,
    env: ENV,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `dbt ${command} failed: ${
        new TextDecoder().decode(out.stdout).slice(-800)
      }`,
    );
  }
}

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const r = await f();
  return [(performance.now() - t) / 1000, r];
}

/**
 * Rewrite a chain model (m_0253, or m_0013 in projects under 253 models):
 * 8 models from it to its chain's end.
 */
function edit(dir: string, models: number, k: number): Promise<void> {
  const i = models >= 253 ? 253 : 13;
  const name = (n: number) => `m_${String(n).padStart(4, "0")}`;
  return Deno.writeTextFile(
    join(dir, "models", `${name(i)}.sql`),
    `select id, name, value + ${k} as value from {{ ref('${name(i - 1)}') }}\n`,
  );
}

async function benchOne(
  root: string,
  name: RuntimeName,
  models: number,
): Promise<SlimFigures> {
  const dir = await Deno.makeTempDir({ prefix: `floe-bench-slim-${name}-` });
  try {
    await generateProject(dir, models);
    await dbt(root, dir, "seed");
    await dbt(root, dir, "run"); // relations and partial parse file
    const rt = createRuntime(name, defaultConfig());
    const project: ProjectRef = { projectDir: dir, profilesDir: dir };
    try {
      // Warm-up: the worker starts, parses, and the state is kept.
      const warm = await rt.execute("run", project);
      if (!warm.success) throw new Error(`${name}: warm-up run failed`);
      let k = 100;
      await edit(dir, models, k++);
      const [full, fr] = await timed(() => rt.execute("run", project));
      if (!fr.success || fr.models_run !== models) {
        throw new Error(`${name}: full run ran ${fr.models_run} models`);
      }
      await edit(dir, models, k++);
      const [changed, cr] = await timed(() =>
        rt.execute("run", project, { changed: true })
      );
      const nodes = (cr.metadata.changed_nodes as string[] | null)?.length ??
        -1;
      if (!cr.success || nodes < 1 || nodes > 20) {
        throw new Error(`${name}: --changed selected ${nodes} nodes`);
      }
      await edit(dir, models, k++);
      const [plain] = await timed(() => dbt(root, dir, "run"));
      return {
        runtime: name,
        models,
        changed_nodes: nodes,
        plain_dbt_run_s: plain,
        warm_full_run_s: full,
        warm_changed_run_s: changed,
        changed_vs_full: full / changed,
        changed_vs_plain_dbt: plain / changed,
      };
    } finally {
      await rt.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Run the slim bench for local and fusion (a failure is reported, not thrown). */
export async function benchSlim(
  root: string,
  models = 500,
): Promise<Record<string, SlimFigures | { error: string }>> {
  const out: Record<string, SlimFigures | { error: string }> = {};
  for (const name of ["local", "fusion"] as const) {
    try {
      out[name] = await benchOne(root, name, models);
    } catch (e) {
      out[name] = { error: String(e).split("\n")[0]!.slice(0, 300) };
    }
  }
  return out;
}

/** Table rows: [measure, median s, min-max s, n, vs plain dbt]. */
export function slimRows(
  figures: Record<string, SlimFigures | { error: string }>,
): string[][] {
  const rows: string[][] = [];
  for (const [name, f] of Object.entries(figures)) {
    if ("error" in f) {
      rows.push([
        `slim ${name}: run --changed`,
        "failed",
        f.error.slice(0, 80),
        "0",
        "",
      ]);
      continue;
    }
    const label = `${f.models} models, 1 edited: ${name}`;
    rows.push([
      `${label}: plain dbt run`,
      f.plain_dbt_run_s.toFixed(3),
      "",
      "1",
      "",
    ]);
    rows.push([
      `${label}: full run (warm agent)`,
      f.warm_full_run_s.toFixed(3),
      "",
      "1",
      `${(f.plain_dbt_run_s / f.warm_full_run_s).toFixed(1)}x`,
    ]);
    rows.push([
      `${label}: run --changed, ${f.changed_nodes} nodes (warm agent)`,
      f.warm_changed_run_s.toFixed(3),
      `${f.changed_vs_full.toFixed(1)}x vs full`,
      "1",
      `${f.changed_vs_plain_dbt.toFixed(1)}x`,
    ]);
  }
  return rows;
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname;
  const figures = await benchSlim(root, Number(Deno.args[0] ?? 500));
  console.log(JSON.stringify(figures, null, 2));
  for (const r of slimRows(figures)) console.log(r.join(" | "));
}
