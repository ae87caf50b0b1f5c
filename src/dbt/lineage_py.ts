/**
 * Column lineage with sqlglot, as Python source shared by every runtime: the
 * local dbt-core worker embeds `LINEAGE_PY` (runtimes/local/facts_py.ts) and
 * calls it in process; the fusion and cloud runtimes run `LINEAGE_MAIN_PY`
 * with the dbt-core environment's Python over a request file (lineage.ts).
 *
 * `column_lineage(uid, sql, dialect, parents, debug)` takes the compiled SQL
 * of one model and its upstream relations as
 * `(unique_id, database, schema, identifier, [column names] or None)`, and
 * gives `{output column: [{unique_id, column}]}` (each list sorted), or
 * None (with a debug line why) when sqlglot is missing, the adapter has no
 * sqlglot dialect, an upstream relation's columns are unknown, or sqlglot
 * cannot resolve the SQL.
 *
 * @module
 */

/** Python: `sqlglot_dialect(adapter_type)` and `column_lineage(...)`. */
export const LINEAGE_PY = String.raw`
_SQLGLOT_DIALECTS = {"postgres": "postgres", "redshift": "redshift", "snowflake": "snowflake",
                     "bigquery": "bigquery", "databricks": "databricks", "spark": "spark",
                     "duckdb": "duckdb", "trino": "trino", "clickhouse": "clickhouse"}

def sqlglot_dialect(adapter_type):
    dialect = _SQLGLOT_DIALECTS.get(adapter_type)
    if dialect is None:
        try:
            from sqlglot.dialects.dialect import Dialect
            dialect = adapter_type if Dialect.get(adapter_type) else None
        except ImportError:
            pass
    return dialect

def column_lineage(uid, sql, dialect, parents, debug):
    """{output column: [{unique_id, column}]} or None (debug line why)."""
    try:
        import sqlglot
        from sqlglot import exp
        from sqlglot.lineage import lineage
        from sqlglot.optimizer.qualify import qualify
    except ImportError:
        debug("no column lineage: sqlglot is not installed in the dbt-core environment")
        return None
    if dialect is None:
        debug("no column lineage for %s: no sqlglot dialect for this adapter" % uid)
        return None
    try:
        schema = {}
        by_table = {}
        for pid, database, schema_name, identifier, cols in parents:
            if not cols:
                raise ValueError("the columns of %s are unknown" % pid)
            key = ((database or ""), schema_name, identifier)
            schema.setdefault(key[0], {}).setdefault(key[1], {})[key[2]] = {c: "UNKNOWN" for c in cols}
            by_table[tuple(x.lower() for x in key)] = pid
            by_table[tuple(x.lower() for x in key[1:])] = pid
        if not all(k for k in schema):
            schema = {s: t for d in schema.values() for s, t in d.items()}
        expr = sqlglot.parse_one(sql, dialect=dialect)
        q = qualify(expr, schema=schema, dialect=dialect, validate_qualify_columns=False)
        out = {}
        for col in q.named_selects:
            found = []
            for x in lineage(col, q, schema=schema, dialect=dialect).walk():
                if x.downstream or not isinstance(x.expression, exp.Table):
                    continue
                t = x.expression
                pid = by_table.get(tuple(s.lower() for s in (t.catalog, t.db, t.name) if s)) \
                    or by_table.get((t.db.lower(), t.name.lower()))
                if pid is None:
                    continue
                item = {"unique_id": pid, "column": exp.to_column(x.name).name}
                if item not in found:
                    found.append(item)
            # Sorted: the walk's order varies between processes (set order).
            out[col] = sorted(found, key=lambda i: (i["unique_id"], i["column"]))
        return out
    except Exception as e:
        debug("no column lineage for %s: %s: %s" % (uid, type(e).__name__, e))
        return None
`;

/**
 * Python run as `python -I -c LINEAGE_MAIN_PY request.json`: the request is
 * `{adapter_type, models: [{unique_id, sql, parents: [{unique_id, database,
 * schema, identifier, columns}]}]}`; stdout is `{unique_id: lineage or
 * null}` as JSON, stderr one debug line per model left without lineage.
 */
export const LINEAGE_MAIN_PY = String.raw`
import json, sys
${LINEAGE_PY}

def _debug(msg):
    sys.stderr.write("%s\n" % (msg,))

def _main(path):
    with open(path, encoding="utf-8") as f:
        req = json.load(f)
    try:
        import sqlglot  # noqa: F401
    except ImportError:
        _debug("no column lineage: sqlglot is not installed in the dbt-core environment")
        json.dump({}, sys.stdout)
        return
    dialect = sqlglot_dialect(req.get("adapter_type") or "")
    out = {}
    for m in req.get("models") or []:
        parents = [(p["unique_id"], p.get("database"), p.get("schema") or "", p.get("identifier") or "",
                    p.get("columns")) for p in m.get("parents") or []]
        out[m["unique_id"]] = column_lineage(m["unique_id"], m["sql"], dialect, parents, _debug)
    json.dump(out, sys.stdout)

_main(sys.argv[1])
`;
