/**
 * Per-node facts, computed by the warm dbt-core worker right after a run (its
 * manifest and adapter are in the process): Python source that
 * `worker_py.ts` embeds. For every model, seed and snapshot that succeeded:
 *
 * - `relation`: the relation dbt built (`database.schema.identifier`);
 * - `rows_affected`: what the adapter reported in run_results.json's
 *   `adapter_response.rows_affected` (null when it reported none);
 * - `row_count`: `select count(*)` of a table, seed, snapshot or incremental
 *   model through the same adapter (not views; off with the local runtime's
 *   `row_counts: false`, for warehouses where a count costs);
 * - `columns`: the relation's columns as the adapter reads them (name, type),
 *   with the manifest's description; the manifest's columns when the
 *   relation cannot be read;
 * - `column_lineage`: for each output column, the upstream columns it is
 *   computed from (`{unique_id, column}`), from the compiled SQL and the
 *   upstream relations' columns with sqlglot. A model sqlglot cannot resolve
 *   (or no sqlglot installed) gets none and a debug line on the worker's
 *   stderr (shown with FLOE_DBT_DEBUG), never an error.
 *
 * @module
 */

/** Python: `node_facts(manifest, run_result, opts) -> {unique_id: facts}`. */
export const FACTS_PY = String.raw`
def _facts_debug(msg):
    sys.stderr.write("floe-dbt facts: %s\n" % (msg,))

_FACT_TYPES = ("model", "seed", "snapshot")
_COUNTED = ("table", "incremental", "seed", "snapshot")
_SQLGLOT_DIALECTS = {"postgres": "postgres", "redshift": "redshift", "snowflake": "snowflake",
                     "bigquery": "bigquery", "databricks": "databricks", "spark": "spark",
                     "duckdb": "duckdb", "trino": "trino", "clickhouse": "clickhouse"}

def _enum_value(v):
    return getattr(v, "value", v)

def _identifier(n):
    if _enum_value(n.resource_type) == "source":
        return n.identifier or n.name
    return getattr(n, "alias", None) or n.name

def _lineage(node, sql, parents, columns_of, relation_of, dialect):
    """{output column: [{unique_id, column}]} or None (debug line why)."""
    try:
        import sqlglot
        from sqlglot import exp
        from sqlglot.lineage import lineage
        from sqlglot.optimizer.qualify import qualify
    except ImportError:
        _facts_debug("no column lineage: sqlglot is not installed in the dbt-core environment")
        return None
    if dialect is None:
        _facts_debug("no column lineage for %s: no sqlglot dialect for this adapter" % node.unique_id)
        return None
    try:
        schema = {}
        by_table = {}
        for pid, p in parents:
            cols = columns_of(p)
            if not cols:
                raise ValueError("the columns of %s are unknown" % pid)
            key = ((p.database or ""), p.schema, _identifier(p))
            schema.setdefault(key[0], {}).setdefault(key[1], {})[key[2]] = {c: "UNKNOWN" for c, _t in cols}
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
            out[col] = found
        return out
    except Exception as e:
        _facts_debug("no column lineage for %s: %s: %s" % (node.unique_id, type(e).__name__, e))
        return None

def node_facts(manifest, run_result, opts):
    from dbt.adapters.factory import FACTORY
    adapter_type = manifest.metadata.adapter_type
    adapter = FACTORY.adapters.get(adapter_type)
    if adapter is None:
        _facts_debug("no facts: adapter %r is not loaded" % (adapter_type,))
        return {}
    dialect = _SQLGLOT_DIALECTS.get(adapter_type)
    if dialect is None:
        try:
            from sqlglot.dialects.dialect import Dialect
            dialect = adapter_type if Dialect.get(adapter_type) else None
        except ImportError:
            pass
    cache = {}

    def relation_of(n):
        return adapter.Relation.create(database=n.database, schema=n.schema, identifier=_identifier(n))

    def columns_of(n):
        key = str(relation_of(n))
        if key not in cache:
            try:
                cache[key] = [(c.name, c.dtype) for c in adapter.get_columns_in_relation(relation_of(n))]
            except Exception as e:
                _facts_debug("columns of %s unread: %s" % (key, e))
                cache[key] = None
        return cache[key]

    def lookup(uid):
        return manifest.nodes.get(uid) or manifest.sources.get(uid)

    out = {}
    with adapter.connection_named("floe-dbt node facts"):
        for r in getattr(run_result, "results", None) or []:
            node = r.node
            rtype = _enum_value(node.resource_type)
            materialized = getattr(node.config, "materialized", None)
            if rtype not in _FACT_TYPES or _enum_value(r.status) != "success" or materialized == "ephemeral":
                continue
            uid = node.unique_id
            rel = relation_of(node)
            resp = r.adapter_response or {}
            rows = resp.get("rows_affected")
            facts = {"relation": ".".join(x for x in (node.database, node.schema, _identifier(node)) if x),
                     "rows_affected": rows if type(rows) is int and rows >= 0 else None,
                     "row_count": None}
            if opts.get("row_counts") and (rtype in _COUNTED or materialized in _COUNTED):
                try:
                    _resp, table = adapter.execute("select count(*) from %s" % (rel,), fetch=True)
                    facts["row_count"] = int(table.rows[0][0])
                except Exception as e:
                    _facts_debug("no row count for %s: %s" % (uid, e))
            described = {name.lower(): c for name, c in (node.columns or {}).items()}
            live = columns_of(node)
            if live is not None:
                facts["columns"] = [{"name": name, "data_type": dtype,
                                     "description": getattr(described.get(name.lower()), "description", None) or None}
                                    for name, dtype in live]
            else:
                facts["columns"] = [{"name": c.name, "data_type": c.data_type, "description": c.description or None}
                                    for c in described.values()]
            sql = getattr(node, "compiled_code", None)
            facts["column_lineage"] = None
            if rtype == "model" and sql and getattr(node, "language", "sql") == "sql":
                parents = [(p, lookup(p)) for p in node.depends_on.nodes]
                # An ephemeral parent is a CTE of the compiled SQL, not a relation.
                parents = [(p, n) for p, n in parents
                           if n is not None and _enum_value(n.resource_type) in ("model", "seed", "snapshot", "source")
                           and getattr(getattr(n, "config", None), "materialized", None) != "ephemeral"]
                facts["column_lineage"] = _lineage(node, sql, parents, columns_of, relation_of, dialect)
            out[uid] = facts
    return out
`;
