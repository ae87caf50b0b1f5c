"""Shared by the Python benchmarks (bench_python.py, bench_orch.py): the
synthetic project (scripts/synthetic.ts) and where a benchmark's figures go
(bench/results/<name>, echoed on stdout). Standard library only: each
benchmark runs in its own venv."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def generate_project(deno: str, dest: Path, models: int) -> None:
    """A synthetic project of ``models`` models at ``dest`` (scripts/synthetic.ts)."""
    code = (
        f'import {{ generateProject }} from "{REPO / "scripts" / "synthetic.ts"}";'
        f"await generateProject({json.dumps(str(dest))}, {models});"
    )
    subprocess.run([deno, "eval", code], check=True)


def write_results(name: str, out: dict[str, Any]) -> None:
    """Write ``out`` to bench/results/<name> and print it."""
    dest = REPO / "bench" / "results"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / name).write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
