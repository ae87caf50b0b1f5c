#!/usr/bin/env python3
"""Benchmark: floe-dbt's orchestrator integrations against the anchors'
(dagster-dbt, astronomer-cosmos) on the same synthetic dbt projects, as
ratios (issue 22, item 5):

1. Dagster definitions load at 1000 and 3000 models: ``floe_dbt_assets`` vs
   dagster-dbt's ``@dbt_assets`` on the same manifest. Each round is a fresh
   Python process that imports Dagster and the integration, builds the
   ``Definitions``, resolves them as a code location does
   (``Definitions.validate_loadable``: the repository, its asset graph and
   asset jobs) and takes the repository snapshot the code server sends to the
   webserver (``RepositorySnap.from_def``); wall time from before the imports
   to the end, and peak RSS (``ru_maxrss``). Both must give the same number of
   assets and asset checks.
2. Airflow DAG parse at 1000 models: a DAG holding a ``FloeDbtTaskGroup`` vs
   one holding cosmos' ``DbtTaskGroup`` (``LoadMode.DBT_MANIFEST``,
   ``TestBehavior.BUILD``: one task per model, as floe-dbt), each parsed in a
   fresh process by the DAG processor's own parse function (its DagBag, then
   the DAG's serialization), after the untimed pre-import of the Airflow
   modules the file names (as the processor does); the DAG file's other
   imports (floe_dbt, cosmos) count. Both DAGs must hold the expected tasks.
3. An Airflow build of 200 models with ``dag.test()``: the task group (one
   agent job through a real floe-dbt daemon, local runtime, warm worker) vs
   cosmos' local execution mode (``ExecutionMode.LOCAL`` with
   ``InvocationMode.SUBPROCESS``: one ``dbt build --select <model>`` process
   per model, its tests included, as the agent's build runs them), each on its
   own copy of the project with a fresh DuckDB file (the agent is warmed first
   by compiling one model: a daemon's worker is up and has parsed the
   project); ``dag.test()`` runs the tasks one after another on both sides.
   Afterwards every task must have succeeded, the 200 relations must exist (a
   query of the DuckDB file), and the task group must have been one agent job.

Run it with ``scripts/bench_orch.sh`` (makes .venv/bench with Dagster and
dagster-dbt, .venv/bench-airflow with Airflow and cosmos; both with
dbt-core + dbt-duckdb), or directly::

    .venv/bench-airflow/bin/python scripts/bench_orch.py \\
        --dagster-python .venv/bench/bin/python [--quick] [--only dagster,parse,build]

``--quick`` uses small numbers (for iterating on the script). Prints one JSON
object, also written to bench/results/orchestrators.json.
"""

import argparse
import json
import os
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from _bench_common import generate_project, write_results

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve()


# ---------------------------------------------------------------- children --
# Each runs in a fresh process and prints one JSON line.


