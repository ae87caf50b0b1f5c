#!/usr/bin/env python3
"""Benchmark: Dagster materializing a synthetic 50-model dbt project through
floe-dbt (``floe_dbt_assets`` against a warm agent) vs dagster-dbt
(``@dbt_assets`` with ``DbtCliResource``, which runs dbt as a subprocess).

Run with a Python that has dagster, dagster-dbt, dbt-duckdb and the floe-dbt
package (``scripts/bench_python.sh`` makes one: .venv/bench)::

    .venv/bench/bin/python scripts/bench_python.py [--models 50] [--rounds 3]

Prints one JSON object (also written to bench/results/python.json): the wall
time of each ``materialize()`` round for both, their medians, the ratio, and
the agent's per-model dispatch overhead (materialize wall time minus dbt's own
elapsed time in run_results.json, divided by the number of nodes).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "clients" / "python" / "tests"))
from conftest import DENO, Daemon  # noqa: E402
from dagster import materialize  # noqa: E402
from dagster_dbt import DbtCliResource, dbt_assets  # noqa: E402
from floe_dbt import FloeDbtClient  # noqa: E402
from floe_dbt.dagster import FloeDbtResource, floe_dbt_assets, floe_dbt_source_specs  # noqa: E402

from _bench_common import generate_project, write_results  # noqa: E402


def materialize_floe(daemon: Daemon, project: Path, manifest: Path) -> tuple[float, int]:
    @floe_dbt_assets(manifest=manifest, name=f"floe_{secrets.token_hex(3)}")
    def floe(context, floe_dbt: FloeDbtResource):
        yield from floe_dbt.build(context)

    res = FloeDbtResource(url=daemon.url, token=daemon.token, project_dir=str(project))
    t0 = time.perf_counter()
    result = materialize([floe, *floe_dbt_source_specs(manifest)], resources={"floe_dbt": res})
    wall = time.perf_counter() - t0
    assert result.success
    return wall, len(result.get_asset_materialization_events())


def materialize_dagster_dbt(project: Path, manifest: Path, dbt: str) -> tuple[float, int]:
    @dbt_assets(manifest=manifest, name=f"dbt_{secrets.token_hex(3)}")
    def plain(context, dbt_cli: DbtCliResource):
        yield from dbt_cli.cli(["build"], context=context).stream()

    res = DbtCliResource(project_dir=str(project), profiles_dir=str(project), dbt_executable=dbt)
    t0 = time.perf_counter()
    result = materialize([plain], resources={"dbt_cli": res})
    wall = time.perf_counter() - t0
    assert result.success
    return wall, len(result.get_asset_materialization_events())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    dbt = str(Path(sys.executable).parent / "dbt")
    os.environ.setdefault("DAGSTER_HOME", tempfile.mkdtemp(prefix="floe-bench-dagster-"))
    with tempfile.TemporaryDirectory(prefix="floe-bench-py-") as tmp:
        root = Path(tmp)
        base = root / "synthetic"
        generate_project(DENO, base, args.models)
        floe_proj = root / "floe"
        plain_proj = root / "plain"
        shutil.copytree(base, floe_proj)
        shutil.copytree(base, plain_proj)
        daemon = Daemon(root, "t-" + secrets.token_hex(16)).start()
        try:
            with FloeDbtClient(daemon.url, token=daemon.token) as client:
                manifest = Path(client.run("compile", floe_proj, timeout=900).manifest_path)
                client.run("build", floe_proj, timeout=900)  # warm the agent's worker
            subprocess.run([dbt, "parse", "--project-dir", str(plain_proj),
                            "--profiles-dir", str(plain_proj)], check=True,
                           capture_output=True)  # fmt: skip
            plain_manifest = plain_proj / "target" / "manifest.json"
            floe_walls, plain_walls, overheads = [], [], []
            for _ in range(args.rounds):
                wall, n = materialize_floe(daemon, floe_proj, manifest)
                rr = json.loads((floe_proj / "target" / "run_results.json").read_text())
                nodes = len(rr["results"])
                overheads.append((wall - rr["elapsed_time"]) / nodes)
                floe_walls.append(wall)
                wall2, n2 = materialize_dagster_dbt(plain_proj, plain_manifest, dbt)
                plain_walls.append(wall2)
                assert n == n2 == args.models, (n, n2)
        finally:
            daemon.stop()
    out = {
        "models": args.models,
        "rounds": args.rounds,
        "floe_dbt_assets_seconds": floe_walls,
        "dagster_dbt_seconds": plain_walls,
        "floe_median": statistics.median(floe_walls),
        "dagster_dbt_median": statistics.median(plain_walls),
        "ratio_dagster_dbt_over_floe": statistics.median(plain_walls) / statistics.median(floe_walls),
        "agent_dispatch_overhead_ms_per_node": 1000 * statistics.median(overheads),
    }
    write_results("python.json", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
