"""Airflow Assets of a FloeDbtTaskGroup on Postgres, with the real
apache-airflow-providers-postgres installed (its ``postgres://`` URI
normalizer active): a real dbt-core build on a real PostgreSQL through a real
daemon whose OpenLineage events go to a receiver here; the DAG parses in a
DagBag, each node's Asset URI is what the provider's normalizer keeps, and the
provider's own OpenLineage converter turns it into the dataset the agent's
events name. Without ``asset_namespace`` the DAG fails to parse with an error
naming it (the host is not in a manifest)."""

import json
import secrets
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from _postgres import Postgres
from conftest import Daemon
from floe_dbt.errors import FloeDbtUsageError
from floe_dbt.lineage import asset_uri, openlineage_dataset

DAG_FILE = """
import datetime, os
from airflow.sdk import DAG
from floe_dbt.airflow import FloeDbtTaskGroup

with DAG("pg_assets", schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:
    FloeDbtTaskGroup(group_id="pg", manifest=os.environ["T_MANIFEST"],
                     project_dir=os.environ["T_PROJECT"], url="http://127.0.0.1:9",
                     {namespace})
"""

# Runs in a subprocess (the Airflow environment of AIRFLOW_HOME): parses the
# folder with a DagBag; prints import errors, each node task's outlet URIs and
# what the provider makes of them.
PROBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.providers_manager import ProvidersManager
import airflow.providers.common.compat.openlineage.facet as facet
from airflow.providers.postgres.assets.postgres import convert_asset_to_openlineage
from airflow.sdk import Asset

# The provider's converter builds the OpenLineage client's Dataset, a no-op
# placeholder when openlineage-python is not installed (it is not here): give
# it a plain record so the provider's own code computes namespace and name.
facet.Dataset = lambda namespace, name: {"namespace": namespace, "name": name}

bag = DagBag(dag_folder=sys.argv[1])
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()},
       "handler": getattr(ProvidersManager().asset_uri_handlers.get("postgres"), "__module__", None),
       "tasks": {}}
for dag in bag.dags.values():
    for t in dag.tasks:
        out["tasks"][t.task_id] = [
            {"uri": a.uri, "again": Asset(a.uri).uri,
             "ol": list(convert_asset_to_openlineage(a, None).values())}
            for a in t.outlets
        ]
try:
    Asset("postgres://pg_assets/floe/items_upper")
    out["old_form"] = "accepted"
except ValueError as e:
    out["old_form"] = str(e)
