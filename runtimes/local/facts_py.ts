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
 *   upstream relations' columns with sqlglot (src/dbt/lineage_py.ts, shared
 *   with the fusion and cloud runtimes). A model sqlglot cannot resolve
 *   (or no sqlglot installed) gets none and a debug line on the worker's
 *   stderr (shown with FLOE_DBT_DEBUG), never an error.
 *
 * @module
 */

import { LINEAGE_PY } from "../../src/dbt/lineage_py.ts";

/** Python: `node_facts(manifest, run_result, opts) -> {unique_id: facts}`. */
export const FACTS_PY = String.raw`
def _facts_debug(msg):
    sys.stderr.write("floe-dbt facts: %s\n" % (msg,))

_FACT_TYPES = ("model", "seed", "snapshot")
_COUNTED = ("table", "incremental", "seed", "snapshot")

def _enum_value(v):
    return getattr(v, "value", v)

def _identifier(n):
    if _enum_value(n.resource_type) == "source":
        return n.identifier or n.name
    return getattr(n, "alias", None) or n.name

${LINEAGE_PY}

class _LazyParents:
    """The parents column_lineage walks, each one's columns read only when reached."""
    def __init__(self, items, columns_of):
        self._items = items
        self._columns_of = columns_of

    def __iter__(self):
        for pid, database, schema, identifier, node in self._items:
            cols = self._columns_of(node)
            yield pid, database, schema, identifier, [c for c, _t in cols] if cols else None

def node_facts(manifest, run_result, opts):
    from dbt.adapters.factory import FACTORY
    adapter_type = manifest.metadata.adapter_type
    adapter = FACTORY.adapters.get(adapter_type)
    if adapter is None:
        _facts_debug("no facts: adapter %r is not loaded" % (adapter_type,))
        return {}
    dialect = sqlglot_dialect(adapter_type)
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
                facts["column_lineage"] = column_lineage(
                    uid, sql, dialect,
                    _LazyParents([(pid, p.database, p.schema, _identifier(p), p) for pid, p in parents], columns_of),
                    _facts_debug)
            out[uid] = facts
    return out
`;
