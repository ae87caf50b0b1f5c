/**
 * `deno task bench`: the agent against plain dbt on the same synthetic
 * projects, in one run, as ratios (compile also at 1000 models, with the
 * dbt-core in-process floor: scripts/bench_scale.ts). Prints a table and
 * writes bench/results/latest.json. Usage: deno task bench [--quick]
 *
 * @module
 */
import { join, resolve } from "node:path";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { defaultConfig } from "../src/config/config.ts";
import { createRuntime } from "../src/registry.ts";
import type { DbtRuntime } from "../src/contract/runtime.ts";
import { benchDaemon } from "./bench_daemon.ts";
import { benchOrch, orchRows } from "./bench_orch.ts";
import { benchParallel } from "./bench_parallel.ts";
import { benchScale, scaleRows } from "./bench_scale.ts";
import { benchSkip, skipRows } from "./bench_skip.ts";
import { benchSlim, slimRows } from "./bench_slim.ts";
import { generateProject } from "./synthetic.ts";

const ROOT = resolve(new URL("..", import.meta.url).pathname);
const DBT = join(ROOT, ".venv/dbt-core/bin/dbt");
const quick = Deno.args.includes("--quick");
const SIZES = quick ? [50] : [50, 500];
const REPS = (n: number) => quick ? 3 : n >= 500 ? 3 : 5;
const ENV = {
  DBT_SEND_ANONYMOUS_USAGE_STATS: "false",
  NO_COLOR: "1",
  RUST_BACKTRACE: "0",
};

interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

function stat(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  return {
    median: s[Math.floor(s.length / 2)]!,
    min: s[0]!,
    max: s.at(-1)!,
    n: s.length,
  };
}

async function timeIt(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return (performance.now() - t) / 1000;
}

async function repeat(n: number, f: () => Promise<unknown>): Promise<Stat> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await timeIt(f));
  return stat(xs);
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

const plainDbt = (dir: string, command: string) => () =>
  run(DBT, [command, "--project-dir", dir, "--profiles-dir", dir], dir);
const agentProcess = (dir: string, command: string) => () =>
  run(Deno.execPath(), [
    "run",
    "-A",
    "--quiet",
    join(ROOT, "main.ts"),
    command,
    "--project-dir",
    dir,
    "--quiet",
  ], ROOT);

const results: Record<string, unknown> = {
  machine: {
    cores: navigator.hardwareConcurrency,
    date: new Date().toISOString(),
  },
};
const rows: string[][] = [];
const row = (what: string, s: Stat, base?: Stat) =>
  rows.push([
    what,
    s.median.toFixed(3),
    `${s.min.toFixed(3)}-${s.max.toFixed(3)}`,
    String(s.n),
    base ? `${(base.median / s.median).toFixed(1)}x` : "",
  ]);

async function warm(
  rt: DbtRuntime,
  dir: string,
  command: "compile" | "run",
  n: number,
) {
  const project = { projectDir: dir, profilesDir: dir };
  await rt.execute(command, project); // warm-up: parse once
  const walls: number[] = [];
  const overheads: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await rt.execute(command, project);
    const wall = (performance.now() - t) / 1000;
    walls.push(wall);
    overheads.push(wall - Number(r.metadata.dbt_elapsed_seconds ?? 0));
  }
  return { wall: stat(walls), overhead: stat(overheads) };
}

