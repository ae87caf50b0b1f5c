"""Every Python example in docs/python.md runs, against a real daemon."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, Daemon, copy_example

DOC = (REPO / "docs" / "python.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, re.S)


def test_the_doc_has_examples_for_each_part():
    text = "\n".join(BLOCKS)
    for part in ("FloeDbtClient", "AsyncFloeDbtClient", 'group="floe.dbt"', "floe_dbt_assets", "FloeDbtOperator"):
        assert part in text, part


@pytest.fixture(scope="module")
def doc_project(client, root: Path) -> Path:
    project = copy_example(root / "docs")
    client.run("seed", project, timeout=600)
    return project


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=[f"example{i + 1}" for i in range(len(BLOCKS))])
def test_doc_example_runs(index: int, daemon: Daemon, doc_project: Path, airflow_home, tmp_path: Path):
    code = BLOCKS[index]
    project = doc_project
    env = {
        **airflow_home,
        "FLOE_DBT_URL": daemon.url,
        "FLOE_DBT_TOKEN": daemon.token,
        "FLOE_PROJECT_DIR": str(project),
        "DAGSTER_HOME": str(tmp_path),
    }
    if "from airflow" in code:
        script = Path(airflow_home["AIRFLOW_HOME"]) / "dags" / f"doc_example_{index}.py"
    else:
        script = tmp_path / f"example_{index}.py"
    script.write_text(code)
    proc = subprocess.run(
        [sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
