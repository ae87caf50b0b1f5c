/**
 * What `--skip-unchanged` asks the warehouse: which relations exist, and a
 * data version per source, from the cheapest honest signal. A source with
 * a dbt freshness (`freshness` with `loaded_at_field` or `loaded_at_query`)
 * is versioned by dbt's own `source freshness` (its `max_loaded_at`);
 * otherwise, on adapters where the agent knows how (DuckDB, Postgres), by a
 * content fingerprint (row count plus an order-independent aggregate of row
 * hashes), unless the source opts out with `meta: {floe_fingerprint:
 * false}`. Anything else has no version: its descendants are always
 * rebuilt. The SQL is the agent's own, built from the manifest's relation
 * names, which must be plain (quoted) identifiers.
 *
 * @module
 */
import { FloeDbtError } from "../contract/errors.ts";
import type { DataVersion, ManifestView } from "./keys.ts";

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Obj : {};
}

/** The `meta` key that turns a source's content fingerprint off. */
export const FINGERPRINT_META = "floe_fingerprint";

/**
 * Adapters with a fingerprint query: one row `k='f', a=index, b=rows, c, d`
 * (two order-independent aggregates of the row hashes), all text.
 */
const FINGERPRINT_SQL: Record<string, (relation: string, i: number) => string> =
  {
    duckdb: (r, i) =>
      `select 'f' as k, '${i}' as a, cast(count(*) as varchar) as b, cast(coalesce(bit_xor(hash(t)), 0) as varchar) as c, cast(coalesce(sum(hash(t)), 0) as varchar) as d from ${r} as t`,
    postgres: (r, i) =>
      `select 'f' as k, '${i}' as a, cast(count(*) as varchar) as b, '' as c, cast(coalesce(sum(hashtext(t::text)::numeric), 0) as varchar) as d from ${r} as t`,
  };