def child_dagster_load(impl: str, manifest: str, project: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    from dagster import Definitions
    from dagster._core.remote_representation.external_data import RepositorySnap

    if impl == "floe":
        from floe_dbt.dagster import FloeDbtResource, floe_dbt_assets

        t_import = time.perf_counter()

        @floe_dbt_assets(manifest=manifest)
        def assets(context, floe_dbt: FloeDbtResource):
            yield from floe_dbt.build(context)

        defs = Definitions(assets=[assets], resources={"floe_dbt": FloeDbtResource(project_dir=project)})
    else:
        from dagster_dbt import DbtCliResource, dbt_assets

        dbt_exe = str(Path(sys.executable).parent / "dbt")
        t_import = time.perf_counter()

        @dbt_assets(manifest=manifest)
        def assets(context, dbt: DbtCliResource):
            yield from dbt.cli(["build"], context=context).stream()

        res = DbtCliResource(project_dir=project, dbt_executable=dbt_exe)
        defs = Definitions(assets=[assets], resources={"dbt": res})
    t_built = time.perf_counter()
    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    t_resolved = time.perf_counter()
    snap = RepositorySnap.from_def(defs.get_repository_def())
    t_end = time.perf_counter()
    return {
        "seconds": t_end - t0,
        "import_seconds": t_import - t0,
        "build_seconds": t_built - t_import,
        "resolve_seconds": t_resolved - t_built,
        "snapshot_seconds": t_end - t_resolved,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "assets": len(graph.materializable_asset_keys),
        "asset_checks": len(graph.asset_check_keys),
        "snapshot_assets": len(snap.asset_nodes),
    }


def child_airflow_parse(dag_file: str, dag_id: str) -> dict[str, Any]:
    """The DAG processor's own parse of one file (Airflow 3): its DagBag, then
    the serialization it sends to the scheduler. The Airflow modules the file
    imports are pre-imported first, untimed, as the processor's parent does."""
    import structlog
    from airflow.dag_processing.processor import (
        DagFileParseRequest,
        _parse_file,
        _pre_import_airflow_modules,
    )

    log = structlog.get_logger()
    _pre_import_airflow_modules(dag_file, log)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    req = DagFileParseRequest(file=dag_file, bundle_path=Path(dag_file).parent, bundle_name="bench")
    t0 = time.perf_counter()
    res = _parse_file(req, log)
    seconds = time.perf_counter() - t0
    if res is None or res.import_errors or len(res.serialized_dags) != 1:
        raise SystemExit(f"{dag_file}: {res and res.import_errors}")
    data = res.serialized_dags[0].data["dag"]
    assert data["dag_id"] == dag_id, data["dag_id"]
    return {
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mb": rss0,
        "tasks": len(data["tasks"]),
    }


# ------------------------------------------------------------------ driver --


def deno() -> str:
    return os.environ.get("FLOE_DENO") or str(REPO / ".tools" / "deno")


def generate(dest: Path, models: int) -> None:
    """A synthetic project (scripts/synthetic.ts) with absolute DuckDB and
    CSV paths (cosmos runs dbt from a temporary copy of the project)."""
    generate_project(deno(), dest, models)
    absolute(dest)


def absolute(proj: Path) -> None:
    """Point the profile's DuckDB file and the sources' CSV files at ``proj``."""
    prof = proj / "profiles.yml"
    prof.write_text(prof.read_text().replace("path: .floe/", f"path: {proj}/.floe/"))
    src = proj / "models" / "sources.yml"
    src.write_text(src.read_text().replace("'data/", f"'{proj}/data/"))


def copy_project(base: Path, dest: Path) -> Path:
    shutil.copytree(base, dest, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb", "*.wal"))
    absolute_again = (dest / "profiles.yml").read_text().replace(str(base), str(dest))
    (dest / "profiles.yml").write_text(absolute_again)
    src = dest / "models" / "sources.yml"
    src.write_text(src.read_text().replace(str(base), str(dest)))
    return dest


def dbt_parse(dbt: str, proj: Path) -> Path:
    subprocess.run([dbt, "parse", "--project-dir", str(proj), "--profiles-dir", str(proj)],
                   check=True, capture_output=True, cwd=proj)  # fmt: skip
    return proj / "target" / "manifest.json"


def run_child(python: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([python, str(HERE), "--child", *args], env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def interleaved(
    rounds: int, python: str, env: dict[str, str], first: list[str], second: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``rounds`` runs of each child, in turns: drift on a shared machine hits both."""
    a, b = [], []
    for _ in range(rounds):
        a.append(run_child(python, first, env))
        b.append(run_child(python, second, env))
    return a, b


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    secs = [r["seconds"] for r in rounds]
    rss = [r["peak_rss_mb"] for r in rounds]
    return {"median_seconds": statistics.median(secs), "min_seconds": min(secs),
            "max_seconds": max(secs), "median_peak_rss_mb": statistics.median(rss),
            "rounds": rounds}  # fmt: skip


def bench_dagster(python: str, root: Path, dbt: str, sizes: list[int], rounds: int) -> dict[str, Any]:
    env = {**os.environ, "DAGSTER_HOME": str(root / "dagster_home"), "NO_COLOR": "1"}
    Path(env["DAGSTER_HOME"]).mkdir(exist_ok=True)
    out: dict[str, Any] = {}
    for size in sizes:
        proj = root / f"dagster_{size}"
        generate(proj, size)
        manifest = dbt_parse(dbt, proj)
        floe, plain = interleaved(rounds, python, env,
                                  ["dagster-load", "floe", str(manifest), str(proj)],
                                  ["dagster-load", "dagster-dbt", str(manifest), str(proj)])  # fmt: skip
        for a, b in zip(floe, plain):
            assert a["assets"] == b["assets"] == size, (a["assets"], b["assets"], size)
            assert a["asset_checks"] == b["asset_checks"], (a["asset_checks"], b["asset_checks"])
            assert a["snapshot_assets"] == b["snapshot_assets"], (a["snapshot_assets"], b["snapshot_assets"])
        f, p = summary(floe), summary(plain)
        out[str(size)] = {
            "models": size,
            "assets": floe[0]["assets"],
            "asset_checks": floe[0]["asset_checks"],
            "floe_dbt_assets": f,
            "dagster_dbt": p,
            "ratio_time_dagster_dbt_over_floe": p["median_seconds"] / f["median_seconds"],
            "ratio_rss_dagster_dbt_over_floe": p["median_peak_rss_mb"] / f["median_peak_rss_mb"],
        }
        print(f"bench_orch: dagster load {size}: floe {f['median_seconds']:.2f}s "
              f"{f['median_peak_rss_mb']:.0f}MB, dagster-dbt {p['median_seconds']:.2f}s "
              f"{p['median_peak_rss_mb']:.0f}MB", file=sys.stderr)  # fmt: skip
    return out


FLOE_DAG = '''
import datetime, json, os, time
from airflow.sdk import DAG
from floe_dbt.airflow import FloeDbtTaskGroup

with DAG("floe_bench", schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:
    FloeDbtTaskGroup(group_id="dbt", manifest={manifest!r}, project_dir={project!r}, url={url!r})

if __name__ == "__main__":
    t0 = time.perf_counter()
    run = dag.test()
    wall = time.perf_counter() - t0
    states = {{ti.task_id: str(ti.state) for ti in run.get_task_instances()}}
    print("BENCH RESULT " + json.dumps({{"seconds": wall, "states": states}}))
'''

COSMOS_DAG = '''
import datetime, json, time
from airflow.sdk import DAG
from cosmos import (DbtTaskGroup, ExecutionConfig, ExecutionMode, InvocationMode, LoadMode,
                    ProfileConfig, ProjectConfig, RenderConfig, TestBehavior)

with DAG("cosmos_bench", schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:
    DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(dbt_project_path={project!r}, manifest_path={manifest!r}),
        profile_config=ProfileConfig(profile_name="synthetic", target_name="dev",
                                     profiles_yml_filepath={profiles!r}),
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.LOCAL,
                                         invocation_mode=InvocationMode.SUBPROCESS,
                                         dbt_executable_path={dbt!r}),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.BUILD),
    )

if __name__ == "__main__":
    t0 = time.perf_counter()
    run = dag.test()
    wall = time.perf_counter() - t0
    states = {{ti.task_id: str(ti.state) for ti in run.get_task_instances()}}
    print("BENCH RESULT " + json.dumps({{"seconds": wall, "states": states}}))
'''


def write_dags(folder: Path, proj: Path, manifest: Path, dbt: str, url: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    floe = folder / "floe_bench.py"
    floe.write_text(FLOE_DAG.format(manifest=str(manifest), project=str(proj), url=url))
    cosmos = folder / "cosmos_bench.py"
    cosmos.write_text(COSMOS_DAG.format(manifest=str(manifest), project=str(proj),
                                        profiles=str(proj / "profiles.yml"), dbt=dbt))  # fmt: skip
    return floe, cosmos


def airflow_env(root: Path) -> dict[str, str]:
    home = root / "airflow_home"
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__UNIT_TEST_MODE": "False", "NO_COLOR": "1",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}  # fmt: skip
    if not home.exists():
        (home / "dags").mkdir(parents=True)
        airflow = str(Path(sys.executable).parent / "airflow")
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    return env


def bench_parse(root: Path, dbt: str, size: int, rounds: int) -> dict[str, Any]:
    env = airflow_env(root)
    proj = root / f"airflow_parse_{size}"
    generate(proj, size)
    manifest = dbt_parse(dbt, proj)
    folder = root / f"dags_parse_{size}"
    floe_file, cosmos_file = write_dags(folder, proj, manifest, dbt, "http://127.0.0.1:9")
    floe, cosmos = interleaved(rounds, sys.executable, env,
                               ["airflow-parse", str(floe_file), "floe_bench"],
                               ["airflow-parse", str(cosmos_file), "cosmos_bench"])  # fmt: skip
    for a, b in zip(floe, cosmos):
        # one task per model each; floe-dbt's group has its submit task too
        assert a["tasks"] == size + 1 and b["tasks"] == size, (a["tasks"], b["tasks"], size)
    f, c = summary(floe), summary(cosmos)
    print(f"bench_orch: airflow parse {size}: floe {f['median_seconds']:.2f}s, "
          f"cosmos {c['median_seconds']:.2f}s", file=sys.stderr)  # fmt: skip
    return {
        "models": size,
        "floe_tasks": floe[0]["tasks"],
        "cosmos_tasks": cosmos[0]["tasks"],
        "floe_dbt_task_group": f,
        "cosmos_dbt_task_group": c,
        "ratio_time_cosmos_over_floe": c["median_seconds"] / f["median_seconds"],
    }


def relations(proj: Path) -> int:
    import duckdb

    con = duckdb.connect(str(proj / ".floe" / "synthetic.duckdb"), read_only=True)
    try:
        (n,) = con.execute(
            "select count(*) from information_schema.tables where table_name like 'm\\_%' escape '\\'"
        ).fetchone()
    finally:
        con.close()
    return int(n)


def run_dag(dag_file: Path, env: dict[str, str]) -> tuple[float, dict[str, str], float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(dag_file)], env=env, capture_output=True,
                          text=True, timeout=7200)  # fmt: skip
    total = time.perf_counter() - t0
    log = proc.stdout + proc.stderr
    m = re.search(r"^BENCH RESULT (.*)$", log, re.M)
    if not m:
        raise RuntimeError(f"{dag_file.name} did not finish:\n{log[-4000:]}")
    res = json.loads(m.group(1))
    return res["seconds"], res["states"], total


def built(states: dict[str, str], tasks: int, proj: Path, size: int) -> int:
    """Asserts a DAG run's ``tasks`` all succeeded and made ``size`` relations in ``proj``."""
    bad = {k: v for k, v in states.items() if v != "success"}
    assert len(states) == tasks and not bad, (len(states), bad)
    made = relations(proj)
    assert made == size, (made, size)
    return made


def bench_build(root: Path, dbt: str, size: int) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "clients" / "python" / "tests"))
    from conftest import Daemon
    from floe_dbt import FloeDbtClient

    env = airflow_env(root)
    base = root / f"build_base_{size}"
    generate(base, size)
    floe_proj = copy_project(base, root / "daemon" / f"floe_{size}")
    cosmos_proj = copy_project(base, root / f"cosmos_{size}")
    floe_manifest = dbt_parse(dbt, floe_proj)
    cosmos_manifest = dbt_parse(dbt, cosmos_proj)
    out: dict[str, Any] = {"models": size}
    dags = Path(env["AIRFLOW_HOME"]) / "dags"

    daemon = Daemon(root / "daemon", "t-" + secrets.token_hex(16)).start()
    try:
        with FloeDbtClient(daemon.url, token=daemon.token) as client:
            # a warm agent: its worker started and the project parsed
            client.run("compile", floe_proj, select=["m_0001"], timeout=900)
        floe_file, cosmos_file = write_dags(dags, floe_proj, floe_manifest, dbt, daemon.url)
        cosmos_file.unlink()  # dag.test() parses the whole DAG folder: this DAG alone
        wall, states, total = run_dag(floe_file, {**env, "FLOE_DBT_TOKEN": daemon.token})
        floe_file.unlink()
        with FloeDbtClient(daemon.url, token=daemon.token) as client:
            builds = [client.job(j.id) for j in client.jobs() if j.request.command == "build"]
    finally:
        daemon.stop()
    # the whole group was one agent job
    assert len(builds) == 1 and builds[0].result is not None, [(j.id, j.status) for j in builds]
    job = builds[0]
    job_seconds = (
        datetime.fromisoformat(job.finished_at) - datetime.fromisoformat(job.started_at)
    ).total_seconds()
    made = built(states, size + 1, floe_proj, size)
    out["floe_dbt_task_group"] = {"dag_test_seconds": wall, "process_seconds": total,
                                  "tasks": len(states), "relations": made,
                                  "agent_job_seconds": job_seconds,
                                  "agent_job_models_run": job.result.models_run}  # fmt: skip
    print(f"bench_orch: airflow build {size}: floe {wall:.1f}s", file=sys.stderr)

    floe_file, cosmos_file = write_dags(dags, cosmos_proj, cosmos_manifest, dbt, "")
    floe_file.unlink()
    wall, states, total = run_dag(cosmos_file, env)
    made = built(states, size, cosmos_proj, size)
    out["cosmos_local"] = {"dag_test_seconds": wall, "process_seconds": total,
                           "tasks": len(states), "relations": made}  # fmt: skip
    print(f"bench_orch: airflow build {size}: cosmos {wall:.1f}s", file=sys.stderr)
    out["ratio_time_cosmos_over_floe"] = (
        out["cosmos_local"]["dag_test_seconds"] / out["floe_dbt_task_group"]["dag_test_seconds"]
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--dagster-python", help="a Python with dagster, dagster-dbt and floe_dbt")
    ap.add_argument("--quick", action="store_true", help="small numbers, for iterating")
    ap.add_argument("--only", default="dagster,parse,build", help="comma-separated: dagster,parse,build")
    ap.add_argument("--rounds", type=int, help="rounds of each load/parse measurement")
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        res = child_dagster_load(*rest) if kind == "dagster-load" else child_airflow_parse(*rest)
        print(json.dumps(res))
        return 0
    only = set(args.only.split(","))
    rounds = args.rounds or (2 if args.quick else 5)
    dbt = str(Path(sys.executable).parent / "dbt")
    out: dict[str, Any] = {"quick": args.quick, "rounds": rounds, "cores": os.cpu_count(),
                           "load_average_at_start": os.getloadavg()}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="floe-bench-orch-") as tmp:
        root = Path(tmp)
        if "dagster" in only:
            if not args.dagster_python:
                ap.error("--dagster-python is needed for the Dagster load measurement")
            sizes = [200] if args.quick else [1000, 3000]
            out["dagster_load"] = bench_dagster(args.dagster_python, root, dbt, sizes, rounds)
        if "parse" in only:
            out["airflow_parse"] = bench_parse(root, dbt, 200 if args.quick else 1000, rounds)
        if "build" in only:
            out["airflow_build"] = bench_build(root, dbt, 20 if args.quick else 200)
    out["load_average_at_end"] = os.getloadavg()
    write_results("orchestrators.json", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
