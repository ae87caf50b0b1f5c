/**
 * The `--skip-unchanged` part of `deno task bench`: a synthetic project of N
 * table models in chains over S DuckDB source tables, built warm through
 * the agent's runtime stack; (a) nothing changed: a `--skip-unchanged`
 * build vs a full build; (b) new rows in 5% of the sources: the same. Also
 * what keeping the keys costs an ordinary build (the stack with and without
 * the skip wrapper). Runs alone too:
 * `deno run -A scripts/bench_skip.ts [--models 500] [--rounds 3] [--runtime local|fusion]`.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import type {
  DbtRuntime,
  ProjectRef,
  Selection,
} from "../src/contract/runtime.ts";
import type { RunResult } from "../src/contract/schemas.ts";
import { skipRuntime } from "../src/skip/runtime.ts";
import { duckdbProject } from "./synthetic.ts";

/** What one runtime's part measured (seconds unless named). */
export interface SkipBench {
  runtime: string;
  models: number;
  sources: number;
  rounds: number;
  /** A full warm build through the stack (keys kept), median. */
  full_build_median_s: number;
  /** The same build without the skip wrapper (no keys), median. */
  full_build_no_keys_median_s: number;
  /** What keeping the keys added to a full build before dbt ran, median, ms. */
  full_build_keys_plan_median_ms: number;
  /** Nothing changed: --skip-unchanged build, median. */
  unchanged_median_s: number;
  /** Its plan (parse, selection, warehouse looks, keys), median, ms. */
  unchanged_plan_median_ms: number;
  unchanged_fingerprint_median_ms: number;
  unchanged_reused: number;
  /** Each step of that plan (skip runtime timings), median, ms. */
  unchanged_plan_steps_ms: Record<string, number>;
  /** Whether dbt ran at all when nothing changed. */
  unchanged_dbt_invoked: boolean;
  /** New rows in 5% of the sources: --skip-unchanged build, median. */
  new_rows_median_s: number;
  new_rows_rebuilt_models: number;
  /** Its plan's steps, median, ms. */
  new_rows_plan_steps_ms: Record<string, number>;
  /** Its build after the plan (total - plan), median, ms. */
  new_rows_build_median_ms: number;
  ratio_unchanged: number;
  ratio_new_rows: number;
  ratio_keys_overhead: number;
}

const ROOT = resolve(new URL("..", import.meta.url).pathname);
const PYTHON = join(ROOT, ".venv", "dbt-core", "bin", "python");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The median of each named step over the rounds (a step missing counts 0). */
function medians(rows: Record<string, number>[]): Record<string, number> {
  const names = new Set(rows.flatMap((r) => Object.keys(r)));
  return Object.fromEntries(
    [...names].map((n) => [n, median(rows.map((r) => r[n] ?? 0))]),
  );
}

