/**
 * The project the `--skip-unchanged` tests build: DuckDB source tables made
 * by setup SQL (one with a dbt freshness, one opted out of fingerprints),
 * a seed, two macros, a var, staging views and mart tables, generic tests;
 * plus helpers that change it and read the warehouse (through the dbt-core
 * venv's real duckdb), and what a `--skip-unchanged` result and dbt's graph
 * say was built.
 *
 * @module
 */
import { join } from "./_path.ts";
import { ROOT, writeFile } from "./_helpers.ts";
import type { RunResult } from "../src/contract/schemas.ts";
import {
  computeKeys,
  type ManifestView,
  type NodeKey,
} from "../src/skip/keys.ts";

const PYTHON = join(ROOT, ".venv", "dbt-core", "bin", "python");

/** The warehouse file, relative to the project. */
export const WAREHOUSE = ".floe/wh.duckdb";

/** Model files, by name: `rev` is a number every model selects as a column. */
export function modelSql(name: string, rev: number): string {
  switch (name) {
    case "stg_orders":
      return `select id, customer_id, amount, ${rev} as rev from {{ source('raw', 'orders') }} where amount >= {{ var('min_amount') }}\n`;
    case "stg_customers":
      return `select id, {{ clean('name') }} as name, region_id, ${rev} as rev from {{ source('raw', 'customers') }}\n`;
    case "stg_events":
      return `select id, kind, ${rev} as rev from {{ source('raw', 'events') }}\n`;
    case "customer_orders":
      return `select c.id as customer_id, c.name, r.region, {{ cents('coalesce(sum(o.amount), 0)') }} as total_cents, ${rev} as rev\nfrom {{ ref('stg_customers') }} as c\nleft join {{ ref('stg_orders') }} as o on o.customer_id = c.id\nleft join {{ ref('regions') }} as r on r.region_id = c.region_id\ngroup by 1, 2, 3\n`;
    case "region_totals":
      return `select region, sum(total_cents) as total_cents, count(*) as customers, ${rev} as rev from {{ ref('customer_orders') }} group by 1\n`;
    case "event_counts":
      return `select kind, count(*) as n, ${rev} as rev from {{ ref('stg_events') }} group by 1\n`;
    case "audit_copy":
      return `select id, note, ${rev} as rev from {{ source('ext', 'audit') }}\n`;
    case "region_list":
      return `select region_id, region, ${rev} as rev from {{ ref('regions') }}\n`;
    default:
      throw new Error(`no model ${name}`);
  }
}

/** Every model, with its folder. */
export const MODELS: Record<string, string> = {
  stg_orders: "staging",
  stg_customers: "staging",
  stg_events: "staging",
  customer_orders: "marts",
  region_totals: "marts",
  event_counts: "marts",
  audit_copy: "marts",
  region_list: "marts",
};

/** Write a model file with a revision. */
export async function writeModel(
  dir: string,
  name: string,
  rev: number,
  materialized?: string,
): Promise<void> {
  const config = materialized
    ? `{{ config(materialized='${materialized}') }}\n`
    : "";
  await writeFile(
    dir,
    `models/${MODELS[name]}/${name}.sql`,
    config + modelSql(name, rev),
  );
}

/** The `cents` macro at a revision (0: plain cents). */
export async function writeCents(dir: string, rev: number): Promise<void> {
  await writeFile(
    dir,
    "macros/cents.sql",
    `{% macro cents(x) %}({{ x }} * 100 + ${rev}){% endmacro %}\n`,
  );
}

/** Write the whole project and create its source tables. */
export async function makeSkipProject(dir: string): Promise<void> {
  await writeFile(
    dir,
    "dbt_project.yml",
    `name: skipper\nversion: "1.0.0"\nconfig-version: 2\nprofile: skipper\nvars:\n  min_amount: 0\nmodels:\n  skipper:\n    +materialized: table\n    staging:\n      +materialized: view\n`,
  );
  await writeFile(
    dir,
    "profiles.yml",
    `skipper:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: ${WAREHOUSE}\n      threads: 2\n`,
  );
  await writeFile(
    dir,
    "models/sources.yml",
    `version: 2
sources:
  - name: raw
    schema: raw
    tables:
      - name: orders
      - name: customers
      - name: events
        config:
          loaded_at_field: loaded_at
          freshness:
            warn_after: {count: 100000, period: day}
  - name: ext
    schema: raw
    tables:
      - name: audit
        config:
          meta:
            floe_fingerprint: false
`,
  );
  await writeFile(
    dir,
    "models/schema.yml",
    `version: 2
models:
  - name: stg_orders
    columns:
      - name: id
        data_tests: [unique, not_null]
      - name: customer_id
        data_tests:
          - relationships:
              arguments:
                to: ref('stg_customers')
                field: id
  - name: customer_orders
    columns:
      - name: customer_id
        data_tests: [not_null]
`,
  );
  await writeFile(
    dir,
    "macros/clean.sql",
    "{% macro clean(x) %}lower(trim({{ x }})){% endmacro %}\n",
  );
  await writeCents(dir, 0);
  await writeFile(
    dir,
    "seeds/regions.csv",
    "region_id,region\n1,north\n2,south\n",
  );
  for (const name of Object.keys(MODELS)) await writeModel(dir, name, 0);
  await Deno.mkdir(join(dir, ".floe"), { recursive: true });
  await duckdb(
    dir,
    `create schema raw;
create table raw.orders (id integer, customer_id integer, amount integer);
create table raw.customers (id integer, name varchar, region_id integer);
create table raw.events (id integer, kind varchar, loaded_at timestamp);
create table raw.audit (id integer, note varchar);
insert into raw.customers values (1, ' Ann ', 1), (2, 'BOB', 2), (3, 'cy', 1);
insert into raw.orders values (1, 1, 10), (2, 1, 25), (3, 2, 40), (4, 3, 5);
insert into raw.events values (1, 'click', timestamp '2026-01-01 00:00:00'), (2, 'view', timestamp '2026-01-01 00:00:00');
insert into raw.audit values (1, 'first');`,
  );
}

