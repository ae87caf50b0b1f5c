"""Dagster: the agent's node facts on materializations (row counts equal to
DuckDB's own count, column schemas, column lineage through renames and
aggregations, relation identifiers) and FloeDbtTranslator's keys, groups,
owners, tags and code versions; real daemon, real dbt-core, real Dagster."""

import json
import subprocess
from pathlib import Path

import dagster
import pytest

from conftest import REPO, Daemon, copy_example
from floe_dbt.dagster import (
    FloeDbtResource,
    FloeDbtTranslator,
    floe_dbt_assets,
    floe_dbt_source_specs,
)

REVENUE_SQL = """{{ config(tags=['finance', 'nightly', 'not a tag key']) }}
select
    o.customer_id as buyer_id,
    count(*) as order_count,
    sum(o.amount) as revenue,
    max(o.order_date) as last_order_on,
    upper(c.first_name) || ' ' || c.last_name as buyer_name
from {{ ref('orders') }} as o
join {{ ref('customers') }} as c on c.customer_id = o.customer_id
group by 1, 5
"""

REVENUE_YML = """version: 2
groups:
  - name: finance
    owner:
      email: finance-team@example.com
models:
  - name: customer_revenue
    config:
      group: finance
    columns:
      - name: revenue
        description: Sum of the customer's order amounts.
"""


