"""AgentDBTPlugin on the cloud runtime, against the repo's public-API stand-in
for dbt Cloud (tests/cloud/fake_server.ts), over the daemon and over the CLI."""

from __future__ import annotations

import secrets
import shlex
import subprocess
from pathlib import Path

import pytest

from conftest import DENO, MAIN, Daemon
from floe_dbt.models import DBTRunResult
from floe_dbt.plugin import AgentDBTPlugin

HERE = Path(__file__).resolve().parent
ACCOUNT = 42
REF = "py_cloud_token"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory):
    """The fake dbt Cloud, a platform manifest.yaml pointing at it, and its token."""
    token = "dbtc_" + secrets.token_hex(16)
    proc = subprocess.Popen(
        [DENO, "run", "--allow-all", "--quiet", str(HERE / "fake_cloud.ts"), str(ACCOUNT), token],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    root = tmp_path_factory.mktemp("cloud")
    config = root / "manifest.yaml"
    config.write_text(
        "plugins:\n"
        "  dbt_runtime: cloud\n"
        "  dbt_runtime_config:\n"
        "    cloud:\n"
        f"      account_id: {ACCOUNT}\n"
        f"      api_token_ref: {REF}\n"
        f"      base_url: {url}\n"
        "      poll_interval_seconds: 0.05\n"
        "      max_poll_interval_seconds: 0.1\n"
        "      job_ids: {run: 101, compile: 102, test: 103}\n"
    )
    project = root / "project"
    project.mkdir()
    yield {"url": url, "config": config, "token": token, "root": root, "project": project}
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(30)


def _exercise(plugin: AgentDBTPlugin, project: Path) -> dict:
    manifest_path = plugin.compile_project(project, project, "dev")
    assert manifest_path.name == "manifest.json"
    run = plugin.run_models(project, project, "dev", select="customers")
    assert isinstance(run, DBTRunResult) and run.success and run.models_run >= 1
    assert run.metadata.get("runtime") == "cloud"
    tested = plugin.test_models(project, project, "dev")
    assert isinstance(tested, DBTRunResult) and tested.success
    manifest = plugin.get_manifest(project)
    assert "model.jaffle_duck.customers" in manifest["nodes"]
    rr = plugin.get_run_results(project)
    assert rr["results"]
    assert plugin.supports_parallel_execution() is True
    assert isinstance(plugin.supports_sql_linting(), bool)
    meta = plugin.get_runtime_metadata()
    assert meta["type"] == "cloud" and meta["available"] is True
    return meta


def test_cloud_plugin_over_the_cli(cloud, monkeypatch):
    monkeypatch.setenv("FLOE_DBT_BIN", shlex.join([DENO, "run", "--allow-all", "--quiet", str(MAIN)]))
    plugin = AgentDBTPlugin(
        "cloud",
        config={
            "mode": "cli",
            "agent_config": cloud["config"],
            "env": {f"FLOE_SECRET_{REF.upper()}": cloud["token"]},
            "timeout": 300,
        },
    )
    meta = _exercise(plugin, cloud["project"])
    assert meta["via"] == "cli"


def test_cloud_plugin_over_the_daemon(cloud, monkeypatch):
    monkeypatch.setenv(f"FLOE_SECRET_{REF.upper()}", cloud["token"])
    d = Daemon(cloud["root"], "t-" + secrets.token_hex(16), extra=["--config", str(cloud["config"])]).start()
    try:
        from importlib.metadata import entry_points

        cls = {ep.name: ep for ep in entry_points(group="floe.dbt")}["cloud"].load()
        plugin = cls(url=d.url, config={"token": d.token, "timeout": 300})
        assert plugin.mode == "daemon"
        meta = _exercise(plugin, cloud["project"])
        assert meta["via"] == "daemon"
    finally:
        d.stop()
