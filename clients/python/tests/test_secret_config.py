"""Secrets stay out of orchestrators' records: Dagster's FloeDbtResource takes
its token as an EnvVar (resolved in a run and outside one), and the Airflow
operator's XCom result leaves out ``metadata.vars``. Real Dagster, real
Airflow operator, real daemon."""

from __future__ import annotations

from pathlib import Path

import dagster
import pytest
from conftest import Daemon, copy_example

from floe_dbt.dagster import FloeDbtResource
from floe_dbt.errors import DBTConfigurationError


@pytest.fixture
def no_implicit_token(monkeypatch, tmp_path: Path):
    """Only the token the test gives: no FLOE_DBT_TOKEN, no local token file."""
    monkeypatch.delenv("FLOE_DBT_TOKEN", raising=False)
    monkeypatch.delenv("FLOE_DBT_TOKEN_FILE", raising=False)
    monkeypatch.setenv("FLOE_STATE_DIR", str(tmp_path / "no-state"))
    return monkeypatch


def test_dagster_resource_token_as_envvar(daemon: Daemon, no_implicit_token):
    no_implicit_token.setenv("T_FLOE_DAGSTER_TOKEN", daemon.token)
    resource = FloeDbtResource(
        url=daemon.url, token=dagster.EnvVar("T_FLOE_DAGSTER_TOKEN"), project_dir="/p"
    )
    # Outside a run the EnvVar's value is sent, not its name.
    with resource.get_client() as c:
        assert c.token == daemon.token
        assert isinstance(c.jobs(), list)

    seen: list[int] = []

    @dagster.asset
    def probe(floe_dbt: FloeDbtResource) -> None:
        with floe_dbt.get_client() as c:
            seen.append(len(c.jobs()))

    result = dagster.materialize([probe], resources={"floe_dbt": resource})
    assert result.success and len(seen) == 1
    # What Dagster keeps of the resource's config names the variable only.
    assert daemon.token not in repr(resource._get_non_default_public_field_values())

    # A missing variable is an error, not the variable's name as a token.
    no_implicit_token.delenv("T_FLOE_DAGSTER_TOKEN")
    with pytest.raises(DBTConfigurationError) as e:
        resource.get_client()
    assert "T_FLOE_DAGSTER_TOKEN is not set" in e.value.message


def test_airflow_xcom_result_leaves_out_vars(daemon: Daemon, root: Path, no_implicit_token):
    from floe_dbt.airflow import FloeDbtOperator

    proj = copy_example(root / "xcom_vars")
    (proj / "models" / "vars_probe.sql").write_text(
        "select '{{ var(\"greeting\", \"none\") }}' as greeting\n"
    )
    op = FloeDbtOperator(
        task_id="xcom_vars",
        command="compile",
        project_dir=str(proj),
        select="vars_probe",
        vars={"greeting": "hello-xcom"},
        url=daemon.url,
        token=daemon.token,
    )
    value = op.execute({})
    assert value["success"] is True and value["metadata"]["command"] == "compile"
    assert "vars" not in value["metadata"]
    # the vars reached dbt all the same
    compiled = (proj / "target" / "compiled" / "jaffle_duck" / "models" / "vars_probe.sql")
    assert "'hello-xcom' as greeting" in compiled.read_text()

    # A result that carries vars (from the trigger, or an agent that adds them)
    # reaches XCom without them; everything else is kept.
    event = {
        "status": "succeeded",
        "job_id": "j-1",
        "result": {**value, "metadata": {**value["metadata"], "vars": {"k": "secret"}}},
    }
    resumed = op.execute_complete({}, event)
    assert "vars" not in resumed["metadata"]
    assert resumed["metadata"]["command"] == "compile"
    assert event["result"]["metadata"]["vars"] == {"k": "secret"}  # not mutated