def _duckdb(project: Path, sql: str) -> list:
    """Rows of a query on the project's DuckDB file (dbt-core venv's duckdb)."""
    code = (
        "import duckdb, json, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
        "print(json.dumps(c.execute(sys.argv[2]).fetchall(), default=str))"
    )
    py = str(REPO / ".venv" / "dbt-core" / "bin" / "python")
    db = str(project / ".floe" / "jaffle_duck.duckdb")
    out = subprocess.run([py, "-c", code, db, sql], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


class Prefixed(FloeDbtTranslator):
    """Every key under ``warehouse``, models in one group."""

    def get_asset_key(self, dbt_resource_props):
        return super().get_asset_key(dbt_resource_props).with_prefix("warehouse")

    def get_group_name(self, dbt_resource_props):
        if dbt_resource_props["resource_type"] == "source":
            return super().get_group_name(dbt_resource_props)
        return "analytics"


def _key(*path: str) -> dagster.AssetKey:
    return dagster.AssetKey(["warehouse", *path])


@pytest.fixture(scope="module")
def facts_project(client, root: Path) -> tuple[Path, Path]:
    """The example plus a model that renames and aggregates, in a dbt group
    with an owner; customers with a meta owner; built once by the daemon, so
    each test can run alone."""
    proj = copy_example(root / "dag_facts")
    (proj / "models" / "marts" / "customer_revenue.sql").write_text(REVENUE_SQL)
    (proj / "models" / "marts" / "customer_revenue.yml").write_text(REVENUE_YML)
    customers = proj / "models" / "marts" / "customers.sql"
    customers.write_text("{{ config(meta={'owner': 'data-eng'}) }}\n" + customers.read_text())
    built = client.run("build", proj, timeout=600)
    assert built.success
    return proj, Path(built.manifest_path)


def test_translator_changes_keys_groups_and_reads_owners_tags_versions(facts_project):
    proj, manifest = facts_project

    @floe_dbt_assets(manifest=manifest, translator=Prefixed())
    def jaffle(context, floe_dbt: FloeDbtResource):
        yield from floe_dbt.build(context)

    keys = set(jaffle.keys)
    assert _key("customers") in keys and _key("customer_revenue") in keys
    assert all(k.path[0] == "warehouse" for k in keys)
    specs = jaffle.specs_by_key
    assert {d.asset_key for d in specs[_key("customer_revenue")].deps} == {
        _key("orders"),
        _key("customers"),
    }
    sources = floe_dbt_source_specs(manifest, translator=Prefixed())
    assert {s.key for s in sources} == {_key("jaffle", "raw_customers"), _key("jaffle", "raw_orders")}
    assert {d.asset_key for d in specs[_key("stg_customers")].deps} == {
        _key("jaffle", "raw_customers")
    }
    assert {s.group_name for s in specs.values()} == {"analytics"}
    assert {s.group_name for s in sources} == {"jaffle"}
    assert all(c.asset_key.path[0] == "warehouse" for c in jaffle.check_specs)

    raw = json.loads(manifest.read_text())["nodes"]
    revenue = specs[_key("customer_revenue")]
    assert revenue.owners == ["finance-team@example.com"]  # the dbt group's owner
    assert specs[_key("customers")].owners == ["team:data-eng"]  # meta.owner
    assert not specs[_key("orders")].owners
    # dbt tags become tags ("not a tag key" left out); kinds add dagster/kind/dbt
    assert revenue.tags == {"finance": "", "nightly": "", "dagster/kind/dbt": ""}
    assert revenue.code_version == raw["model.jaffle_duck.customer_revenue"]["checksum"]["checksum"]
    assert revenue.metadata["dagster/relation_identifier"] == "jaffle_duck.main.customer_revenue"

    # the default translator keeps the plain keys and folder groups
    @floe_dbt_assets(manifest=manifest)
    def plain(context, floe_dbt: FloeDbtResource):
        yield from floe_dbt.build(context)

    assert dagster.AssetKey(["customers"]) in plain.keys
    assert plain.specs_by_key[dagster.AssetKey(["customers"])].group_name == "marts"


def test_materializations_carry_row_counts_schemas_and_column_lineage(
    daemon: Daemon, facts_project
):
    proj, manifest = facts_project

    @floe_dbt_assets(manifest=manifest, translator=Prefixed())
    def jaffle_facts(context, floe_dbt: FloeDbtResource):
        yield from floe_dbt.build(context)

    resource = FloeDbtResource(url=daemon.url, token=daemon.token, project_dir=str(proj))
    sources = floe_dbt_source_specs(manifest, translator=Prefixed())
    result = dagster.materialize([jaffle_facts, *sources], resources={"floe_dbt": resource})
    assert result.success
    mats = {
        e.event_specific_data.materialization.asset_key: e.event_specific_data.materialization
        for e in result.get_asset_materialization_events()
    }
    assert len(mats) == 7
    assert all(c.passed for c in result.get_asset_check_evaluations())

    for table in ("customers", "orders", "raw_payments", "customer_revenue"):
        meta = mats[_key(table)].metadata
        [[count]] = _duckdb(proj, f"select count(*) from main.{table}")
        assert count > 0
        assert meta["dagster/row_count"].value == count, table
        assert meta["dagster/relation_identifier"].value == f"jaffle_duck.main.{table}"
    # views are not counted
    assert "dagster/row_count" not in mats[_key("stg_orders")].metadata

    schema = mats[_key("customer_revenue")].metadata["dagster/column_schema"].value
    want = _duckdb(
        proj,
        "select column_name, data_type from information_schema.columns "
        "where table_name = 'customer_revenue' order by ordinal_position",
    )
    assert [[c.name, c.type] for c in schema.columns] == want
    described = {c.name: c.description for c in schema.columns}
    assert described["revenue"] == "Sum of the customer's order amounts."

    lineage = mats[_key("customer_revenue")].metadata["dagster/column_lineage"].value
    deps = lineage.deps_by_column
    dep = dagster.TableColumnDep
    assert list(deps["revenue"]) == [dep(asset_key=_key("orders"), column_name="amount")]
    assert list(deps["buyer_id"]) == [dep(asset_key=_key("orders"), column_name="customer_id")]
    assert sorted(deps["buyer_name"], key=lambda d: d.column_name) == [
        dep(asset_key=_key("customers"), column_name="first_name"),
        dep(asset_key=_key("customers"), column_name="last_name"),
    ]
    customers = mats[_key("customers")].metadata["dagster/column_lineage"].value.deps_by_column
    assert list(customers["lifetime_value"]) == [
        dep(asset_key=_key("stg_payments"), column_name="amount")
    ]
    # stg_orders reads an external CSV source: sqlglot cannot resolve it, no lineage
    assert "dagster/column_lineage" not in mats[_key("stg_orders")].metadata
    assert "dagster/column_schema" in mats[_key("stg_orders")].metadata


def test_node_facts_off_streams_plain_materializations(daemon: Daemon, facts_project):
    proj, manifest = facts_project

    @floe_dbt_assets(manifest=manifest, select="customers")
    def jaffle_plain(context, floe_dbt: FloeDbtResource):
        yield from floe_dbt.build(context, node_facts=False)

    resource = FloeDbtResource(url=daemon.url, token=daemon.token, project_dir=str(proj))
    result = dagster.materialize([jaffle_plain], resources={"floe_dbt": resource})
    assert result.success
    [mat] = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    assert mat.asset_key == dagster.AssetKey(["customers"])
    assert "dbt/unique_id" in mat.metadata and "dagster/row_count" not in mat.metadata


FRESHNESS_YML = """version: 2
sources:
  - name: feeds
    schema: main
    loaded_at_field: loaded_at
    tables:
      - name: stale_events
        identifier: raw_events
        freshness:
          warn_after: {count: 1, period: day}
          error_after: {count: 2, period: day}
      - name: late_events
        identifier: raw_events
        freshness:
          warn_after: {count: 1, period: day}
          error_after: {count: 100000, period: day}
      - name: live_events
        identifier: events_now
        freshness:
          warn_after: {count: 1, period: day}
      - name: unchecked
        identifier: raw_events
"""


def test_source_freshness_checks_fail_on_a_stale_source(daemon: Daemon, client, root: Path):
    """Sources over a seed loaded in 2020 (stale: past error_after; late: past
    warn_after only) and over a view of now (fresh)."""
    from floe_dbt.dagster import floe_dbt_source_freshness_checks

    proj = copy_example(root / "dag_fresh")
    (proj / "seeds" / "raw_events.csv").write_text(
        "id,loaded_at\n1,2020-01-01 00:00:00\n2,2020-01-02 00:00:00\n"
    )
    (proj / "models" / "staging" / "events_now.sql").write_text(
        "{{ config(materialized='view') }}\nselect 1 as id, current_timestamp as loaded_at\n"
    )
    (proj / "models" / "staging" / "_freshness.yml").write_text(FRESHNESS_YML)
    built = client.run("build", proj, select=["raw_events", "events_now"], timeout=600)
    assert built.success
    manifest = Path(client.run("compile", proj, timeout=600).manifest_path)

    checks = floe_dbt_source_freshness_checks(manifest=manifest, translator=Prefixed())
    keys = {k.asset_key for k in checks.check_keys}
    assert keys == {_key("feeds", n) for n in ("stale_events", "late_events", "live_events")}
    sources = floe_dbt_source_specs(manifest, translator=Prefixed())
    resource = FloeDbtResource(url=daemon.url, token=daemon.token, project_dir=str(proj))
    result = dagster.materialize(
        [*sources, checks],
        selection=dagster.AssetSelection.all_asset_checks(),
        resources={"floe_dbt": resource},
        raise_on_error=False,
    )
    evals = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}
    assert set(evals) == {"stale_events", "late_events", "live_events"}
    assert evals["live_events"].passed
    assert not evals["late_events"].passed
    assert evals["late_events"].severity == dagster.AssetCheckSeverity.WARN
    assert not evals["stale_events"].passed
    assert evals["stale_events"].severity == dagster.AssetCheckSeverity.ERROR
    meta = evals["stale_events"].metadata
    assert meta["dbt/status"].value == "error"
    assert meta["dbt/error_after"].value == "2 day"
    assert meta["dbt/max_loaded_at"].value.startswith("2020-01-02")