for (const size of SIZES) {
  const dir = await Deno.makeTempDir({ prefix: `floe-bench-${size}-` });
  await generateProject(dir, size);
  const n = REPS(size);
  await run(DBT, ["build", "--project-dir", dir, "--profiles-dir", dir], dir); // create relations, partial parse file
  const r: Record<string, unknown> = {};
  for (const command of ["compile", "run"] as const) {
    const plain = await repeat(n, plainDbt(dir, command));
    const cold = await repeat(n, agentProcess(dir, command));
    const local = new LocalRuntime();
    const w = await warm(local, dir, command, n);
    await local.close();
    row(`${size} models: plain dbt ${command}`, plain);
    row(`${size} models: floe-dbt ${command} (cold process)`, cold, plain);
    row(`${size} models: floe-dbt ${command} (warm agent)`, w.wall, plain);
    row(`${size} models: agent overhead, warm ${command}`, w.overhead);
    r[command] = {
      plain_dbt: plain,
      agent_cold_process: cold,
      agent_warm: w.wall,
      agent_overhead: w.overhead,
      warm_speedup: plain.median / w.wall.median,
    };
    const fusion = createRuntime("fusion", defaultConfig());
    try {
      if ((await fusion.availability()).available) {
        const f = await warm(fusion, dir, command, n);
        row(`${size} models: fusion ${command} via agent`, f.wall, plain);
        r[`fusion_${command}`] = {
          wall: f.wall,
          ratio_vs_plain_dbt: plain.median / f.wall.median,
        };
      }
    } catch (e) {
      rows.push([
        `${size} models: fusion ${command} via agent`,
        "failed",
        String(e).split("\n")[0]!.slice(0, 80),
        "0",
        "",
      ]);
      r[`fusion_${command}`] = { error: String(e) };
    } finally {
      await fusion.close();
    }
  }
  if (size === 50) {
    const local = new LocalRuntime();
    const lintWall = await timeIt(() =>
      local.lintProject({ projectDir: dir, profilesDir: dir })
    );
    await local.close();
    rows.push([
      `${size} models: floe-dbt lint (SQLFluff, dbt templater)`,
      lintWall.toFixed(3),
      "",
      "1",
      `${(lintWall / size * 1000).toFixed(0)} ms/file`,
    ]);
    r.lint = { wall_seconds: lintWall, per_file_ms: lintWall / size * 1000 };
  }
  results[`models_${size}`] = r;
  await Deno.remove(dir, { recursive: true });
}

// Compile at 1000 models: plain dbt, the dbt-core in-process floor, the warm
// agent, Fusion through the agent (scripts/bench_scale.ts).
if (!quick) {
  const scale = await benchScale(ROOT, 1000, 3);
  rows.push(...scaleRows(scale));
  results.models_1000_compile = scale;
}

// Plugin initialization: constructing a runtime and reading its metadata.
const init = stat(Array.from({ length: 20 }, () => {
  const t = performance.now();
  const rt = new LocalRuntime();
  rt.getRuntimeMetadata();
  return (performance.now() - t) / 1000;
}));
row("plugin initialization (LocalRuntime)", init);
results.plugin_init = init;

// A 10 MB manifest through getManifest.
{
  const dir = await Deno.makeTempDir({ prefix: "floe-bench-manifest-" });
  await Deno.writeTextFile(
    join(dir, "dbt_project.yml"),
    "name: big\nprofile: big\n",
  );
  await Deno.mkdir(join(dir, "target"));
  const nodes: Record<string, unknown> = {};
  let i = 0;
  let text = "";
  while (text.length < 10 * 1024 * 1024) {
    for (let k = 0; k < 500; k++, i++) {
      nodes[`model.big.m_${i}`] = {
        unique_id: `model.big.m_${i}`,
        raw_code: "select 1 as id ".repeat(20),
        depends_on: { nodes: [`model.big.m_${i - 1}`] },
        config: { materialized: "view" },
      };
    }
    text = JSON.stringify({
      metadata: {
        dbt_schema_version: "https://schemas.getdbt.com/dbt/manifest/v12.json",
      },
      nodes,
    });
  }
  await Deno.writeTextFile(join(dir, "target", "manifest.json"), text);
  const rt = new LocalRuntime();
  const read = await repeat(
    10,
    () => rt.getManifest({ projectDir: dir, profilesDir: dir }),
  );
  row(
    `getManifest, ${(text.length / 1024 / 1024).toFixed(1)} MB manifest`,
    read,
  );
  results.manifest_10mb = { bytes: text.length, ...read };
  await Deno.remove(dir, { recursive: true });
}

// Slim runs: one model edited, --changed vs a full run vs plain dbt run.
{
  const slim = await benchSlim(ROOT, quick ? 50 : 500);
  rows.push(...slimRows(slim));
  results.slim = slim;
}

