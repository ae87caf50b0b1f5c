"""``PluginRegistry``: the seeds' way of resolving a plugin by type and name
(``PluginRegistry().get_plugin("dbt", "local")``), over the installed entry
points (group ``floe.<type>``; this package registers ``floe.dbt``: ``local``,
``fusion`` and ``cloud``).
"""

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .errors import FloeDbtError

__all__ = ["PluginRegistry"]

# The seeds name the dbt plugin type "dbt" and, in places, "dbt_runtimes".
_ALIASES = {"dbt_runtime": "dbt", "dbt_runtimes": "dbt"}


class PluginRegistry:
    """Finds plugins through ``importlib.metadata`` entry points.

    ``config``: keyword arguments passed to every plugin's constructor (for
    the dbt plugins: ``url`` and ``config``), unless ``get_plugin`` is given
    its own.
    """

    def __init__(self, **config: Any) -> None:
        self.config = config

    @staticmethod
    def _group(plugin_type: str) -> str:
        return "floe." + _ALIASES.get(plugin_type, plugin_type)

    def names(self, plugin_type: str) -> list[str]:
        """The names registered for a plugin type, sorted."""
        return sorted(ep.name for ep in entry_points(group=self._group(plugin_type)))

    def entry_point(self, plugin_type: str, name: str) -> EntryPoint:
        """The entry point of one plugin (FLOE-DBT-E010 when there is none)."""
        for ep in entry_points(group=self._group(plugin_type)):
            if ep.name == name:
                return ep
        known = ", ".join(self.names(plugin_type)) or "none"
        raise FloeDbtError(
            f"No '{plugin_type}' plugin named '{name}'",
            code="FLOE-DBT-E010",
            hint=f"installed: {known} (entry point group {self._group(plugin_type)})",
        )

    def get_plugin(self, plugin_type: str, name: str, **kwargs: Any) -> Any:
        """An instance of the named plugin, built with ``kwargs`` (else the
        registry's ``config``)."""
        cls = self.entry_point(plugin_type, name).load()
        return cls(**(kwargs or self.config))