/** Run SQL statements on the project's warehouse (real DuckDB). */
export async function duckdb(dir: string, sql: string): Promise<string> {
  const out = await new Deno.Command(PYTHON, {
    args: [
      "-c",
      "import duckdb,sys,json\nc=duckdb.connect(sys.argv[1])\nr=c.execute(sys.argv[2]).fetchall()\nprint(json.dumps(r, default=str))",
      join(dir, WAREHOUSE),
      sql,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`duckdb failed: ${dec.decode(out.stderr)}`);
  }
  return dec.decode(out.stdout).trim();
}

/** Every relation of the `main` schema with its rows, sorted: one text. */
export async function warehouseContents(dir: string): Promise<string> {
  const out = await new Deno.Command(PYTHON, {
    args: [
      "-c",
      `import duckdb,sys,json
c=duckdb.connect(sys.argv[1], read_only=True)
out={}
for (name, kind) in c.execute("select table_name, table_type from information_schema.tables where table_schema='main' order by 1").fetchall():
    rows=c.execute(f'select * from main."{name}" order by all').fetchall()
    out[name]={"type": kind, "rows": rows}
print(json.dumps(out, default=str, sort_keys=True))`,
      join(dir, WAREHOUSE),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`duckdb read failed: ${dec.decode(out.stderr)}`);
  }
  return dec.decode(out.stdout).trim();
}

/** Copy a project folder (with its warehouse and kept state). */
export async function copyProject(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.name === "target" || e.name === "logs") continue;
    const src = join(from, e.name);
    const dst = join(to, e.name);
    if (e.isDirectory) await copyProject(src, dst);
    else if (e.isFile) await Deno.copyFile(src, dst);
  }
}

/** Non-test node ids dbt executed (empty when dbt did not run). */
export async function executedNodes(r: RunResult): Promise<string[]> {
  if (!r.run_results_path) return [];
  const rr = JSON.parse(await Deno.readTextFile(r.run_results_path));
  return (rr.results as { unique_id: string }[]).map((x) => x.unique_id)
    .filter((id) => !id.startsWith("test.")).sort();
}

/** The non-test nodes a `--skip-unchanged` call reports rebuilt. */
export function rebuiltNodes(r: RunResult): string[] {
  return Object.keys(r.metadata.rebuilt as Record<string, string>).filter((
    id,
  ) => !id.startsWith("test.")).sort();
}

/** A resource type a build builds (a relation of its own). */
const BUILT = /^(model|seed|snapshot)\./;

/** `ids` and every model, seed or snapshot downstream, from dbt's child_map. */
export function downstream(dir: string, ids: string[]): string[] {
  const m = JSON.parse(
    Deno.readTextFileSync(join(dir, "target", "manifest.json")),
  );
  const childMap = m.child_map as Record<string, string[]>;
  const seen = new Set<string>();
  const todo = [...ids];
  while (todo.length) {
    const id = todo.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const c of childMap[id] ?? []) {
      if (!c.startsWith("test.")) todo.push(c);
    }
  }
  return [...seen].filter((id) => BUILT.test(id)).sort();
}

/** A seeded pseudo-random generator (mulberry32). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The keys of `view` with no vars, sources or seeds, on target dev, each
 * parent as built with its current key.
 */
export function plainKeys(view: ManifestView): Map<string, NodeKey> {
  return computeKeys(view, {
    vars: undefined,
    projectVars: null,
    target: "dev",
    sources: {},
    seeds: {},
    builtKey: (_id, current) => current,
  });
}
