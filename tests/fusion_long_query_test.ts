/**
 * The agent's own queries through dbt Fusion (`dbt show --inline`) past
 * Linux's 128 KiB limit on one argument (runtimes/fusion/long_query.ts),
 * and a project node named `inline` (the name of the query's own node).
 * Against real dbt Fusion and DuckDB: a project whose fingerprint and facts
 * queries are each well over 128 KiB (long relation names keep it small)
 * still gets its skip plan (reuse, and exactly the model whose source
 * changed rebuilt) and its row counts; a query over the 1 MiB a process
 * is given runs in several and loses no row; a model named `inline` makes
 * `--skip-unchanged` fail with E003 naming it, and facts say so at warn
 * level. Plus the splitting helpers themselves.
 *
 * @module
 */
import assert from "node:assert/strict";
import { duckdb } from "./_skip_project.ts";
import { writeFile } from "./_helpers.ts";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import {
  ARG_BYTES,
  inlineQuery,
  pieces,
  PROCESS_BYTES,
  splitUnion,
  UNION,
} from "../runtimes/fusion/long_query.ts";
import { skipRuntime } from "../src/skip/runtime.ts";
import { lookSql } from "../src/skip/data.ts";
import { readLook } from "../src/skip/store.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import type { ProjectRef } from "../src/contract/runtime.ts";
import type { ProgressEvent, RunResult } from "../src/contract/schemas.ts";
import type { NodeFactsMap } from "../src/dbt/node_facts.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const bytes = (s: string) => new TextEncoder().encode(s).length;

Deno.test("long queries: split between union branches, pieces by bytes", () => {
  const branch = (i: number) => `select '${i}' as a, '${"y".repeat(300)}' as b`;
  const sql = Array.from({ length: 2000 }, (_, i) => branch(i)).join(UNION);
  const parts = splitUnion(sql, 100_000);
  assert.ok(parts.length > 1);
  assert.ok(parts.every((p) => bytes(p) <= 100_000));
  assert.equal(parts.join(UNION), sql);
  assert.deepEqual(splitUnion("select 1", 100), ["select 1"]);
  // Multi-byte characters are never cut, and the pieces are exact.
  const text = "é€😀a".repeat(50_000);
  const ps = pieces(text, 1000);
  assert.equal(ps.join(""), text);
  assert.ok(ps.every((p) => bytes(p) <= 1000 && !p.includes("\ufffd")));
  // Short: the argument itself; long: env_var pieces of it.
  assert.deepEqual(inlineQuery("select 1"), { inline: "select 1", env: {} });
  const long = inlineQuery(sql.slice(0, 3 * ARG_BYTES));
  assert.equal(Object.keys(long.env).length, 3);
  assert.equal(Object.values(long.env).join(""), sql.slice(0, 3 * ARG_BYTES));
  assert.match(long.inline, /^(\{\{ env_var\('FLOE_DBT_QUERY_\d'\) \}\}){3}$/);
});

const N = 60;
// Long quoted names make the queries long with few relations (a model's
// long name is its schema's: Fusion writes a file named after its alias).
const TABLE = (i: number) => `t${i}_${"x".repeat(2600)}`;
const MODEL = (i: number) => `model.bigq.m${i}`;