def test_a_partition_window_reaches_dbt_as_vars(daemon: Daemon, client, root: Path):
    proj = copy_example(root / "dag_part")
    (proj / "models" / "marts" / "daily_window.sql").write_text(
        "{{ config(materialized='table') }}\n"
        "select '{{ var('min_date', 'unset') }}' as min_date, '{{ var('max_date', 'unset') }}' as max_date\n"
    )
    manifest = Path(client.run("compile", proj, timeout=600).manifest_path)
    daily = dagster.DailyPartitionsDefinition(start_date="2024-01-01")

    @floe_dbt_assets(manifest=manifest, select="daily_window", partitions_def=daily)
    def windowed(context, floe_dbt: FloeDbtResource):
        window = context.partition_time_window
        dbt_vars = {"min_date": window.start.isoformat(), "max_date": window.end.isoformat()}
        yield from floe_dbt.build(context, vars=dbt_vars)

    assert windowed.partitions_def == daily
    resource = FloeDbtResource(url=daemon.url, token=daemon.token, project_dir=str(proj))
    result = dagster.materialize(
        [windowed], partition_key="2024-03-05", resources={"floe_dbt": resource}
    )
    assert result.success
    [mat] = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    assert mat.partition == "2024-03-05"
    assert _duckdb(proj, "select min_date, max_date from main.daily_window") == [
        ["2024-03-05T00:00:00+00:00", "2024-03-06T00:00:00+00:00"]
    ]


def test_build_passes_job_options_to_the_agent(daemon: Daemon, client, facts_project):
    proj, manifest = facts_project

    @floe_dbt_assets(manifest=manifest)
    def jaffle_refresh(context, floe_dbt: FloeDbtResource):
        yield from floe_dbt.build(context, full_refresh=True, threads=1)

    resource = FloeDbtResource(url=daemon.url, token=daemon.token, project_dir=str(proj))
    result = dagster.materialize([jaffle_refresh], resources={"floe_dbt": resource})
    assert result.success
    mats = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    [mat] = [m for m in mats if m.asset_key == dagster.AssetKey(["orders"])]
    job = client.job(mat.metadata["floe_dbt/job_id"].value)
    assert job.request.full_refresh is True and job.request.threads == 1
    assert job.result is not None and job.result.metadata["full_refresh"] is True