async function duckdb(dir: string, sql: string): Promise<void> {
  const out = await new Deno.Command(PYTHON, {
    args: [
      "-c",
      "import duckdb,sys\nc=duckdb.connect(sys.argv[1])\nc.execute(sys.argv[2])",
      join(dir, ".floe", "skipbench.duckdb"),
      sql,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`duckdb: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Write the project: `sources` source tables, `models` models in chains. */
export async function skipBenchProject(
  dir: string,
  models: number,
  sources: number,
): Promise<void> {
  const w = await duckdbProject(dir, {
    name: "skipbench",
    materialized: "table",
    threads: 4,
  });
  const tables = Array.from(
    { length: sources },
    (_, i) => `s_${String(i).padStart(2, "0")}`,
  );
  await w(
    "models/sources.yml",
    `version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n${
      tables.map((t) => `      - name: ${t}\n`).join("")
    }`,
  );
  const perChain = Math.ceil(models / sources);
  const tests: string[] = [];
  for (let i = 0; i < models; i++) {
    const chain = Math.floor(i / perChain);
    const step = i % perChain;
    const name = `m_${String(i).padStart(4, "0")}`;
    const sql = step === 0
      ? `select id, name, value from {{ source('raw', '${tables[chain]}') }}\n`
      : `select id, name, value + ${step % 7} as value from {{ ref('m_${
        String(i - 1).padStart(4, "0")
      }') }}\n`;
    await w(`models/${name}.sql`, sql);
    if (i % 10 === 0) {
      tests.push(
        `  - name: ${name}\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\n`,
      );
    }
  }
  await w("models/schema.yml", `version: 2\nmodels:\n${tests.join("")}`);
  await duckdb(
    dir,
    [
      "create schema raw",
      ...tables.map((t) =>
        `create table raw.${t} as select range as id, 'n' || range as name, range % 13 as value from range(1000)`
      ),
    ].join(";\n"),
  );
}

async function timed(
  f: () => Promise<RunResult>,
): Promise<{ s: number; r: RunResult }> {
  const t = performance.now();
  const r = await f();
  if (!r.success) {
    throw new Error(`build failed: ${JSON.stringify(r.metadata.errors)}`);
  }
  return { s: (performance.now() - t) / 1000, r };
}

/** Run the part for one runtime. */
export async function benchSkip(
  runtime: "local" | "fusion",
  models: number,
  rounds: number,
): Promise<SkipBench> {
  const sources = 20;
  const dir = await Deno.makeTempDir({ prefix: `floe-bench-skip-${runtime}-` });
  const make = (): DbtRuntime =>
    // Node facts off on both sides: the ratios measure the skip machinery,
    // not the facts query a full build adds (and a reused node skips).
    runtime === "local"
      ? new LocalRuntime({ node_facts: false })
      : new FusionRuntime({ node_facts: false }, { node_facts: false });
  const bare = make();
  const rt = skipRuntime(make());
  try {
    await skipBenchProject(dir, models, sources);
    const ref: ProjectRef = { projectDir: dir, profilesDir: dir };
    const build = (r: DbtRuntime, selection: Selection = {}) => () =>
      r.execute("build", ref, selection);
    await timed(build(bare)); // warm-up: workers, parse, relations
    await timed(build(rt));
    const full: number[] = [];
    const keysPlan: number[] = [];
    const noKeys: number[] = [];
    const same: number[] = [];
    const plan: number[] = [];
    const prints: number[] = [];
    const fresh: number[] = [];
    let reused = 0;
    let invoked = true;
    const steps: Record<string, number>[] = [];
    const newSteps: Record<string, number>[] = [];
    const newBuild: number[] = [];
    let rebuilt = 0;
    for (let i = 0; i < rounds; i++) {
      noKeys.push((await timed(build(bare))).s);
      const f = await timed(build(rt));
      full.push(f.s);
      keysPlan.push(
        (f.r.metadata.input_keys as { plan_ms: number }).plan_ms,
      );
      const u = await timed(build(rt, { skipUnchanged: true }));
      same.push(u.s);
      const meta = u.r.metadata.skip_unchanged as {
        plan_seconds: number;
        fingerprint_ms: number | null;
        plan_ms: Record<string, number>;
      };
      steps.push(meta.plan_ms);
      invoked = u.r.metadata.dbt_invoked !== false;
      plan.push(meta.plan_seconds * 1000);
      prints.push(meta.fingerprint_ms ?? 0);
      reused = (u.r.metadata.reused as string[]).length;
      // New rows in 5% of the sources (one in 20), a different one each round.
      const changed = Math.max(1, Math.round(sources * 0.05));
      for (let c = 0; c < changed; c++) {
        const t = `s_${String((i * changed + c) % sources).padStart(2, "0")}`;
        await duckdb(
          dir,
          `insert into raw.${t} select 100000 + range, 'new', 1 from range(${
            10 + i
          })`,
        );
      }
      const n = await timed(build(rt, { skipUnchanged: true }));
      fresh.push(n.s);
      const nMeta = n.r.metadata.skip_unchanged as {
        plan_seconds: number;
        plan_ms: Record<string, number>;
      };
      newSteps.push(nMeta.plan_ms);
      newBuild.push((n.s - nMeta.plan_seconds) * 1000);
      rebuilt = Object.keys(n.r.metadata.rebuilt as Record<string, string>)
        .filter((id) => id.startsWith("model.")).length;
    }
    const m = {
      full: median(full),
      noKeys: median(noKeys),
      same: median(same),
      fresh: median(fresh),
    };
    return {
      runtime,
      models,
      sources,
      rounds,
      full_build_median_s: m.full,
      full_build_no_keys_median_s: m.noKeys,
      full_build_keys_plan_median_ms: median(keysPlan),
      unchanged_median_s: m.same,
      unchanged_plan_median_ms: median(plan),
      unchanged_fingerprint_median_ms: median(prints),
      unchanged_reused: reused,
      unchanged_plan_steps_ms: medians(steps),
      unchanged_dbt_invoked: invoked,
      new_rows_median_s: m.fresh,
      new_rows_rebuilt_models: rebuilt,
      new_rows_plan_steps_ms: medians(newSteps),
      new_rows_build_median_ms: Math.round(median(newBuild)),
      ratio_unchanged: m.full / m.same,
      ratio_new_rows: m.full / m.fresh,
      ratio_keys_overhead: m.full / m.noKeys,
    };
  } finally {
    await rt.close();
    await bare.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function steps(ms: Record<string, number>): string {
  return Object.entries(ms).map(([k, v]) => `${k.replace(/_ms$/, "")} ${v}`)
    .join(", ");
}

/** Table rows for bench.ts. */
export function skipRows(b: SkipBench): string[][] {
  const tag = `${b.runtime}, ${b.models} models, ${b.sources} sources`;
  return [
    [
      `skip-unchanged (${tag}): full warm build (keys kept)`,
      b.full_build_median_s.toFixed(3),
      `no keys ${b.full_build_no_keys_median_s.toFixed(3)}; keys plan ${
        b.full_build_keys_plan_median_ms.toFixed(0)
      } ms`,
      String(b.rounds),
      `keys cost ${b.ratio_keys_overhead.toFixed(2)}x`,
    ],
    [
      `skip-unchanged (${tag}): nothing changed`,
      b.unchanged_median_s.toFixed(3),
      `plan ${b.unchanged_plan_median_ms.toFixed(0)} ms (${
        steps(b.unchanged_plan_steps_ms)
      }), fingerprint ${b.unchanged_fingerprint_median_ms.toFixed(0)} ms${
        b.unchanged_dbt_invoked ? "" : ", no dbt build"
      }`,
      String(b.rounds),
      `${b.ratio_unchanged.toFixed(1)}x faster than full`,
    ],
    [
      `skip-unchanged (${tag}): new rows in 5% of sources`,
      b.new_rows_median_s.toFixed(3),
      `rebuilt ${b.new_rows_rebuilt_models} models; plan ${
        steps(b.new_rows_plan_steps_ms)
      }, build ${b.new_rows_build_median_ms} ms`,
      String(b.rounds),
      `${b.ratio_new_rows.toFixed(1)}x faster than full`,
    ],
  ];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      models: { type: "string", default: "500" },
      rounds: { type: "string", default: "3" },
      runtime: { type: "string", default: "local" },
    },
  });
  const runtime = values.runtime === "fusion" ? "fusion" : "local";
  const b = await benchSkip(
    runtime,
    Number(values.models),
    Number(values.rounds),
  );
  console.log(JSON.stringify(b, null, 2));
  for (const r of skipRows(b)) console.log(r.join(" | "));
}