async function makeBigProject(dir: string): Promise<void> {
  await writeFile(
    dir,
    "dbt_project.yml",
    `name: bigq\nversion: "1.0.0"\nconfig-version: 2\nprofile: bigq\nmodels:\n  bigq:\n    +materialized: table\n`,
  );
  await writeFile(
    dir,
    "profiles.yml",
    `bigq:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: .floe/wh.duckdb\n      threads: 2\n`,
  );
  const tables = Array.from(
    { length: N },
    (_, i) => `      - name: s${i}\n        identifier: ${TABLE(i)}\n`,
  ).join("");
  await writeFile(
    dir,
    "models/sources.yml",
    `version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n${tables}`,
  );
  for (let i = 0; i < N; i++) {
    await writeFile(
      dir,
      `models/m${i}.sql`,
      `{{ config(schema='k${
        TABLE(i)
      }') }}\nselect id from {{ source('raw', 's${i}') }}\n`,
    );
  }
  await Deno.mkdir(`${dir}/.floe`, { recursive: true });
  // Table i has i % 3 + 1 rows: a count read back under another name shows.
  // (In batches: one argument of the helper's process is limited too.)
  await duckdb(dir, "create schema raw");
  for (let b = 0; b < N; b += 20) {
    const sql: string[] = [];
    for (let i = b; i < Math.min(N, b + 20); i++) {
      sql.push(
        `create table raw."${TABLE(i)}" as select range as id from range(${
          i % 3 + 1
        });`,
      );
    }
    await duckdb(dir, sql.join("\n"));
  }
}

function rebuiltModels(r: RunResult): Record<string, string> {
  return Object.fromEntries(
    Object.entries(r.metadata.rebuilt as Record<string, string>).filter((
      [id],
    ) => id.startsWith("model.")),
  );
}

