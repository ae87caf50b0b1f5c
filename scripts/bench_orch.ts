/**
 * The orchestrators' part of `deno task bench`: runs scripts/bench_orch.sh
 * (Dagster definitions load, `floe_dbt_assets` vs dagster-dbt's
 * `@dbt_assets`; Airflow DAG parse and a `dag.test()` build,
 * `FloeDbtTaskGroup` vs astronomer-cosmos' `DbtTaskGroup`; it makes its own
 * venvs), reads bench/results/orchestrators.json and turns it into table
 * rows with the ratios. Alone: `scripts/bench_orch.sh [--quick]`.
 *
 * @module
 */
import { join } from "node:path";

/** One side of a load or parse measurement (seconds, MiB). */
export interface OrchSide {
  median_seconds: number;
  min_seconds: number;
  max_seconds: number;
  median_peak_rss_mb: number;
  rounds: unknown[];
}

/** A build through Airflow's `dag.test()` (seconds). */
export interface OrchBuild {
  dag_test_seconds: number;
  tasks: number;
  relations: number;
}

/** What scripts/bench_orch.py writes (the parts the table shows). */
export interface OrchBench {
  dagster_load: Record<string, {
    models: number;
    floe_dbt_assets: OrchSide;
    dagster_dbt: OrchSide;
  }>;
  airflow_parse: {
    models: number;
    floe_dbt_task_group: OrchSide;
    cosmos_dbt_task_group: OrchSide;
  };
  airflow_build: {
    models: number;
    floe_dbt_task_group: OrchBuild;
    cosmos_local: OrchBuild;
  };
}

/** Run scripts/bench_orch.sh and read what it wrote. */
export async function benchOrch(
  root: string,
  quick: boolean,
): Promise<OrchBench> {
  const out = await new Deno.Command("bash", {
    args: [join(root, "scripts/bench_orch.sh"), ...(quick ? ["--quick"] : [])],
    cwd: root,
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("scripts/bench_orch.sh failed");
  return JSON.parse(
    await Deno.readTextFile(join(root, "bench/results/orchestrators.json")),
  );
}

const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
const range = (s: OrchSide) =>
  `${s.min_seconds.toFixed(3)}-${s.max_seconds.toFixed(3)}`;

/** Table rows (measure, floe-dbt's median, its range and the other side,
 * rounds, the other side over floe-dbt). */
export function orchRows(o: OrchBench): string[][] {
  const rows: string[][] = [];
  for (const d of Object.values(o.dagster_load)) {
    const f = d.floe_dbt_assets, p = d.dagster_dbt;
    rows.push([
      `dagster load, ${d.models} models: floe_dbt_assets vs @dbt_assets`,
      f.median_seconds.toFixed(3),
      `${range(f)}; dagster-dbt ${p.median_seconds.toFixed(3)}`,
      String(f.rounds.length),
      `dagster-dbt / floe ${ratio(p.median_seconds, f.median_seconds)}`,
    ]);
    rows.push([
      `dagster load, ${d.models} models: peak RSS MiB, floe vs dagster-dbt`,
      f.median_peak_rss_mb.toFixed(0),
      `dagster-dbt ${p.median_peak_rss_mb.toFixed(0)}`,
      String(f.rounds.length),
      `dagster-dbt / floe ${ratio(p.median_peak_rss_mb, f.median_peak_rss_mb)}`,
    ]);
  }
  const ps = o.airflow_parse;
  const f = ps.floe_dbt_task_group, c = ps.cosmos_dbt_task_group;
  rows.push([
    `airflow parse, ${ps.models} models: FloeDbtTaskGroup vs cosmos`,
    f.median_seconds.toFixed(3),
    `${range(f)}; cosmos ${c.median_seconds.toFixed(3)}`,
    String(f.rounds.length),
    `cosmos / floe ${ratio(c.median_seconds, f.median_seconds)}`,
  ]);
  const b = o.airflow_build;
  const fb = b.floe_dbt_task_group.dag_test_seconds;
  const cb = b.cosmos_local.dag_test_seconds;
  rows.push([
    `airflow build, ${b.models} models: task group vs cosmos local`,
    fb.toFixed(3),
    `cosmos ${cb.toFixed(3)}`,
    "1",
    `cosmos / floe ${ratio(cb, fb)}`,
  ]);
  return rows;
}
