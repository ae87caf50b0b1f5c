"""`pip install ./clients/python` works on a fresh venv, with only pydantic
and httpx, and registers the floe.dbt entry points."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def test_pip_install_into_a_fresh_venv(tmp_path: Path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # build from a copy: the checkout (and .venv/) may be shared, keep it clean
    src = tmp_path / "src"
    subprocess.run(["cp", "-r", str(PACKAGE), str(src)], check=True)
    subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(src)],
        check=True, capture_output=True,
    )  # fmt: skip
    probe = (
        "import importlib.metadata as m, floe_dbt;"
        "eps = sorted(e.name for e in m.entry_points(group='floe.dbt'));"
        "reqs = sorted(r.split()[0].split('>')[0] for r in m.requires('floe-dbt') if 'extra' not in r);"
        "print(floe_dbt.__version__, eps, reqs)"
    )
    out = subprocess.run([str(py), "-c", probe], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "0.1.0 ['cloud', 'fusion', 'local'] ['httpx', 'pydantic']"
    # the extras stay optional: no dagster or airflow was installed
    missing = subprocess.run([str(py), "-c", "import dagster"], capture_output=True)
    assert missing.returncode != 0
