/**
 * Per-node facts after a Fusion run, build, seed, snapshot or retry
 * (src/dbt/node_facts.ts), from the artifacts of that call
 * (src/dbt/artifact_facts.ts) and ONE agent-built query through Fusion
 * (`dbt show --inline`): a `count(*)` of every table-like relation built
 * (unless `row_counts` is off) and `information_schema.columns` of the built
 * relations and their parents. The query is built from the manifest's
 * relation names only, which must be plain identifiers (src/skip/data.ts),
 * in as many processes as its length needs (long_query.ts); a project
 * whose queries cannot run at all (a node named `inline`) gets a warning;
 * an adapter without such a query here (only DuckDB and Postgres have one)
 * gets no row counts and the manifest's columns. Column lineage is sqlglot's
 * over the manifest's compiled SQL, in the dbt-core environment's Python.
 *
 * @module
 */
import { readArtifact } from "../../src/dbt/artifacts.ts";
import {
  builtNodes,
  factsFromArtifacts,
  isTableLike,
  parentsOf,
  type TypedColumn,
} from "../../src/dbt/artifact_facts.ts";
import type { NodeFactsMap } from "../../src/dbt/node_facts.ts";
import type { FloeDbtError } from "../../src/contract/errors.ts";
import {
  blocksQueries,
  isPlainRelation,
  isPlainText,
  relationKey,
  relationParts,
} from "../../src/skip/data.ts";

type Obj = Record<string, unknown>;

/** Adapters whose warehouse answers the facts query as written here. */
const QUERY_ADAPTERS = new Set(["duckdb", "postgres"]);

/** What the facts query asks, and how to read its rows back. */
export interface FactsQuery {
  sql: string;
  /** Row index of each counted node. */
  counted: string[];
}

/**
 * The facts query (rows `k, a, b, c, d, e, f`, all text): `k='n'` rows
 * carry a count (`a` index into `counted`, `b` the count), `k='c'` rows a
 * column (`a` database, `b` schema, `c` table, `d` column, `e` type, `f`
 * position). Undefined when the adapter has none or nothing is asked.
 */
export function factsQuery(
  adapter: string,
  counted: { uid: string; relation: string }[],
  relations: { database: string; schema: string; name: string }[],
): FactsQuery | undefined {
  if (!QUERY_ADAPTERS.has(adapter)) return undefined;
  const parts: string[] = [];
  const ids: string[] = [];
  for (const c of counted) {
    if (!isPlainRelation(c.relation)) continue;
    parts.push(
      `select 'n' as k, '${ids.length}' as a, cast(count(*) as varchar) as b, '' as c, '' as d, '' as e, '' as f from ${c.relation}`,
    );
    ids.push(c.uid);
  }
  const schemas = [...new Set(relations.map((r) => r.schema.toLowerCase()))]
    .filter(isPlainText);
  const names = [...new Set(relations.map((r) => r.name.toLowerCase()))]
    .filter(isPlainText);
  if (schemas.length && names.length) {
    const list = (xs: string[]) => xs.map((x) => `'${x}'`).join(", ");
    parts.push(
      `select 'c' as k, cast(table_catalog as varchar) as a, cast(table_schema as varchar) as b, cast(table_name as varchar) as c, cast(column_name as varchar) as d, cast(data_type as varchar) as e, cast(ordinal_position as varchar) as f from information_schema.columns where lower(table_schema) in (${
        list(schemas)
      }) and lower(table_name) in (${list(names)})`,
    );
  }
  if (!parts.length) return undefined;
  return { sql: parts.join("\nunion all\n"), counted: ids };
}

/** Row counts by unique_id and columns by relation key, from the query's rows. */
export function readFactsRows(
  q: FactsQuery,
  rows: Obj[],
): { counts: Map<string, number>; columns: Map<string, TypedColumn[]> } {
  const counts = new Map<string, number>();
  const found = new Map<string, { pos: number; col: TypedColumn }[]>();
  for (const r of rows) {
    if (r.k === "n") {
      const uid = q.counted[Number(r.a)];
      const n = Number(r.b);
      if (uid && Number.isInteger(n)) counts.set(uid, n);
    } else if (r.k === "c") {
      const key = relationKey(r.a, r.b, r.c);
      const list = found.get(key) ?? [];
      list.push({
        pos: Number(r.f),
        col: { name: String(r.d), data_type: r.e ? String(r.e) : null },
      });
      found.set(key, list);
    }
  }
  const columns = new Map<string, TypedColumn[]>();
  for (const [key, list] of found) {
    columns.set(key, list.sort((x, y) => x.pos - y.pos).map((x) => x.col));
  }
  return { counts, columns };
}

/** How the fusion runtime computes facts. */
export interface FusionFactsOptions {
  adapter: string;
  rowCounts: boolean;
  python: string | undefined;
  /** One of the agent's own queries through Fusion (`dbt show --inline`). */
  query: (sql: string) => Promise<Obj[]>;
  debug: (message: string) => void;
  /** A problem the user should see (and can fix). */
  warn: (message: string) => void;
}

/** The facts of the nodes a Fusion call built (its target directory's artifacts). */
export async function fusionFacts(
  manifestPath: string,
  runResultsPath: string,
  o: FusionFactsOptions,
): Promise<NodeFactsMap> {
  const manifest = await readArtifact(manifestPath);
  const runResults = await readArtifact(runResultsPath);
  const built = builtNodes(manifest, runResults);
  if (!built.length) return {};
  const counted = o.rowCounts
    ? built.filter((b) => isTableLike(b.node)).map((b) => ({
      uid: b.uid,
      relation: String(b.node.relation_name ?? ""),
    }))
    : [];
  const relations = new Map<string, ReturnType<typeof relationParts>>();
  for (const b of built) {
    for (const n of [b.node, ...parentsOf(manifest, b.node).map((p) => p[1])]) {
      const p = relationParts(n);
      relations.set(relationKey(p.database, p.schema, p.name), p);
    }
  }
  const q = factsQuery(o.adapter, counted, [...relations.values()]);
  let read: ReturnType<typeof readFactsRows> | undefined;
  if (!q) {
    o.debug(
      `no row counts or relation columns: no facts query for the ${o.adapter} adapter`,
    );
  } else {
    try {
      read = readFactsRows(q, await o.query(q.sql));
    } catch (e) {
      const message =
        `no row counts or relation columns: the facts query failed: ${
          e instanceof Error ? e.message : String(e)
        }`;
      // A project the agent's queries can never run on is the user's to fix.
      if (blocksQueries(e)) {
        o.warn(
          `${message} (${(e as FloeDbtError).code}; ${
            (e as FloeDbtError).hint
          })`,
        );
      } else o.debug(message);
    }
  }
  return await factsFromArtifacts(manifest, runResults, {
    columnsOf: (_uid, node) => {
      const p = relationParts(node);
      return read?.columns.get(relationKey(p.database, p.schema, p.name));
    },
    rowCountOf: (uid) => read?.counts.get(uid),
    modelZeroIsCount: false,
    python: o.python,
    adapterType: o.adapter,
    debug: o.debug,
  });
}
