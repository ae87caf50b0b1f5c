"""Dagster: floe_dbt_assets materialized in-process through a real daemon."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dagster

from conftest import Daemon, copy_example  # noqa: E402
from floe_dbt.dagster import (  # noqa: E402
    FloeDbtResource,
    floe_dbt_assets,
    floe_dbt_source_specs,
)

MODELS = {"stg_customers", "stg_orders", "stg_payments", "customers", "orders"}


def _materialized(result) -> Counter:
    return Counter(
        ev.event_specific_data.materialization.asset_key.path[-1]
        for ev in result.get_asset_materialization_events()
    )


def _setup(client, root: Path, name: str) -> tuple[Path, Path]:
    proj = copy_example(root / name)
    compiled = client.run("compile", proj, timeout=600)
    return proj, Path(compiled.manifest_path)


def test_materialize_every_model_once_with_checks(daemon: Daemon, client, built, project: Path):
    proj = project
    manifest = Path(client.run("compile", proj, timeout=600).manifest_path)

    @floe_dbt_assets(manifest=manifest)
    def jaffle(context, floe_dbt: FloeDbtResource):
        yield from floe_dbt.build(context)

    keys = {k.path[-1] for k in jaffle.keys}
    assert MODELS <= keys and "raw_payments" in keys
    sources = floe_dbt_source_specs(manifest)
    assert {s.key.path[-1] for s in sources} == {"raw_customers", "raw_orders"}
    stg = jaffle.specs_by_key[dagster.AssetKey(["stg_customers"])]
    assert {d.asset_key for d in stg.deps} == {dagster.AssetKey(["jaffle", "raw_customers"])}
    assert jaffle.check_specs_by_output_name

    resource = FloeDbtResource(url=daemon.url, token=daemon.token, project_dir=str(proj))
    result = dagster.materialize([jaffle, *sources], resources={"floe_dbt": resource})
    assert result.success
    counts = _materialized(result)
    assert all(counts[m] == 1 for m in MODELS | {"raw_payments"}), counts
    mats = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    meta = mats[0].metadata
    assert "floe_dbt/job_id" in meta and "dbt/execution_time_seconds" in meta
    checks = result.get_asset_check_evaluations()
    assert len(checks) == len(list(jaffle.check_specs)) >= 10
    assert all(c.passed for c in checks)


def test_a_failing_model_fails_its_asset_and_skips_downstream(daemon: Daemon, client, root: Path):
    proj, manifest = _setup(client, root, "dag_fail")
    (proj / "models" / "staging" / "stg_orders.sql").write_text("select * from no_such_table_here\n")

    @floe_dbt_assets(manifest=manifest, select="stg_customers stg_orders+")
    def jaffle_fail(context, floe_dbt: FloeDbtResource):
        yield from floe_dbt.build(context)

    assert {k.path[-1] for k in jaffle_fail.keys} == {"stg_customers", "stg_orders", "orders", "customers"}
    resource = FloeDbtResource(url=daemon.url, token=daemon.token, project_dir=str(proj))
    result = dagster.materialize(
        [jaffle_fail], resources={"floe_dbt": resource}, raise_on_error=False
    )
    assert not result.success
    counts = _materialized(result)
    assert counts["stg_customers"] == 1
    for skipped in ("stg_orders", "orders", "customers"):
        assert counts[skipped] == 0, counts
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure and "stg_orders" in str(failure[0].event_specific_data.error)


def test_skip_unchanged_reports_reused_assets_as_observations(
    daemon: Daemon, client, root: Path
):
    proj, manifest = _setup(client, root, "dag_skip")
    assert client.run("build", proj, timeout=600).success

    @floe_dbt_assets(manifest=manifest)
    def jaffle_skip(context, floe_dbt: FloeDbtResource):
        yield from floe_dbt.build(context)

    resource = FloeDbtResource(
        url=daemon.url, token=daemon.token, project_dir=str(proj), skip_unchanged=True
    )
    result = dagster.materialize([jaffle_skip], resources={"floe_dbt": resource})
    assert result.success
    observed = {
        ev.event_specific_data.asset_observation.asset_key.path[-1]
        for ev in result.get_asset_observation_events()
    }
    counts = _materialized(result)
    # The seed and the model over it are unchanged: observed, not materialized.
    assert {"raw_payments", "stg_payments"} <= observed
    assert counts["raw_payments"] == 0 and counts["stg_payments"] == 0
    # The models over the CSV files (no data version) are built again.
    assert counts["stg_orders"] == 1 and "stg_orders" not in observed


def test_asset_selection_agrees_with_dbt_ls(root: Path):
    """The asset selection reads dbt's node selection grammar as dbt does:
    each selector is compared with real ``dbt ls`` on the same project."""
    import json
    import subprocess

    import pytest

    from conftest import REPO
    from floe_dbt.dagster import FloeDbtManifest

    proj = copy_example(root / "selection")
    customers = proj / "models" / "marts" / "customers.sql"
    customers.write_text("{{ config(tags=['nightly']) }}\n" + customers.read_text())
    dbt = str(REPO / ".venv" / "dbt-core" / "bin" / "dbt")
    flags = ["--project-dir", str(proj), "--profiles-dir", str(proj)]
    subprocess.run([dbt, "--quiet", "parse", *flags], check=True, capture_output=True)
    m = FloeDbtManifest(proj / "target" / "manifest.json")
    assets = set(m.asset_ids())

    def dbt_ls(select: str) -> list[str]:
        out = subprocess.run(
            [dbt, "--quiet", "ls", "-s", select, "--output", "json",
             "--output-keys", "unique_id", *flags],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        ids = {json.loads(x)["unique_id"] for x in out.stdout.splitlines() if x.startswith("{")}
        return sorted(ids & assets)

    for select in [
        "stg_*",
        "+orders",
        "1+customers",
        "stg_orders+1",
        "@stg_payments",
        "path:models/staging,config.materialized:view",
        "tag:nightly",
        "tag:nightly+ stg_customers",
        "resource_type:seed",
        "package:jaffle_duck,path:models/marts",
        "fqn:jaffle_duck.marts",
        "fqn:staging",
        "marts",
        "marts.customers",
        "jaffle_duck",
        "models/staging",
        "customers.sql",
        "file:stg_orders",
        "*orders",
    ]:
        assert m.select(select, None) == dbt_ls(select), select
    with pytest.raises(ValueError, match="'state:'"):
        m.select("state:modified+", None)