Deno.test(
  "fusion: fingerprint and facts queries over 128 KiB still plan the skip and count the rows",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-long-query-" });
    const ref: ProjectRef = { projectDir: dir, profilesDir: dir };
    const rt = skipRuntime(new FusionRuntime({ fallback_to_core: false }));
    const events: ProgressEvent[] = [];
    const onEvent = (e: ProgressEvent) => events.push(e);
    try {
      await makeBigProject(dir);
      const first = await rt.execute("build", ref, {}, { onEvent });
      assert.ok(
        first.success,
        String(JSON.stringify(first.metadata.errors)).slice(0, 2000),
      );
      const nodes = first.metadata.nodes as NodeFactsMap;
      for (let i = 0; i < N; i++) {
        assert.equal(nodes[MODEL(i)]?.row_count, i % 3 + 1, MODEL(i));
        assert.deepEqual(nodes[MODEL(i)]?.columns.map((c) => c.name), ["id"]);
      }

      // The plan's query is past what one argument takes.
      const look = await readLook(dir, "dev");
      assert.ok(look && bytes(lookSql(look) ?? "") > 128 * 1024);

      // Unchanged: every model reused, the plan's one process parses and
      // queries (the look's query is over 128 KiB too).
      const same = await rt.execute("build", ref, { skipUnchanged: true }, {
        onEvent,
      });
      assert.ok(same.success);
      const skip = same.metadata.skip_unchanged as {
        error?: string;
        plan_ms: Record<string, number>;
        data_versions: Record<string, { method: string }>;
      };
      assert.equal(skip.error, undefined);
      assert.deepEqual(rebuiltModels(same), {});
      assert.equal((same.metadata.reused as string[]).length, N);
      assert.ok("parse_and_query_ms" in skip.plan_ms);
      assert.equal(
        Object.values(skip.data_versions).filter((v) =>
          v.method === "fingerprint"
        ).length,
        N,
      );

      // One source's data changes: exactly its model is rebuilt.
      await duckdb(dir, `insert into raw."${TABLE(41)}" values (99)`);
      const changed = await rt.execute("build", ref, { skipUnchanged: true }, {
        onEvent,
      });
      assert.ok(changed.success);
      assert.deepEqual(rebuiltModels(changed), {
        [MODEL(41)]: "source data changed: source.bigq.raw.s41",
      });
      assert.equal(
        (changed.metadata.nodes as NodeFactsMap)[MODEL(41)]?.row_count,
        41 % 3 + 2,
      );
      const warned = events.filter((e) =>
        e.type === "log" && (e.level === "warn" || e.level === "error")
      );
      assert.deepEqual(warned, []);
      const facts = events.filter((e) =>
        e.type === "log" && /facts query failed/.test(e.message)
      );
      assert.deepEqual(facts, []);
    } finally {
      await rt.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "fusion: a query over what one process takes runs in several, every row kept; a query holding Jinja is refused",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-long-query-" });
    const ref: ProjectRef = { projectDir: dir, profilesDir: dir };
    const rt = new FusionRuntime({ fallback_to_core: false });
    try {
      await writeFile(
        dir,
        "dbt_project.yml",
        `name: bigq\nversion: "1.0.0"\nconfig-version: 2\nprofile: bigq\n`,
      );
      await writeFile(
        dir,
        "profiles.yml",
        `bigq:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: wh.duckdb\n`,
      );
      const pad = "z".repeat(500);
      const sql = Array.from(
        { length: 2500 },
        (_, i) => `select '${i}' as a, length('${pad}') as n`,
      ).join(UNION);
      assert.ok(splitUnion(sql).length > 1);
      assert.ok(bytes(sql) > PROCESS_BYTES);
      const rows = await rt.inspect.queryRows(ref, sql);
      assert.equal(rows.length, 2500);
      assert.deepEqual(
        new Set(rows.map((r) => r.a)),
        new Set(Array.from({ length: 2500 }, (_, i) => String(i))),
      );
      assert.ok(rows.every((r) => Number(r.n) === 500));
      // Fusion would render Jinja in the agent's SQL (env_var's value too):
      // a query holding a delimiter is refused before Fusion sees it.
      for (const q of [`select '{{ 6 * 7 }}' as j`, sql + `, '{% if %}'`]) {
        await assert.rejects(
          () => rt.inspect.queryRows(ref, q),
          (e: FloeDbtError) => {
            assert.equal(e.code, "FLOE-DBT-E003");
            assert.match(e.message, /Jinja delimiter/);
            return true;
          },
        );
      }
    } finally {
      await rt.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "fusion: a model named 'inline' (or a seed) fails --skip-unchanged with E003 naming it; facts warn",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-inline-node-" });
    const ref: ProjectRef = { projectDir: dir, profilesDir: dir };
    const rt = skipRuntime(new FusionRuntime({ fallback_to_core: false }));
    const events: ProgressEvent[] = [];
    try {
      await writeFile(
        dir,
        "dbt_project.yml",
        `name: clash\nversion: "1.0.0"\nconfig-version: 2\nprofile: clash\nmodels:\n  clash:\n    +materialized: table\n`,
      );
      await writeFile(
        dir,
        "profiles.yml",
        `clash:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: wh.duckdb\n`,
      );
      await writeFile(dir, "models/inline.sql", "select 1 as id\n");
      await writeFile(dir, "models/other.sql", "select 2 as id\n");
      // An ordinary build still builds; the facts say why they are missing.
      const plain = await rt.execute("build", ref, {}, {
        onEvent: (e) => events.push(e),
      });
      assert.ok(plain.success, JSON.stringify(plain.metadata.errors));
      assert.ok(
        events.some((e) =>
          e.type === "log" && e.level === "warn" &&
          /node facts: .*a model named 'inline'.*FLOE-DBT-E003; rename/.test(
            e.message,
          )
        ),
        JSON.stringify(events.filter((e) => e.type === "log")),
      );
      const err = await rt.execute("build", ref, { skipUnchanged: true })
        .then(() => undefined, (e) => e);
      assert.ok(err instanceof FloeDbtError, String(err));
      assert.equal(err.code, "FLOE-DBT-E003");
      assert.match(err.message, /a model named 'inline'/);
      assert.match(err.hint ?? "", /rename .*--runtime local/);

      // A seed named `inline` clashes by its relation: said as plainly.
      await Deno.remove(`${dir}/models/inline.sql`);
      await writeFile(dir, "seeds/inline.csv", "a\n1\n");
      const seedErr = await rt.execute("build", ref, { skipUnchanged: true })
        .then(() => undefined, (e) => e);
      assert.ok(seedErr instanceof FloeDbtError, String(seedErr));
      assert.equal(seedErr.code, "FLOE-DBT-E003");
      assert.match(
        seedErr.message,
        /a node \(seed\.clash\.inline\) whose relation is .*"inline"/,
      );
    } finally {
      await rt.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
