"""Airflow: dag.test() of a DAG with FloeDbtOperator, in the worker and
deferred to the trigger, against a real daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Daemon, copy_example
from floe_dbt.models import DBTRunResult

DAG_FILE = '''
import datetime, json, os
from airflow.sdk import DAG
from airflow.providers.standard.operators.python import PythonOperator
from floe_dbt.airflow import FloeDbtOperator

URL, TOKEN, PROJECT, OUT = (os.environ[k] for k in ("T_URL", "T_TOKEN", "T_PROJECT", "T_OUT"))

def collect(ti, **_):
    values = {t: ti.xcom_pull(task_ids=t) for t in ("build_sync", "compile_deferred")}
    with open(OUT, "w") as f:
        json.dump(values, f)

with DAG("floe_dbt_test", schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:
    sync = FloeDbtOperator(task_id="build_sync", command="build", project_dir=PROJECT,
                           select="+stg_customers +stg_orders", url=URL, token=TOKEN)
    # deferrable: no token= (the triggerer finds FLOE_DBT_TOKEN itself)
    deferred = FloeDbtOperator(task_id="compile_deferred", command="compile", project_dir=PROJECT,
                               select="vars_probe", vars="{{ params.greeting_vars }}",
                               params={"greeting_vars": "greeting: templated"},
                               url=URL, deferrable=True)
    broken = FloeDbtOperator(task_id="bad_target", command="compile", project_dir=PROJECT,
                             target="no_such_target", url=URL, token=TOKEN)
    gather = PythonOperator(task_id="gather", python_callable=collect, trigger_rule="all_done")
    [sync, deferred, broken] >> gather

if __name__ == "__main__":
    run = dag.test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    print("TASK STATES " + json.dumps(states))
'''


def test_dag_test_with_floe_dbt_operator_both_modes(airflow_home, daemon: Daemon, root: Path):
    proj = copy_example(root / "airflow_dag")
    home = Path(airflow_home["AIRFLOW_HOME"])
    dag_file = home / "dags" / "floe_dbt_test.py"
    dag_file.write_text(DAG_FILE)
    out = home / "xcom.json"
    (proj / "models" / "vars_probe.sql").write_text(
        "select '{{ var(\"greeting\", \"none\") }}' as greeting\n"
    )
    env = {**airflow_home, "T_URL": daemon.url, "T_TOKEN": daemon.token,
           "FLOE_DBT_TOKEN": daemon.token, "T_PROJECT": str(proj), "T_OUT": str(out)}  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(dag_file)], env=env, capture_output=True, text=True, timeout=900
    )
    log = proc.stdout + proc.stderr
    line = next((x for x in log.splitlines() if x.startswith("TASK STATES ")), None)
    assert line, log[-4000:]
    states = json.loads(line[len("TASK STATES "):])
    assert states == {
        "build_sync": "success", "compile_deferred": "success", "bad_target": "failed", "gather": "success",
    }, states  # fmt: skip
    assert "FLOE-DBT-E003" in log and "no_such_target" in log
    values = json.loads(out.read_text())
    built = DBTRunResult.model_validate(values["build_sync"])
    assert built.success and built.models_run == 2 and built.tests_run >= 2
    compiled = DBTRunResult.model_validate(values["compile_deferred"])
    assert compiled.success and compiled.metadata["command"] == "compile"
    # the templated vars reached dbt: the compiled model says so
    rr = json.loads(Path(compiled.run_results_path).read_text())
    assert "'templated' as greeting" in rr["results"][0]["compiled_code"], rr["results"][0]
    # the deferred task went through the trigger
    assert "Pausing task as DEFERRED" in log and "Trigger completed" in log


def test_on_kill_cancels_the_agent_job(daemon: Daemon, client, built, project: Path):
    from floe_dbt.airflow import FloeDbtOperator
    from floe_dbt.errors import DBTJobCancelledError

    blocker = client.submit("build", project)
    job = client.submit("build", project)
    op = FloeDbtOperator(task_id="killed", command="build", project_dir=str(project),
                         url=daemon.url, token=daemon.token)  # fmt: skip
    op.job_id = job.id
    op.on_kill()
    with pytest.raises(DBTJobCancelledError):
        client.wait(job.id, timeout=600)
    client.wait(blocker.id, timeout=600)


def test_the_trigger_carries_no_token_and_token_with_deferrable_is_refused():
    from floe_dbt.airflow import FloeDbtJobTrigger, FloeDbtOperator

    path, kwargs = FloeDbtJobTrigger("job-1", url="http://127.0.0.1:1", timeout=5).serialize()
    assert path == "floe_dbt.airflow.FloeDbtJobTrigger"
    assert kwargs == {"job_id": "job-1", "url": "http://127.0.0.1:1", "timeout": 5}
    # a trigger stored by an earlier version (with a token) still loads, without it
    old = FloeDbtJobTrigger(**{"job_id": "job-1", "url": None, "timeout": None, "token": "t"})
    assert "token" not in old.serialize()[1]
    with pytest.raises(ValueError, match="FLOE_DBT_TOKEN"):
        FloeDbtOperator(task_id="t", command="run", project_dir="/p",
                        token="t-0123456789abcdef", deferrable=True)  # fmt: skip
