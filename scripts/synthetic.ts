/**
 * Synthetic dbt projects for benchmarks and tests: N models on DuckDB in
 * chains of refs over two sources, a join every fifth model, generic tests.
 *
 * @module
 */
import { join } from "node:path";

/** Writes a file of a project (its folders made as needed). */
export type ProjectWriter = (rel: string, text: string) => Promise<void>;

/**
 * Start a DuckDB project in `dir`: dbt_project.yml and profiles.yml named
 * `name`, models materialized as `materialized`, the warehouse file in
 * .floe/ (a file the project fingerprint leaves out, so the warm worker
 * keeps its parse; plain dbt does not create the folder). Returns the
 * writer for the rest of the project.
 */
export async function duckdbProject(
  dir: string,
  o: { name: string; materialized: string; threads: number },
): Promise<ProjectWriter> {
  const w: ProjectWriter = async (rel, text) => {
    const path = join(dir, rel);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeTextFile(path, text);
  };
  await Deno.mkdir(join(dir, ".floe"), { recursive: true });
  await w(
    "dbt_project.yml",
    `name: ${o.name}\nversion: "1.0.0"\nconfig-version: 2\nprofile: ${o.name}\nmodels:\n  ${o.name}:\n    +materialized: ${o.materialized}\n`,
  );
  await w(
    "profiles.yml",
    `${o.name}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: .floe/${o.name}.duckdb\n      threads: ${o.threads}\n`,
  );
  return w;
}

/** Write a synthetic project of `models` models into `dir`. */
export async function generateProject(
  dir: string,
  models: number,
): Promise<void> {
  const w = await duckdbProject(dir, {
    name: "synthetic",
    materialized: "view",
    threads: 2,
  });
  const rows = Array.from(
    { length: 20 },
    (_, i) => `${i + 1},item_${i + 1},${(i * 7) % 13}`,
  );
  await w("data/raw_a.csv", `id,name,value\n${rows.join("\n")}\n`);
  await w("data/raw_b.csv", `id,name,value\n${rows.join("\n")}\n`);
  await w(
    "models/sources.yml",
    `version: 2\nsources:\n  - name: raw\n    config:\n      meta:\n        external_location: "read_csv_auto('data/{name}.csv', header = true)"\n    tables:\n      - name: raw_a\n      - name: raw_b\n`,
  );
  const tests: string[] = [];
  for (let i = 1; i <= models; i++) {
    const name = `m_${String(i).padStart(4, "0")}`;
    const prev = `m_${String(i - 1).padStart(4, "0")}`;
    let sql: string;
    if (i % 10 === 1) {
      sql = `select id, name, value from {{ source('raw', '${
        i % 20 === 1 ? "raw_a" : "raw_b"
      }') }}\n`;
    } else if (i % 5 === 0) {
      // Join with the head of this chain (a source select): joins never
      // reach across chains, so view nesting stays linear in chain length.
      const head = `m_${String(i - ((i - 1) % 10)).padStart(4, "0")}`;
      sql =
        `select a.id, a.name, a.value + b.value as value\nfrom {{ ref('${prev}') }} as a\njoin {{ ref('${head}') }} as b on a.id = b.id\n`;
    } else {
      sql = `select id, name, value + ${
        i % 7
      } as value from {{ ref('${prev}') }}\n`;
    }
    await w(`models/${name}.sql`, sql);
    if (i % 5 === 0) {
      tests.push(
        `  - name: ${name}\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\n`,
      );
    }
  }
  await w("models/schema.yml", `version: 2\nmodels:\n${tests.join("")}`);
}

/** Number of data tests a project of `models` models has. */
export function syntheticTestCount(models: number): number {
  return Math.floor(models / 5) * 2;
}
