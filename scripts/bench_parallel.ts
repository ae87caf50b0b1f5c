/**
 * Two projects' builds at once vs one after the other, through the daemon's
 * job runner with the real local runtime (one warm dbt-core worker per
 * project). Both projects are built once first, so every measured build is
 * warm. Run alone: `deno run -A scripts/bench_parallel.ts [--quick]`.
 *
 * @module
 */
import { join } from "node:path";
import { defaultConfig } from "../src/config/config.ts";
import { JobRunner } from "../src/jobs/runner.ts";
import { createRuntime } from "../src/registry.ts";
import { generateProject } from "./synthetic.ts";

/** What the benchmark measured (seconds; ratio = sequential / parallel). */
export interface ParallelFigures {
  models_per_project: number;
  reps: number;
  sequential_median_s: number;
  parallel_median_s: number;
  ratio: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function build(runner: JobRunner, dir: string): Promise<void> {
  const { job } = await runner.submit({
    command: "build",
    project_dir: dir,
    profiles_dir: dir,
  });
  for (;;) {
    const j = runner.get(job.id)!;
    if (j.status === "succeeded") return;
    if (j.status !== "queued" && j.status !== "running") {
      throw new Error(`build of ${dir} ended ${j.status}: ${j.error?.message}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Run the benchmark; `models` per project, `reps` of each mode. */
export async function benchParallel(
  models = 50,
  reps = 3,
): Promise<ParallelFigures> {
  const dir = await Deno.makeTempDir({ prefix: "floe-bench-parallel-" });
  const a = join(dir, "a");
  const b = join(dir, "b");
  await generateProject(a, models);
  await generateProject(b, models);
  const config = defaultConfig();
  const runner = await JobRunner.open({
    stateDir: join(dir, "state"),
    defaultRuntime: "local",
    factory: (name) => createRuntime(name, config),
    maxParallel: () => 4,
    retentionMs: 3600_000,
  });
  try {
    // Warm both workers (and DuckDB files) before measuring.
    await Promise.all([build(runner, a), build(runner, b)]);
    const seq: number[] = [];
    const par: number[] = [];
    for (let i = 0; i < reps; i++) {
      let t = performance.now();
      await build(runner, a);
      await build(runner, b);
      seq.push((performance.now() - t) / 1000);
      t = performance.now();
      await Promise.all([build(runner, a), build(runner, b)]);
      par.push((performance.now() - t) / 1000);
    }
    const s = median(seq);
    const p = median(par);
    return {
      models_per_project: models,
      reps,
      sequential_median_s: s,
      parallel_median_s: p,
      ratio: s / p,
    };
  } finally {
    await runner.shutdown(10_000);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const f = await benchParallel(50, quick ? 2 : 3);
  console.log(JSON.stringify(f, null, 2));
}