// --skip-unchanged: nothing changed, and new rows in 5% of the sources, vs a
// full warm build (local, then fusion).
{
  const local = await benchSkip("local", quick ? 100 : 500, quick ? 1 : 3);
  const fusion = await benchSkip("fusion", quick ? 100 : 500, quick ? 1 : 3);
  rows.push(...skipRows(local), ...skipRows(fusion));
  results.skip_unchanged = { local, fusion };
}

// The daemon: submission latency, GET throughput and p99, memory.
{
  const d = await benchDaemon(ROOT);
  rows.push([
    "daemon: POST /v1/jobs latency (median / p99)",
    d.submit_median_s!.toFixed(4),
    `p99 ${d.submit_p99_s!.toFixed(4)}`,
    "30",
    "",
  ]);
  rows.push([
    "daemon: GET /v1/jobs/{id}, 10 clients (p50 / p99)",
    d.get_p50_s!.toFixed(4),
    `p99 ${d.get_p99_s!.toFixed(4)}`,
    String(d.get_requests),
    `${d.get_throughput_rps!.toFixed(0)} req/s`,
  ]);
  rows.push([
    "daemon: RSS idle / peak under load (MiB)",
    d.rss_idle_mb!.toFixed(1),
    `peak ${d.rss_peak_under_load_mb!.toFixed(1)}`,
    "",
    "",
  ]);
  results.daemon = d;
}

// Two projects' builds at once vs one after the other (warm workers).
{
  const p = await benchParallel(50, quick ? 2 : 3);
  rows.push([
    "runner: 2 projects' builds at once vs one after the other",
    p.parallel_median_s.toFixed(3),
    `sequential ${p.sequential_median_s.toFixed(3)}`,
    String(p.reps),
    `${p.ratio.toFixed(2)}x`,
  ]);
  results.parallel_projects = p;
}

// Dagster: floe_dbt_assets through the warm agent vs dagster-dbt's
// @dbt_assets + DbtCliResource on one synthetic 50-model project
// (scripts/bench_python.sh makes its own venv and writes python.json).
{
  const out = await new Deno.Command("bash", {
    args: [
      join(ROOT, "scripts/bench_python.sh"),
      "--models",
      "50",
      "--rounds",
      quick ? "1" : "3",
    ],
    cwd: ROOT,
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("scripts/bench_python.sh failed");
  const py = JSON.parse(
    await Deno.readTextFile(join(ROOT, "bench/results/python.json")),
  );
  const walls = py.floe_dbt_assets_seconds as number[];
  rows.push([
    "dagster: floe_dbt_assets (50 models) vs dagster-dbt @dbt_assets",
    py.floe_median.toFixed(3),
    `${Math.min(...walls).toFixed(3)}-${Math.max(...walls).toFixed(3)}`,
    String(py.rounds),
    `dagster-dbt / floe ${py.ratio_dagster_dbt_over_floe.toFixed(2)}x`,
  ]);
  rows.push([
    "dagster: agent dispatch overhead per node (ms)",
    py.agent_dispatch_overhead_ms_per_node.toFixed(1),
    "",
    String(py.rounds),
    "",
  ]);
  results.python = py;
}

// Orchestrators at scale: Dagster definitions load (floe_dbt_assets vs
// dagster-dbt), Airflow DAG parse and a 200-model build (FloeDbtTaskGroup vs
// cosmos); scripts/bench_orch.ts.
{
  const o = await benchOrch(ROOT, quick);
  rows.push(...orchRows(o));
  results.orchestrators = o;
}

const header = ["measure", "median s", "min-max s", "n", "vs plain dbt"];
const widths = header.map((h, i) =>
  Math.max(h.length, ...rows.map((r) => r[i]!.length))
);
const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join(" | ");
const table = [
  fmt(header),
  widths.map((w) => "-".repeat(w)).join("-|-"),
  ...rows.map(fmt),
].join("\n");
await Deno.mkdir(join(ROOT, "bench/results"), { recursive: true });
await Deno.writeTextFile(
  join(ROOT, "bench/results/latest.json"),
  JSON.stringify({ ...results, table }, null, 2),
);
console.log(table);
console.log(`\nwritten: bench/results/latest.json`);
