/**
 * Compile at scale for `deno task bench` (1000 models by default), as ratios
 * against plain dbt: plain `dbt compile` (dbt-core's CLI, a process per call,
 * partial parsing on), the dbt-core in-process floor (scripts/bench_floor.py:
 * one Python process, the manifest parsed once, dbtRunner calls with it; no
 * agent), the warm agent (the local runtime's worker) and dbt Fusion through
 * the agent. Usage alone (writes bench/results/scale.json):
 *   deno run -A scripts/bench_scale.ts [--models N] [--reps N]
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { defaultConfig } from "../src/config.ts";
import { createRuntime } from "../src/registry.ts";
import type { DbtRuntime } from "../src/runtime.ts";
import { generateProject } from "./synthetic.ts";

const ENV = {
  DBT_SEND_ANONYMOUS_USAGE_STATS: "false",
  NO_COLOR: "1",
  RUST_BACKTRACE: "0",
};

/** Median, min, max of n timings (seconds). */
export interface ScaleStat {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** The scale figures: seconds per compile, and ratios vs plain dbt. */
export interface ScaleFigures {
  models: number;
  plain_dbt: ScaleStat;
  dbt_core_in_process_floor: ScaleStat & { parse_seconds: number };
  agent_warm: ScaleStat;
  fusion_via_agent: ScaleStat | { error: string };
  /** plain dbt median / each median (above 1: faster than plain dbt). */
  ratios_vs_plain_dbt: Record<string, number>;
  /** warm agent median / floor median (1: no overhead at all). */
  agent_over_floor: number;
}

function stat(xs: number[]): ScaleStat {
  const s = [...xs].sort((a, b) => a - b);
  return {
    median: s[Math.floor(s.length / 2)]!,
    min: s[0]!,
    max: s.at(-1)!,
    n: s.length,
  };
}

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    env: ENV,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const dec = new TextDecoder();
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${
        (dec.decode(out.stdout) + dec.decode(out.stderr)).slice(-800)
      }`,
    );
  }
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return (performance.now() - t) / 1000;
}

/** Warm `rt` with one compile, then time `reps` more. */
async function warmCompile(
  rt: DbtRuntime,
  dir: string,
  reps: number,
): Promise<ScaleStat> {
  const project = { projectDir: dir, profilesDir: dir };
  await rt.execute("compile", project);
  const xs: number[] = [];
  for (let i = 0; i < reps; i++) {
    xs.push(await timed(() => rt.execute("compile", project)));
  }
  return stat(xs);
}

/** Measure compile at `models` models, `reps` timed calls of each. */
export async function benchScale(
  root: string,
  models = 1000,
  reps = 3,
): Promise<ScaleFigures> {
  const dbt = join(root, ".venv/dbt-core/bin/dbt");
  const python = join(root, ".venv/dbt-core/bin/python");
  const dir = await Deno.makeTempDir({ prefix: `floe-bench-scale-${models}-` });
  try {
    await generateProject(dir, models);
    const dbtArgs = ["--project-dir", dir, "--profiles-dir", dir];
    // Relations and the partial-parse file, as a project in use has them.
    await run(dbt, ["build", ...dbtArgs], dir);
    const plainXs: number[] = [];
    for (let i = 0; i < reps; i++) {
      plainXs.push(await timed(() => run(dbt, ["compile", ...dbtArgs], dir)));
    }
    const plain = stat(plainXs);

    // The floor gets the agent's own flags (see LocalRuntime.execute).
    const out = join(dir, ".floe", "floor.json");
    const logLevelFile = defaultConfig().plugins.dbt_runtime_config.local
      ?.log_level_file ?? "info";
    await run(python, [
      join(root, "scripts/bench_floor.py"),
      out,
      String(reps),
      "compile",
      ...dbtArgs,
      "--log-level",
      "none",
      "--log-level-file",
      logLevelFile,
    ], dir);
    const f = JSON.parse(await Deno.readTextFile(out)) as {
      seconds: number[];
      parse_seconds: number;
    };
    const floor = { ...stat(f.seconds), parse_seconds: f.parse_seconds };

    const local = new LocalRuntime();
    const agent = await warmCompile(local, dir, reps).finally(() =>
      local.close()
    );

    let fusion: ScaleStat | { error: string };
    const rt = createRuntime("fusion", defaultConfig());
    try {
      const av = await rt.availability();
      fusion = av.available
        ? await warmCompile(rt, dir, reps)
        : { error: av.reason ?? "unavailable" };
    } catch (e) {
      fusion = { error: String(e).split("\n")[0]! };
    } finally {
      await rt.close();
    }

    const ratios: Record<string, number> = {
      dbt_core_in_process_floor: plain.median / floor.median,
      agent_warm: plain.median / agent.median,
    };
    if ("median" in fusion) {
      ratios.fusion_via_agent = plain.median / fusion.median;
    }
    return {
      models,
      plain_dbt: plain,
      dbt_core_in_process_floor: floor,
      agent_warm: agent,
      fusion_via_agent: fusion,
      ratios_vs_plain_dbt: ratios,
      agent_over_floor: agent.median / floor.median,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Table rows (measure, median s, min-max s, n, vs plain dbt). */
export function scaleRows(f: ScaleFigures): string[][] {
  const label = `${f.models} models`;
  const row = (what: string, s: ScaleStat, ratio?: number) => [
    `${label}: ${what}`,
    s.median.toFixed(3),
    `${s.min.toFixed(3)}-${s.max.toFixed(3)}`,
    String(s.n),
    ratio === undefined ? "" : `${ratio.toFixed(1)}x`,
  ];
  const r = f.ratios_vs_plain_dbt;
  const rows = [
    row("plain dbt compile", f.plain_dbt),
    row(
      "dbt-core in-process floor compile (dbtRunner, parsed manifest, no agent)",
      f.dbt_core_in_process_floor,
      r.dbt_core_in_process_floor,
    ),
    row(
      `floe-dbt compile (warm agent; ${
        f.agent_over_floor.toFixed(2)
      }x the floor)`,
      f.agent_warm,
      r.agent_warm,
    ),
  ];
  rows.push(
    "median" in f.fusion_via_agent
      ? row("fusion compile via agent", f.fusion_via_agent, r.fusion_via_agent)
      : [
        `${label}: fusion compile via agent`,
        "failed",
        f.fusion_via_agent.error.slice(0, 80),
        "0",
        "",
      ],
  );
  return rows;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      models: { type: "string", default: "1000" },
      reps: { type: "string", default: "3" },
    },
  });
  const root = new URL("..", import.meta.url).pathname;
  const figures = await benchScale(
    root,
    Number(values.models),
    Number(values.reps),
  );
  await Deno.mkdir(join(root, "bench/results"), { recursive: true });
  await Deno.writeTextFile(
    join(root, "bench/results/scale.json"),
    JSON.stringify(figures, null, 2),
  );
  console.log(JSON.stringify(figures, null, 2));
  for (const r of scaleRows(figures)) console.log(r.join(" | "));
}