print("PROBE " + json.dumps(out))
"""


class _Receiver(BaseHTTPRequestHandler):
    bodies: list = []  # noqa: RUF012 (reset per test)

    def do_POST(self) -> None:
        n = int(self.headers.get("content-length") or 0)
        type(self).bodies.append(json.loads(self.rfile.read(n)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def _write_project(proj: Path, pg: Postgres) -> None:
    (proj / "models").mkdir(parents=True)
    (proj / "seeds").mkdir()
    (proj / "dbt_project.yml").write_text(
        "name: pg_assets\nversion: '1.0.0'\nconfig-version: 2\nprofile: pg_assets\n"
        "models:\n  pg_assets:\n    +materialized: table\n"
    )
    (proj / "profiles.yml").write_text(
        "pg_assets:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n"
        f"      host: 127.0.0.1\n      port: {pg.port}\n      user: {pg.user}\n"
        '      password: ""\n      dbname: postgres\n      schema: floe\n      threads: 1\n'
    )
    (proj / "seeds" / "raw_items.csv").write_text("id,name\n1,a\n2,b\n")
    (proj / "models" / "items_upper.sql").write_text(
        "select id, upper(name) as name from {{ ref('raw_items') }}\n"
    )
    # an alias and a custom schema: the relation is floe_marts.item_totals
    (proj / "models" / "item_count.sql").write_text(
        "{{ config(alias='item_totals', schema='marts') }}\n"
        "select count(*) as n from {{ ref('items_upper') }}\n"
    )


@pytest.fixture(scope="module")
def pg():
    p = Postgres()
    yield p
    p.stop()


def _probe(env: dict, folder: Path) -> dict:
    script = folder.parent / "probe.py"
    script.write_text(PROBE)
    proc = subprocess.run([sys.executable, str(script), str(folder)], env=env, check=False,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    line = next((x for x in proc.stdout.splitlines() if x.startswith("PROBE ")), None)
    assert line, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(line[len("PROBE "):])


def test_postgres_group_parses_with_the_provider_and_its_assets_are_the_agents_datasets(
    pg: Postgres, airflow_home, tmp_path: Path
):
    namespace = f"postgres://127.0.0.1:{pg.port}"
    root = tmp_path / "root"
    proj = root / "pg_assets"
    _write_project(proj, pg)

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.bodies = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = root / "floe-manifest.yaml"
    config.write_text(
        "plugins:\n  dbt_runtime: local\n  lineage:\n"
        f"    url: http://127.0.0.1:{server.server_address[1]}/api/v1/lineage\n"
        f"    namespace: airflow-assets-test\n    dataset_namespace: {namespace}\n"
    )
    daemon = Daemon(root, "t-" + secrets.token_hex(16), extra=["--config", str(config)]).start()
    try:
        from floe_dbt import FloeDbtClient

        with FloeDbtClient(daemon.url, token=daemon.token, timeout=60) as client:
            result = client.run("build", proj, profiles_dir=str(proj), timeout=900)
    finally:
        daemon.stop()
        server.shutdown()
    assert pg.sql("select n from floe_marts.item_totals") == "2"
    done = [e for e in _Receiver.bodies if e["eventType"] == "COMPLETE"]
    assert len(done) == 1, [e["eventType"] for e in _Receiver.bodies]
    assert done[0]["job"]["namespace"] == "airflow-assets-test"
    agent = {(d["namespace"], d["name"]) for d in done[0]["outputs"]}
    assert agent == {
        (namespace, "postgres.floe.raw_items"),
        (namespace, "postgres.floe.items_upper"),
        (namespace, "postgres.floe_marts.item_totals"),
    }

    home = Path(airflow_home["AIRFLOW_HOME"])
    env = {**airflow_home, "T_MANIFEST": str(result.manifest_path), "T_PROJECT": str(proj)}
    good = home / "dags_pg"
    good.mkdir()
    (good / "pg_assets.py").write_text(DAG_FILE.format(namespace=f'asset_namespace="{namespace}"'))
    out = _probe(env, good)
    assert out["errors"] == {}
    assert out["handler"] == "airflow.providers.postgres.assets.postgres"
    # the form the old default made is refused once the provider is installed
    assert "must contain database, schema, and table names" in out["old_form"]
    port = pg.port
    assert {k: [a["uri"] for a in v] for k, v in out["tasks"].items()} == {
        "pg.submit": [],
        "pg.seed_raw_items": [f"postgres://127.0.0.1:{port}/postgres/floe/raw_items"],
        "pg.model_items_upper": [f"postgres://127.0.0.1:{port}/postgres/floe/items_upper"],
        "pg.model_item_count": [f"postgres://127.0.0.1:{port}/postgres/floe_marts/item_totals"],
    }
    assets = [a for v in out["tasks"].values() for a in v]
    # the provider's normalizer keeps every URI as it is ...
    assert all(a["again"] == a["uri"] for a in assets)
    # ... and its OpenLineage converter gives the datasets the agent's events name
    assert {tuple(a["ol"]) for a in assets} == agent

    # the same names from floe_dbt.lineage, for the manifest's nodes
    manifest = json.loads(Path(result.manifest_path).read_text())
    node = manifest["nodes"]["model.pg_assets.item_count"]
    assert openlineage_dataset(manifest, node, namespace) == (namespace, "postgres.floe_marts.item_totals")
    assert asset_uri(manifest, node, f"127.0.0.1:{port}") == f"{namespace}/postgres/floe_marts/item_totals"

    # without asset_namespace: the DAG does not parse, and the error says what to pass
    bad = home / "dags_pg_bad"
    bad.mkdir()
    (bad / "pg_assets.py").write_text(DAG_FILE.format(namespace=""))
    errors = _probe(env, bad)["errors"]
    assert len(errors) == 1
    message = next(iter(errors.values()))
    assert "FLOE-DBT-E010" in message and "asset_namespace" in message, message
    with pytest.raises(FloeDbtUsageError, match="asset_namespace"):
        asset_uri(manifest, node)


NODE = {"resource_type": "model", "database": "analytics", "schema": "marts", "name": "orders", "alias": "orders"}


@pytest.mark.parametrize(
    ("adapter", "namespace", "uri", "dataset"),
    [
        # postgres: the provider's default port is added
        ("postgres", "postgresql://db.internal", "postgres://db.internal:5432/analytics/marts/orders",
         ("postgres://db.internal:5432", "analytics.marts.orders")),
        # mysql: database.table, the schema is the MySQL database
        ("mysql", "db.internal:3307", "mysql://db.internal:3307/marts/orders",
         ("mysql://db.internal:3307", "marts.orders")),
        # bigquery: namespace "bigquery", the project in the authority
        ("bigquery", None, "bigquery://analytics/marts/orders", ("bigquery", "analytics.marts.orders")),
        ("duckdb", None, "duckdb://analytics/marts/orders", ("duckdb", "analytics.marts.orders")),
        ("trino", "trino://coordinator:8443", "trino://coordinator:8443/analytics/marts/orders",
         ("trino://coordinator:8443", "analytics.marts.orders")),
        ("snowflake", "snowflake://myorg-acct", "snowflake://myorg-acct/analytics/marts/orders",
         ("snowflake://myorg-acct", "analytics.marts.orders")),
    ],
)  # fmt: skip
def test_names_per_adapter(adapter, namespace, uri, dataset):
    manifest = {"metadata": {"adapter_type": adapter}}
    assert asset_uri(manifest, NODE, namespace) == uri
    assert openlineage_dataset(manifest, NODE, namespace) == dataset


@pytest.mark.parametrize(
    ("adapter", "namespace", "says"),
    [
        ("postgres", None, "asset_namespace"),
        ("redshift", "redshift://cluster.eu-west-1", "port"),
        ("postgres", "postgres://user:secret@db.internal:5432", "user or password"),
        ("postgres", "postgres://db.internal:5432/analytics", "no path"),
        ("postgres", "mysql://db.internal:3306", "not a postgres:// namespace"),
    ],
)
def test_bad_namespaces_are_usage_errors(adapter, namespace, says):
    with pytest.raises(FloeDbtUsageError, match=says) as e:
        asset_uri({"metadata": {"adapter_type": adapter}}, NODE, namespace)
    assert "secret" not in str(e.value)


def test_a_slash_or_question_mark_in_a_name_stays_in_its_part():
    manifest = {"metadata": {"adapter_type": "postgres"}}
    node = {**NODE, "alias": "orders/2024?x#y"}
    uri = asset_uri(manifest, node, "postgres://db.internal:5432")
    assert uri == "postgres://db.internal:5432/analytics/marts/orders%2F2024%3Fx%23y"
    # Airflow's own Asset keeps it as one table (the provider's normalizer
    # checks database/schema/table are exactly three parts).
    from airflow.sdk import Asset

    assert Asset(uri).uri == uri
