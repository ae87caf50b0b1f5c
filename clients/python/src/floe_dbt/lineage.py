"""A dbt node's dataset name, as OpenLineage and Airflow name it.

``openlineage_dataset(manifest, node, namespace)`` gives the node's
OpenLineage ``(namespace, name)`` and ``asset_uri(manifest, node, namespace)``
the Airflow Asset URI for the same table, in the form Airflow's provider URI
normalizers accept and convert back to that OpenLineage dataset. The agent's
OpenLineage events name a node the same way when ``plugins.lineage.
dataset_namespace`` is the same namespace (name: ``database.schema.alias``).

Per adapter (``metadata.adapter_type`` of the manifest):

- postgres: namespace ``postgres://{host}:{port}``, name
  ``{database}.{schema}.{table}`` (OpenLineage spec/Naming.md); Asset
  ``postgres://{host}:{port}/{database}/{schema}/{table}``, the form
  apache-airflow-providers-postgres' ``assets/postgres.py`` requires (its
  ``sanitize_uri`` adds port 5432 when none is given, so we do too).
- mysql: namespace ``mysql://{host}:{port}``, name ``{database}.{table}``
  (Naming.md; dbt-mysql's schema is the MySQL database); Asset
  ``mysql://{host}:{port}/{database}/{table}`` (apache-airflow-providers-mysql
  ``assets/mysql.py``, default port 3306).
- bigquery: namespace ``bigquery``, name ``{project}.{dataset}.{table}``
  (Naming.md); Asset ``bigquery://{project}/{dataset}/{table}``
  (apache-airflow-providers-google ``assets/bigquery.py``, whose OpenLineage
  converter maps it back to exactly that namespace and name).
- redshift ``redshift://{cluster_identifier}.{region}:{port}``, trino
  ``trino://{host}:{port}`` (name ``{catalog}.{schema}.{table}``), snowflake
  ``snowflake://{organization}-{account}``: namespaces from Naming.md, name
  ``{database}.{schema}.{table}``; Airflow registers no normalizer for these
  schemes, so the Asset is ``{namespace}/{database}/{schema}/{table}`` as for
  postgres.
- duckdb and any other adapter: Naming.md defines none; without a namespace
  they are named like BigQuery (namespace ``{adapter}``, Asset
  ``{adapter}://{database}/{schema}/{table}``); with one, like postgres.

The host-based adapters (postgres, mysql, redshift, trino, snowflake) need the
namespace, which a manifest does not hold (the profile's host does not reach
it): without one ``asset_uri`` raises ``FloeDbtUsageError`` naming
``asset_namespace``. Profiles are not read here: they hold credentials, are
often rendered from ``env_var()`` Jinja, and may sit on the agent's host rather
than Airflow's.
"""

import urllib.parse
from collections.abc import Mapping
from typing import Any

from .errors import FloeDbtUsageError

__all__ = ["HOST_BASED", "asset_uri", "openlineage_dataset"]

#: Adapters whose OpenLineage namespace names a server, with the port Airflow's
#: normalizer adds when none is given (None: the port is required).
HOST_BASED: dict[str, int | None] = {
    "postgres": 5432,
    "mysql": 3306,
    "redshift": None,
    "trino": None,
    "snowflake": 0,  # an account, no port
}
_SCHEMES = {"postgresql": "postgres"}


def _adapter(manifest: Mapping[str, Any]) -> str:
    return str((manifest.get("metadata") or {}).get("adapter_type") or "dbt").lower()


def _parts(adapter: str, node: Mapping[str, Any]) -> list[str]:
    table = node.get("identifier") if node.get("resource_type") == "source" else node.get("alias")
    table = table or node.get("name")
    if adapter == "mysql":  # database.table: dbt-mysql's schema is the database
        return [str(p) for p in (node.get("schema"), table) if p]
    return [str(p) for p in (node.get("database"), node.get("schema"), table) if p]


def _namespace(adapter: str, namespace: str | None) -> str:
    """The namespace, checked and normalized (scheme, default port)."""
    if namespace is None:
        if adapter in HOST_BASED:
            raise FloeDbtUsageError(
                f"a {adapter} project's Asset URIs need the warehouse's host: pass "
                f"asset_namespace (e.g. asset_namespace=\"{adapter}://db.internal"
                f"{':5432' if adapter == 'postgres' else ''}\"), the same value as the agent's "
                "plugins.lineage.dataset_namespace, or asset_uri=None for no outlets"
            )
        return adapter
    text = namespace.strip()
    if "@" in text:  # never echo it: it may hold a password
        raise FloeDbtUsageError("asset_namespace must not carry a user or password: give host and port only")
    if "://" not in text:
        text = f"{adapter}://{text}"
    try:
        u = urllib.parse.urlsplit(text)
        port = u.port
    except ValueError as e:
        raise FloeDbtUsageError(f"asset_namespace {namespace!r} is not a URI: {e}") from None
    scheme = _SCHEMES.get(u.scheme.lower(), u.scheme.lower())
    if not u.hostname or u.path not in ("", "/") or u.query or u.fragment:
        raise FloeDbtUsageError(
            f"asset_namespace {namespace!r} must be <scheme>://<host>[:<port>], with no path or query"
        )
    if scheme != adapter and adapter != "dbt":
        raise FloeDbtUsageError(
            f"asset_namespace {namespace!r} is not a {adapter}:// namespace (the manifest's adapter)"
        )
    host = u.netloc
    if port is None and adapter in HOST_BASED:
        default = HOST_BASED[adapter]
        if default is None:
            raise FloeDbtUsageError(f"asset_namespace {namespace!r} needs the {adapter} port (<host>:<port>)")
        if default:
            host = f"{u.hostname}:{default}"
    return f"{scheme}://{host}"


def openlineage_dataset(
    manifest: Mapping[str, Any], node: Mapping[str, Any], namespace: str | None = None
) -> tuple[str, str]:
    """The node's OpenLineage dataset ``(namespace, name)``."""
    adapter = _adapter(manifest)
    return _namespace(adapter, namespace), ".".join(_parts(adapter, node))


def asset_uri(manifest: Mapping[str, Any], node: Mapping[str, Any], namespace: str | None = None) -> str:
    """The node's Airflow Asset URI (the OpenLineage dataset, path-separated;
    each part percent-encoded, so a ``/``, ``?`` or ``#`` in a name stays in
    its part)."""
    adapter = _adapter(manifest)
    ns = _namespace(adapter, namespace)
    path = "/".join(urllib.parse.quote(p, safe="") for p in _parts(adapter, node))
    return f"{ns}/{path}" if "://" in ns else f"{ns}://{path}"
