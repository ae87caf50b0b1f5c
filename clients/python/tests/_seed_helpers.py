"""The two helpers REQ-094's contract test (test_dbt_runtime_plugin.py, copied
from the seeds) calls without defining: a dbt project and its profiles
directory, here a copy of examples/jaffle_duck (which holds its profiles.yml,
target ``dev``) with its seeds loaded, so that ``dbt run`` can succeed."""

import subprocess
from pathlib import Path

from conftest import DENO, MAIN, copy_example


def setup_test_dbt_project(tmp_path: Path) -> Path:
    """A fresh copy of the example project under ``tmp_path``, seeded through
    the agent's CLI (``floe-dbt seed``)."""
    dest = tmp_path / "jaffle"
    if not dest.exists():
        copy_example(dest)
        cmd = [DENO, "run", "--allow-all", "--quiet", str(MAIN), "seed"]
        cmd += ["--project-dir", str(dest), "--runtime", "local", "--json", "--quiet"]
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    return dest


def setup_test_profiles(tmp_path: Path) -> Path:
    """The directory of the project's profiles.yml (the project itself)."""
    return setup_test_dbt_project(tmp_path)
