"""The seeds' DBTPlugin and AgentDBTPlugin: entry points, the daemon path and
the CLI path, on local (dbt-core) and fusion (dbt Fusion)."""

from __future__ import annotations

import inspect
import shlex
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from conftest import DENO, MAIN, Daemon, copy_example
from floe_dbt.models import DBTRunResult, ProjectLintResult
from floe_dbt.plugin import AgentDBTPlugin, DBTPlugin

NINE = {
    "compile_project",
    "run_models",
    "test_models",
    "lint_project",
    "get_manifest",
    "get_run_results",
    "supports_parallel_execution",
    "supports_sql_linting",
    "get_runtime_metadata",
}


def test_dbtplugin_is_the_seeds_abc():
    assert DBTPlugin.__abstractmethods__ == NINE
    sig = inspect.signature(DBTPlugin.run_models)
    assert list(sig.parameters) == [
        "self", "project_dir", "profiles_dir", "target", "select", "exclude", "full_refresh",
    ]  # fmt: skip
    assert sig.parameters["full_refresh"].default is False
    assert list(inspect.signature(DBTPlugin.lint_project).parameters)[-1] == "fix"
    assert set(DBTPlugin.__annotations__) == {"name", "version", "floe_api_version"}
    with pytest.raises(TypeError):
        DBTPlugin()  # type: ignore[abstract]


def test_entry_points_name_local_fusion_and_cloud():
    eps = {ep.name: ep for ep in entry_points(group="floe.dbt")}
    assert {"local", "fusion", "cloud"} <= set(eps)
    for name in ("local", "fusion", "cloud"):
        cls = eps[name].load()
        assert issubclass(cls, AgentDBTPlugin) and issubclass(cls, DBTPlugin)
        assert not inspect.isabstract(cls)


def _exercise(plugin: AgentDBTPlugin, project: Path, select: str, test_select: str):
    """Call every method once and check what it answers."""
    runtime = plugin.runtime
    manifest_path = plugin.compile_project(project, project, "dev")
    assert manifest_path.name == "manifest.json" and manifest_path.exists()

    run = plugin.run_models(project, project, "dev", select=select)
    assert isinstance(run, DBTRunResult) and run.success, run
    assert run.models_run >= 1 and run.failures == 0
    assert run.metadata.get("runtime") in (runtime, "local")  # fusion may fall back

    tested = plugin.test_models(project, project, "dev", select=test_select)
    assert isinstance(tested, DBTRunResult) and tested.tests_run >= 1

    lint = plugin.lint_project(project, project, "dev")
    assert isinstance(lint, ProjectLintResult)
    assert lint.total_issues == len(lint.issues)

    manifest = plugin.get_manifest(project)
    assert any(k.startswith("model.jaffle_duck.") for k in manifest["nodes"])
    rr = plugin.get_run_results(project)
    assert rr["results"] and "metadata" in rr

    assert plugin.supports_parallel_execution() is (runtime != "local")
    assert plugin.supports_sql_linting() is True
    meta = plugin.get_runtime_metadata()
    assert meta["type"] == runtime and meta["available"] is True
    assert plugin.name == runtime and plugin.floe_api_version == "1.0"
    return meta


@pytest.mark.parametrize("runtime", ["local", "fusion"])
def test_agent_plugin_over_the_daemon(runtime: str, daemon: Daemon, built, project: Path):
    cls = {ep.name: ep for ep in entry_points(group="floe.dbt")}[runtime].load()
    plugin = cls(url=daemon.url, config={"token": daemon.token, "timeout": 600})
    assert plugin.mode == "daemon"
    meta = _exercise(plugin, project, "stg_orders+", "customers")
    assert meta["via"] == "daemon" and meta["agent_url"] == daemon.url


@pytest.fixture(scope="module")
def cli_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_example(tmp_path_factory.mktemp("cli") / "jaffle")


@pytest.mark.parametrize("runtime", ["local", "fusion"])
def test_agent_plugin_over_the_cli(runtime: str, cli_project: Path, monkeypatch):
    monkeypatch.setenv("FLOE_DBT_BIN", shlex.join([DENO, "run", "--allow-all", "--quiet", str(MAIN)]))
    # nothing listens there: "auto" falls back to the CLI
    plugin = AgentDBTPlugin(runtime, url="http://127.0.0.1:9", config={"timeout": 600})
    assert plugin.mode == "cli"
    meta = _exercise(plugin, cli_project, "stg_customers stg_orders", "stg_customers")
    assert meta["via"] == "cli"


def test_cli_path_raises_the_agents_error_class(monkeypatch, tmp_path: Path):
    from floe_dbt.errors import DBTConfigurationError

    monkeypatch.setenv("FLOE_DBT_BIN", shlex.join([DENO, "run", "--allow-all", "--quiet", str(MAIN)]))
    plugin = AgentDBTPlugin("local", config={"mode": "cli"})
    with pytest.raises(DBTConfigurationError) as e:
        plugin.compile_project(tmp_path / "nowhere", tmp_path, "dev")
    assert e.value.code == "FLOE-DBT-E003" and "nowhere" in e.value.message


@pytest.mark.parametrize("runtime", ["local", "fusion", "cloud"])
def test_seed_compliance_test_on_every_runtime(runtime: str, monkeypatch):
    """REQ-094's compliance test (copied from the seeds, which parametrize it
    with local and cloud), run on all three entry points."""
    import test_dbt_runtime_plugin as seed

    monkeypatch.setenv("FLOE_DBT_URL", "http://127.0.0.1:9")
    seed.test_dbt_runtime_plugin_compliance(runtime)
    assert inspect.signature(DBTPlugin.compile_project).return_annotation is Path
    assert inspect.signature(DBTPlugin.run_models).return_annotation is DBTRunResult
