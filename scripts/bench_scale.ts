/**
 * Compile at scale for `deno task bench` (1000 models by default), as ratios
 * against plain dbt: plain `dbt compile` (dbt-core's CLI, a process per call,
 * partial parsing on), the dbt-core in-process floor (scripts/bench_floor.py:
 * one Python process, the manifest parsed once, dbtRunner calls with it; no
 * agent), the warm agent (the local runtime's worker) and dbt Fusion through
 * the agent, interleaved round by round. Usage alone (writes bench/results/scale.json):
 *   deno run -A scripts/bench_scale.ts [--models N] [--reps N]
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { defaultConfig } from "../src/config/config.ts";
import { createRuntime } from "../src/registry.ts";
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

/** Lines of a child's stdout, one at a time. */
function lineReader(stream: ReadableStream<Uint8Array>) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  return async (): Promise<string> => {
    while (!buf.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the floor process ended early");
      buf += value;
    }
    const i = buf.indexOf("\n");
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    if (line.startsWith("error ")) throw new Error(line.slice(6));
    return line;
  };
}

/**
 * Measure compile at `models` models, `reps` timed calls of each. The four
 * are interleaved (one call of each per round, the order rotating), so a
 * machine whose load changes during the bench weighs on all of them alike.
 */
export async function benchScale(
  root: string,
  models = 1000,
  reps = 3,
): Promise<ScaleFigures> {
  const dbt = join(root, ".venv/dbt-core/bin/dbt");
  const python = join(root, ".venv/dbt-core/bin/python");
  const dir = await Deno.makeTempDir({ prefix: `floe-bench-scale-${models}-` });
  const project = { projectDir: dir, profilesDir: dir };
  const local = new LocalRuntime();
  const fusionRt = createRuntime("fusion", defaultConfig());
  let floorProc: Deno.ChildProcess | undefined;
  try {
    await generateProject(dir, models);
    const dbtArgs = ["--project-dir", dir, "--profiles-dir", dir];
    // Relations and the partial-parse file, as a project in use has them.
    await run(dbt, ["build", ...dbtArgs], dir);

    // The floor gets the agent's own flags (see LocalRuntime.execute); it
    // parses and warms up before the first round, as the others do.
    const logLevelFile = defaultConfig().plugins.dbt_runtime_config.local
      ?.log_level_file ?? "info";
    floorProc = new Deno.Command(python, {
      args: [
        join(root, "scripts/bench_floor.py"),
        "compile",
        ...dbtArgs,
        "--log-level",
        "none",
        "--log-level-file",
        logLevelFile,
      ],
      cwd: dir,
      env: ENV,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const floorLine = lineReader(floorProc.stdout);
    const floorIn = floorProc.stdin.getWriter();
    const parseSeconds = Number((await floorLine()).split(" ")[1]);
    await local.execute("compile", project);
    let fusionError: string | undefined;
    try {
      const av = await fusionRt.availability();
      if (av.available) await fusionRt.execute("compile", project);
      else fusionError = av.reason ?? "unavailable";
    } catch (e) {
      fusionError = String(e).split("\n")[0]!;
    }

    const kinds = ["plain", "floor", "agent", "fusion"] as const;
    const xs: Record<(typeof kinds)[number], number[]> = {
      plain: [],
      floor: [],
      agent: [],
      fusion: [],
    };
    const once: Record<(typeof kinds)[number], () => Promise<number>> = {
      plain: () => timed(() => run(dbt, ["compile", ...dbtArgs], dir)),
      floor: async () => {
        await floorIn.write(new TextEncoder().encode("go\n"));
        return Number(await floorLine());
      },
      agent: () => timed(() => local.execute("compile", project)),
      fusion: () => timed(() => fusionRt.execute("compile", project)),
    };
    for (let i = 0; i < reps; i++) {
      const order = [...kinds.slice(i % 4), ...kinds.slice(0, i % 4)];
      for (const k of order) {
        if (k === "fusion" && fusionError) continue;
        xs[k].push(await once[k]());
      }
    }
    await floorIn.close();
    await floorProc.status;
    floorProc = undefined;

    const plain = stat(xs.plain);
    const floor = { ...stat(xs.floor), parse_seconds: parseSeconds };
    const agent = stat(xs.agent);
    const fusion = fusionError ? { error: fusionError } : stat(xs.fusion);
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
    if (floorProc) {
      try {
        floorProc.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    await local.close();
    await fusionRt.close();
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
