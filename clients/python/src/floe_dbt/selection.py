"""A dbt manifest.json read for orchestration, without any orchestrator:
the nodes that become assets or tasks (models, seeds, snapshots), their
upstream nodes and sources, the model each test checks, and dbt's node
selection grammar (shared by ``floe_dbt.dagster`` and ``floe_dbt.airflow``).
"""

import json
from pathlib import Path
from typing import Any

from ._selection import select_nodes

__all__ = ["DbtManifest", "ASSET_TYPES"]

ASSET_TYPES = ("model", "seed", "snapshot")


class DbtManifest:
    """The parts of a dbt manifest.json that assets and tasks need."""

    def __init__(self, manifest: dict[str, Any] | str | Path):
        if not isinstance(manifest, dict):
            manifest = json.loads(Path(manifest).read_text(encoding="utf-8"))
        self.raw = manifest
        self.nodes: dict[str, dict[str, Any]] = manifest.get("nodes", {})
        self.sources: dict[str, dict[str, Any]] = manifest.get("sources", {})
        self.children: dict[str, list[str]] = manifest.get("child_map", {})
        self.parents: dict[str, list[str]] = manifest.get("parent_map", {})

    def asset_ids(self) -> list[str]:
        """Unique ids of the nodes that become assets."""
        return sorted(u for u, n in self.nodes.items() if n.get("resource_type") in ASSET_TYPES)

    def deps(self, unique_id: str) -> list[str]:
        """A node's upstream models, seeds, snapshots and sources."""
        ups = self.nodes[unique_id].get("depends_on", {}).get("nodes", [])
        return [
            u
            for u in ups
            if u in self.sources or self.nodes.get(u, {}).get("resource_type") in ASSET_TYPES
        ]

    def test_target(self, unique_id: str) -> str | None:
        """The model a test checks: its attached node, else its only upstream asset."""
        node = self.nodes[unique_id]
        attached = node.get("attached_node")
        if attached:
            return attached
        ups = [u for u in self.deps(unique_id) if u not in self.sources]
        return ups[0] if len(ups) == 1 else None

    def select(self, select: str | None, exclude: str | None) -> list[str]:
        """Asset ids that a dbt-style selection picks, as dbt's node selection
        grammar reads it: space-separated terms are a union, ``,`` inside a
        term an intersection; each part a ``fqn:``, ``path:``, ``file:``,
        ``tag:``, ``resource_type:``, ``package:`` or ``config.KEY:`` method,
        or a bare value (a path when it holds ``/``, a file name when it ends
        in .sql/.py/.csv, else fqn: a model name, a folder, ``marts.orders``,
        with or without the package, ``*``/``?`` wildcards), with graph
        operators ``+``/``N+`` before or after (ancestors, descendants, N
        levels) or ``@`` before. A method the manifest alone cannot answer
        (``state:``, ``result:``...) is a ``ValueError`` naming it, never an
        empty selection."""
        return select_nodes(
            self.nodes, self.asset_ids(), self.parents, self.children, select, exclude
        )
