# Copied from the floe seeds, REQ-094 "Plugin Compliance Tests" (the spec of
# REQ-086 to REQ-095, DBT Runtime Plugin: its test suite
# tests/contract/test_dbt_runtime_plugin.py), as written there. Adapted only in
# its imports: floe_core's DBTPlugin and PluginRegistry are floe_dbt's, and the
# names the seed uses without importing (Path, the two setup_test_* helpers)
# are imported. conftest.py points the plugins it builds at the repo's CLI.
from pathlib import Path

import pytest
from floe_dbt.plugin import DBTPlugin
from floe_dbt.plugin_registry import PluginRegistry

from _seed_helpers import setup_test_dbt_project, setup_test_profiles

@pytest.mark.parametrize("runtime", ["local", "cloud"])
def test_dbt_runtime_plugin_compliance(runtime: str):
    """Verify DBTPlugin implementations satisfy ABC."""
    registry = PluginRegistry()
    plugin = registry.get_plugin("dbt", runtime)

    # ABC compliance
    assert isinstance(plugin, DBTPlugin)

    # All abstract methods callable
    assert callable(plugin.compile_project)
    assert callable(plugin.run_models)
    assert callable(plugin.run_tests)
    assert callable(plugin.get_manifest)
    assert callable(plugin.get_run_results)
    assert callable(plugin.supports_parallel_execution)
    assert callable(plugin.get_runtime_metadata)

    # Type hints present
    import inspect
    sig = inspect.signature(plugin.compile_project)
    assert sig.return_annotation == Path

@pytest.mark.integration
def test_dbt_runtime_compile_and_run(tmp_path: Path):
    """Integration test: compile and run dbt project."""
    project_dir = setup_test_dbt_project(tmp_path)
    profiles_dir = setup_test_profiles(tmp_path)

    for runtime in ["local"]:  # Cloud requires API credentials
        plugin = PluginRegistry().get_plugin("dbt", runtime)

        # Compile
        manifest_path = plugin.compile_project(
            project_dir=project_dir,
            profiles_dir=profiles_dir,
            target="dev",
        )
        assert manifest_path.exists()

        # Run
        result = plugin.run_models(
            project_dir=project_dir,
            profiles_dir=profiles_dir,
            target="dev",
        )
        assert result.success
        assert result.models_run > 0
        assert result.manifest_path.exists()