// "a"."b"."c" or a.b.c: identifiers only, so the name is a relation, not SQL.
const IDENT = String
  .raw`(?:"(?:[^"\u0000-\u001f]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const RELATION = new RegExp(`^${IDENT}(?:\\.${IDENT}){0,2}$`);
// deno-lint-ignore no-control-regex
const PLAIN_TEXT = /^[^\u0000-\u001f']*$/;

/** Whether `name` is a plain relation name (identifiers only, not SQL). */
export function isPlainRelation(name: string): boolean {
  return RELATION.test(name);
}

/** Whether `text` can be written as a SQL string literal as it is. */
export function isPlainText(text: string): boolean {
  return PLAIN_TEXT.test(text);
}

/** A relation's identity, lower case, as `database.schema.name`. */
export function relationKey(
  database: unknown,
  schema: unknown,
  name: unknown,
): string {
  return [database ?? "", schema ?? "", name ?? ""].map((p) =>
    String(p).toLowerCase()
  ).join(".");
}

/** The database, schema and name of a node or source. */
export function relationParts(
  n: Obj,
): { database: string; schema: string; name: string } {
  return {
    database: String(n.database ?? ""),
    schema: String(n.schema ?? ""),
    name: String(n.identifier ?? n.alias ?? n.name ?? ""),
  };
}

/** How a source is versioned (before asking the warehouse). */
export type SourcePlan =
  | { kind: "freshness" }
  | { kind: "fingerprint"; relation: string }
  | { kind: "none"; why: string };

/** Decide how to version a source. */
export function planSource(view: ManifestView, source: Obj): SourcePlan {
  const freshness = obj(source.freshness);
  const hasThreshold = ["warn_after", "error_after"].some((k) =>
    obj(freshness[k]).count !== undefined && obj(freshness[k]).count !== null
  );
  const config = obj(source.config);
  const loadedAt = source.loaded_at_field ?? config.loaded_at_field ??
    source.loaded_at_query ?? config.loaded_at_query;
  if (hasThreshold && typeof loadedAt === "string" && loadedAt) {
    return { kind: "freshness" };
  }
  const meta = { ...obj(source.meta), ...obj(config.meta) };
  if (meta[FINGERPRINT_META] === false) {
    return {
      kind: "none",
      why:
        `no freshness, and its fingerprint is turned off (meta ${FINGERPRINT_META}: false)`,
    };
  }
  if (!FINGERPRINT_SQL[view.adapterType]) {
    return {
      kind: "none",
      why: `no freshness, and no fingerprint query for the ${
        view.adapterType || "unknown"
      } adapter`,
    };
  }
  const relation = String(source.relation_name ?? "");
  if (!RELATION.test(relation)) {
    return {
      kind: "none",
      why: `no freshness, and its relation ${
        JSON.stringify(relation)
      } is not a plain table name to fingerprint`,
    };
  }
  return { kind: "fingerprint", relation };
}

/**
 * The query listing which of `relations` exist (rows: d, s, n), or
 * undefined when a schema name cannot be written as a plain literal.
 */
export function existenceSql(
  relations: { database: string; schema: string }[],
): string | undefined {
  const schemas = [...new Set(relations.map((r) => r.schema.toLowerCase()))];
  if (schemas.length === 0) return undefined;
  if (!schemas.every((s) => PLAIN_TEXT.test(s))) return undefined;
  const list = schemas.map((s) => `'${s}'`).join(", ");
  return `select 'r' as k, cast(table_catalog as varchar) as a, cast(table_schema as varchar) as b, cast(table_name as varchar) as c, '' as d from information_schema.tables where lower(table_schema) in (${list})`;
}

/** One fingerprint query over several source relations (rows: i, n, x, s). */
export function fingerprintSql(
  adapterType: string,
  relations: readonly string[],
): string {
  const one = FINGERPRINT_SQL[adapterType]!;
  return relations.map((r, i) => one(r, i)).join("\nunion all\n");
}

/** A source's version from its fingerprint row. */
export function fingerprintVersion(row: Obj): string {
  return `rows=${String(row.b)};agg=${String(row.c)};sum=${String(row.d)}`;
}

/**
 * Whether `e` says the runtime cannot run the agent's queries on this
 * project at all (a FloeDbtError with `details.blocks_queries`, e.g. a
 * Fusion project with a node named `inline`): retrying cannot help.
 */
export function blocksQueries(e: unknown): boolean {
  return e instanceof FloeDbtError && e.details.blocks_queries === true;
}

/** What taking the data versions cost and found. */
export interface DataVersionReport {
  versions: Record<string, DataVersion>;
  /** Wall time of the fingerprint query, ms (null: none ran). */
  fingerprint_ms: number | null;
  /** Wall time of the freshness call, ms (null: none ran). */
  freshness_ms: number | null;
  /** dbt's freshness of the sources that have one. */
  freshness: Record<string, FreshnessSeen>;
}

/** The warehouse looks `takeDataVersions` needs, given by the caller. */
export interface Warehouse {
  /** Rows of one of the agent's own queries. */
  query(sql: string): Promise<Obj[]>;
  /** dbt source freshness for these sources, per unique_id. */
  freshness(ids: string[]): Promise<Record<string, FreshnessSeen>>;
}

/** What dbt source freshness said of a source. */
export interface FreshnessSeen {
  /** pass, warn, error or runtime error. */
  status: string;
  max_loaded_at: string | null;
  age_seconds: number | null;
}

/**
 * What one warehouse query looked at: the source relations it
 * fingerprinted (row `a` is the index here) and the schemas whose tables it
 * listed (lower case). A plan may run the query of a look guessed before
 * parsing (from the last plan) and use its rows when they cover what the
 * new manifest needs (`lookCovers`).
 */
export interface WarehouseLook {
  adapterType: string;
  prints: string[];
  schemas: string[];
}

/** Rows of a look's query, taken before the manifest was known. */
export interface LookRows {
  look: WarehouseLook;
  rows: Obj[];
}

/** The look's query (fingerprints, then existence), or undefined when empty. */
export function lookSql(look: WarehouseLook): string | undefined {
  if (look.prints.length && !FINGERPRINT_SQL[look.adapterType]) {
    return undefined;
  }
  if (!look.prints.every((r) => RELATION.test(r))) return undefined;
  const parts: string[] = [];
  if (look.prints.length) {
    parts.push(fingerprintSql(look.adapterType, look.prints));
  }
  const exists = existenceSql(
    look.schemas.map((schema) => ({ database: "", schema })),
  );
  if (look.schemas.length && !exists) return undefined;
  if (exists) parts.push(exists);
  return parts.length ? parts.join("\nunion all\n") : undefined;
}

/**
 * True when the rows of `done` answer everything `need` asks: the same
 * adapter, every relation to fingerprint among its fingerprints, every
 * schema among the schemas it listed.
 */
export function lookCovers(done: WarehouseLook, need: WarehouseLook): boolean {
  if (done.adapterType !== need.adapterType) return false;
  const prints = new Set(done.prints);
  const schemas = new Set(done.schemas);
  return need.prints.every((r) => prints.has(r)) &&
    need.schemas.every((s) => schemas.has(s));
}

/** The look a plan needs: these relations to fingerprint, these relations' schemas. */
export function neededLook(
  adapterType: string,
  prints: readonly string[],
  relations: readonly { schema: string }[],
): WarehouseLook {
  return {
    adapterType,
    prints: [...new Set(prints)],
    schemas: [...new Set(relations.map((r) => r.schema.toLowerCase()))]
      .sort(),
  };
}

/**
 * Which of `relations` exist, and the data version of each source in
 * `ids`: one query for both (the fingerprints and the existence rows); when
 * it fails (a fingerprinted table is missing), the existence query alone,
 * then the fingerprints of the tables that exist. A source whose relation
 * does not exist gets no version (its descendants fail in dbt, loudly).
 * `done`: the rows of a query run before the manifest was known, used
 * instead of a query when they cover what is needed.
 */
export async function lookAtWarehouse(
  view: ManifestView,
  ids: readonly string[],
  relations: { database: string; schema: string; name: string }[],
  warehouse: Warehouse,
  done?: LookRows,
): Promise<DataVersionReport & { existing: Set<string>; look: WarehouseLook }> {
  const versions: Record<string, DataVersion> = {};
  const fresh: string[] = [];
  let prints: { id: string; relation: string; key: string }[] = [];
  for (const id of ids) {
    const source = view.sources[id];
    if (!source) {
      versions[id] = { version: null, method: "not in the manifest" };
      continue;
    }
    const plan = planSource(view, source);
    if (plan.kind === "freshness") fresh.push(id);
    else if (plan.kind === "none") {
      versions[id] = { version: null, method: plan.why };
    } else {
      const p = relationParts(source);
      relations.push(p);
      prints.push({
        id,
        relation: plan.relation,
        key: relationKey(p.database, p.schema, p.name),
      });
    }
  }
  const need = neededLook(
    view.adapterType,
    prints.map((p) => p.relation),
    relations,
  );
  const existing = new Set<string>();
  const exists = existenceSql(relations);
  const t0 = performance.now();
  let rows: Obj[] | undefined;
  // Fingerprint rows by relation (a guessed look's indexes are its own).
  let printOf: (i: number) => Obj | undefined;
  if (done && lookCovers(done.look, need) && (exists || !relations.length)) {
    rows = done.rows;
    const byRelation = new Map<string, Obj>();
    for (const r of rows) {
      const relation = r.k === "f" ? done.look.prints[Number(r.a)] : undefined;
      if (relation !== undefined) byRelation.set(relation, r);
    }
    printOf = (i) => byRelation.get(prints[i]!.relation);
  } else {
    if (prints.length) {
      const sql = fingerprintSql(
        view.adapterType,
        prints.map((p) => p.relation),
      );
      rows = await warehouse.query(
        exists ? `${sql}\nunion all\n${exists}` : sql,
      ).catch((e) => {
        if (blocksQueries(e)) throw e;
        return undefined;
      });
    }
    if (!rows) {
      rows = exists ? await warehouse.query(exists) : [];
      for (const r of rows) existing.add(relationKey(r.a, r.b, r.c));
      const missing = prints.filter((p) => !existing.has(p.key));
      for (const p of missing) {
        versions[p.id] = {
          version: null,
          method: "its relation does not exist in the warehouse",
        };
      }
      prints = prints.filter((p) => existing.has(p.key));
      if (prints.length) {
        rows.push(
          ...await warehouse.query(
            fingerprintSql(view.adapterType, prints.map((p) => p.relation)),
          ),
        );
      }
    }
    const byIndex = new Map<number, Obj>();
    for (const r of rows) if (r.k === "f") byIndex.set(Number(r.a), r);
    printOf = (i) => byIndex.get(i);
  }
  for (const r of rows) {
    if (r.k === "r") existing.add(relationKey(r.a, r.b, r.c));
  }
  // Taken by the guessed look (with the parse): its cost is the plan's.
  const fingerprintMs = prints.length && rows !== done?.rows
    ? performance.now() - t0
    : null;
  for (const [i, p] of prints.entries()) {
    const row = printOf(i);
    versions[p.id] = row
      ? { version: fingerprintVersion(row), method: "fingerprint" }
      : { version: null, method: "the fingerprint query gave no row" };
  }
  let freshnessMs: number | null = null;
  let got: Record<string, FreshnessSeen> = {};
  if (fresh.length) {
    const t1 = performance.now();
    got = await warehouse.freshness(fresh);
    freshnessMs = performance.now() - t1;
    for (const id of fresh) {
      const seen = got[id];
      const at = seen && seen.status !== "runtime error"
        ? seen.max_loaded_at
        : null;
      versions[id] = at
        ? { version: `max_loaded_at=${at}`, method: "freshness" }
        : {
          version: null,
          method: "dbt source freshness gave no max_loaded_at",
        };
    }
  }
  return {
    versions,
    existing,
    // What the next plan may guess: without the tables found missing (a
    // query naming one fails).
    look: neededLook(
      view.adapterType,
      prints.map((p) => p.relation),
      relations,
    ),
    fingerprint_ms: fingerprintMs,
    freshness_ms: freshnessMs,
    freshness: got,
  };
}
