"""Airflow: FloeDbtTaskGroup, one task per dbt node run by one agent job,
with dag.test() (deferred node tasks run their triggers inline) against a
real daemon and real dbt-core: a node whose test fails fails while its
siblings succeed, its downstream nodes are upstream_failed, and its retry
re-runs it alone through the agent."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import Daemon, copy_example

DAG_FILE = '''
import datetime, json, os
from airflow.sdk import DAG
from floe_dbt.airflow import FloeDbtTaskGroup

with DAG("floe_dbt_group", schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:
    FloeDbtTaskGroup(group_id="jaffle", manifest=os.environ["T_MANIFEST"],
                     project_dir=os.environ["T_PROJECT"], url=os.environ["T_URL"],
                     node_kwargs={"retries": 1, "retry_delay": datetime.timedelta(0)})

if __name__ == "__main__":
    run = dag.test()
    tis = run.get_task_instances()
    print("TASK STATES " + json.dumps({ti.task_id: str(ti.state) for ti in tis}))
    print("TASK TRIES " + json.dumps({ti.task_id: ti.try_number for ti in tis}))
'''


def _line(log: str, prefix: str) -> dict:
    line = next((x for x in log.splitlines() if x.startswith(prefix)), None)
    assert line, log[-4000:]
    return json.loads(line[len(prefix):])


def test_task_group_one_job_a_failed_test_fails_its_node_and_a_retry_runs_it_alone(
    airflow_home, daemon: Daemon, client, root: Path
):
    proj = copy_example(root / "airflow_group")
    # a singular test on stg_payments that always fails (severity error)
    (proj / "tests" / "assert_payments_fail.sql").write_text(
        "select * from {{ ref('stg_payments') }}\n"
    )
    manifest = client.run("compile", proj, timeout=600).manifest_path
    before = {j.id for j in client.jobs()}

    from floe_dbt.airflow import FloeDbtTaskGroup

    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2
        from airflow import DAG

    with DAG("render_only", schedule=None) as dag:
        group = FloeDbtTaskGroup(group_id="jaffle", manifest=manifest, project_dir=str(proj))
    ids = set(dag.task_dict)
    assert ids == {
        "jaffle.submit", "jaffle.seed_raw_payments", "jaffle.model_stg_customers",
        "jaffle.model_stg_orders", "jaffle.model_stg_payments", "jaffle.model_orders",
        "jaffle.model_customers",
    }  # fmt: skip
    customers = dag.task_dict["jaffle.model_customers"]
    assert customers.upstream_task_ids >= {"jaffle.model_stg_orders", "jaffle.model_stg_payments"}
    assert [a.uri for a in customers.outlets] == ["duckdb://jaffle_duck/main/customers"]
    payments = group.node_tasks["model.jaffle_duck.stg_payments"]
    assert "test.jaffle_duck.assert_payments_fail" in payments.tests

    home = Path(airflow_home["AIRFLOW_HOME"])
    dag_file = home / "dags" / "floe_dbt_group.py"
    dag_file.write_text(DAG_FILE)
    env = {**airflow_home, "T_URL": daemon.url, "FLOE_DBT_TOKEN": daemon.token,
           "T_PROJECT": str(proj), "T_MANIFEST": str(manifest)}  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(dag_file)], env=env, capture_output=True, text=True, timeout=900
    )
    log = proc.stdout + proc.stderr
    states = _line(log, "TASK STATES ")
    assert states == {
        "jaffle.submit": "success",
        "jaffle.seed_raw_payments": "success",
        "jaffle.model_stg_customers": "success",
        "jaffle.model_stg_orders": "success",
        "jaffle.model_stg_payments": "failed",
        "jaffle.model_orders": "upstream_failed",
        "jaffle.model_customers": "upstream_failed",
    }, (states, log[-4000:])
    tries = _line(log, "TASK TRIES ")
    assert tries["jaffle.model_stg_payments"] == 2
    assert tries["jaffle.model_stg_customers"] == 1
    assert "assert_payments_fail" in log and "Pausing task as DEFERRED" in log

    # the agent ran one build for the whole group, then the retry: stg_payments alone
    new = [client.job(j.id) for j in client.jobs() if j.id not in before]
    builds = sorted((j for j in new if j.request.command == "build"), key=lambda j: j.created_at)
    assert len(builds) == 2, [(j.request.command, j.request.select) for j in new]
    assert sorted(builds[0].request.select) == sorted(
        ["raw_payments", "stg_customers", "stg_orders", "stg_payments", "orders", "customers"]
    )
    assert builds[1].request.select == ["stg_payments"]
    retried = builds[1].result
    assert retried is not None and retried.models_run == 1 and retried.failures == 1
