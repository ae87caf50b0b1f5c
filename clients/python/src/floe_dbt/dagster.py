"""Dagster integration (``pip install floe-dbt[dagster]``).

``FloeDbtResource`` says where the agent and the project are;
``floe_dbt_assets`` builds one asset per dbt model (and seed, snapshot) from a
manifest, with sources as external assets and dbt tests as asset checks, and
materializes them through the agent, yielding a materialization per node as
its progress event arrives::

    @floe_dbt_assets(manifest="jaffle/target/manifest.json")
    def jaffle(context, floe_dbt: FloeDbtResource):
        yield from floe_dbt.build(context)
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    ConfigurableResource,
    EnvVar,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from ._selection import select_nodes
from .client import FloeDbtClient
from .errors import DBTConfigurationError, FloeDbtError
from .models import NodeFinishedEvent

__all__ = [
    "FloeDbtResource",
    "floe_dbt_assets",
    "floe_dbt_source_specs",
    "FloeDbtManifest",
]

ASSET_TYPES = ("model", "seed", "snapshot")
OK_STATUSES = {"success", "pass", "warn"}


class FloeDbtManifest:
    """The parts of a dbt manifest.json that assets need."""

    def __init__(self, manifest: dict[str, Any] | str | Path):
        if not isinstance(manifest, dict):
            manifest = json.loads(Path(manifest).read_text(encoding="utf-8"))
        self.raw = manifest
        self.nodes: dict[str, dict[str, Any]] = manifest.get("nodes", {})
        self.sources: dict[str, dict[str, Any]] = manifest.get("sources", {})
        self.children: dict[str, list[str]] = manifest.get("child_map", {})
        self.parents: dict[str, list[str]] = manifest.get("parent_map", {})

    def key(self, unique_id: str) -> AssetKey:
        """The asset key of a model, seed, snapshot (``[name]``) or source
        (``[source_name, name]``)."""
        if unique_id in self.sources:
            s = self.sources[unique_id]
            return AssetKey([s["source_name"], s["name"]])
        return AssetKey([self.nodes[unique_id]["name"]])

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


def _group(node: dict[str, Any]) -> str:
    """The folder under models/ (fqn[1]) or the package name, as a group name."""
    fqn = node.get("fqn") or ["dbt"]
    return fqn[1] if len(fqn) > 2 else fqn[0]


def floe_dbt_source_specs(manifest: dict[str, Any] | str | Path) -> list[AssetSpec]:
    """External assets for the project's dbt sources (add them to Definitions)."""
    m = FloeDbtManifest(manifest)
    return [
        AssetSpec(
            key=m.key(u),
            description=s.get("description") or None,
            group_name=s["source_name"],
            metadata={"dbt_unique_id": u},
            kinds={"dbt"},
        )
        for u, s in sorted(m.sources.items())
    ]


def floe_dbt_assets(
    *,
    manifest: dict[str, Any] | str | Path,
    select: str | None = None,
    exclude: str | None = None,
    name: str | None = None,
    group_name: str | None = None,
) -> Callable[[Callable[..., Any]], Any]:
    """A decorator building a Dagster multi-asset from a dbt manifest: one
    asset per selected model (seed, snapshot), keys and dependencies from the
    manifest, each dbt test an asset check on the model it tests. The function
    it decorates materializes them, usually ``yield from floe_dbt.build(context)``.
    """
    m = FloeDbtManifest(manifest)
    ids = m.select(select, exclude)
    id_set = set(ids)
    specs = []
    for u in ids:
        n = m.nodes[u]
        specs.append(
            AssetSpec(
                key=m.key(u),
                deps=[m.key(d) for d in m.deps(u)],
                description=n.get("description") or None,
                group_name=group_name or _group(n),
                metadata={"dbt_unique_id": u, "dbt_resource_type": n["resource_type"]},
                kinds={"dbt"},
                skippable=True,
            )
        )
    checks = []
    for u, n in sorted(m.nodes.items()):
        if n.get("resource_type") != "test":
            continue
        target = m.test_target(u)
        if target in id_set:
            checks.append(
                AssetCheckSpec(name=n["name"], asset=m.key(target), description=u)
            )

    def wrap(fn: Callable[..., Any]) -> Any:
        decorated = multi_asset(
            name=name or fn.__name__,
            specs=specs,
            check_specs=checks,
            can_subset=True,
            op_tags={"floe_dbt/select": select or "", "floe_dbt/exclude": exclude or ""},
        )(fn)
        _MANIFESTS[name or fn.__name__] = m
        return decorated

    return wrap


_MANIFESTS: dict[str, FloeDbtManifest] = {}
"""The manifest of each floe_dbt_assets op, by op name."""


class FloeDbtResource(ConfigurableResource):
    """Where the floe-dbt agent and the dbt project are.

    ``token``: give it as ``EnvVar("FLOE_DBT_TOKEN")`` (Dagster shows the
    variable's name, never its value), or leave it out: the client then reads
    ``FLOE_DBT_TOKEN``/``FLOE_DBT_TOKEN_FILE`` or the local daemon's token
    file. A literal token is shown in the Dagster UI and stored with the run."""

    url: str | None = None
    token: str | None = None
    project_dir: str
    profiles_dir: str | None = None
    target: str | None = None
    runtime: str | None = None
    timeout_seconds: float | None = None

    def get_client(self) -> FloeDbtClient:
        """A client of the agent."""
        token = self.token
        if isinstance(token, EnvVar):  # used outside a run: not resolved yet
            name = token.env_var_name
            token = token.get_value()
            if token is None:
                raise DBTConfigurationError(
                    f"FloeDbtResource.token: the environment variable {name} is not set",
                    hint=f"set {name} to the daemon's token",
                )
        return FloeDbtClient(self.url, token=token)

    def build(
        self, context: AssetExecutionContext, command: str = "build"
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        """Run the selected assets (and their tests) through the agent; yield a
        materialization per node and a check result per test as they finish.
        A failing model fails the step once the job ends (its downstream models
        are skipped by dbt and not materialized)."""
        m = _MANIFESTS.get(context.op_def.name)
        if m is None:
            raise FloeDbtError("This asset was not built by floe_dbt_assets", code="FLOE-DBT-E010")
        by_key = {m.key(u): u for u in m.asset_ids()}
        selected = [by_key[k] for k in sorted(context.selected_asset_keys, key=str) if k in by_key]
        check_keys = {(c.asset_key, c.name) for c in context.selected_asset_check_keys}
        names = [m.nodes[u]["name"] for u in selected]
        events: queue.Queue[Any] = queue.Queue()
        with self.get_client() as client:
            job = client.submit(
                command,
                self.project_dir,
                profiles_dir=self.profiles_dir,
                target=self.target,
                select=names,
                runtime=self.runtime,
            )
            context.log.info(f"floe-dbt job {job.id}: {command} {' '.join(names)}")
            done: dict[str, Any] = {}

            def follow() -> None:
                try:
                    done["result"] = client.wait(
                        job.id, on_event=events.put, timeout=self.timeout_seconds
                    )
                except Exception as e:  # noqa: BLE001 - re-raised in the step
                    done["error"] = e
                finally:
                    events.put(None)

            t = threading.Thread(target=follow, daemon=True)
            t.start()
            failed: list[str] = []
            while (ev := events.get()) is not None:
                if not isinstance(ev, NodeFinishedEvent):
                    continue
                meta = {
                    "floe_dbt/job_id": job.id,
                    "dbt/unique_id": ev.unique_id,
                    "dbt/status": ev.status,
                    "dbt/execution_time_seconds": MetadataValue.float(ev.execution_time or 0.0),
                    "dbt/finished_at": ev.ts,
                }
                node = m.nodes.get(ev.unique_id)
                if node is None:
                    continue
                if ev.resource_type in ASSET_TYPES and ev.unique_id in selected:
                    if ev.status in OK_STATUSES:
                        yield MaterializeResult(asset_key=m.key(ev.unique_id), metadata=meta)
                    else:
                        failed.append(f"{ev.unique_id}: {ev.message or ev.status}")
                elif ev.resource_type == "test":
                    target = m.test_target(ev.unique_id)
                    if target is None:
                        continue
                    key = (m.key(target), node["name"])
                    if key in check_keys:
                        check_keys.discard(key)
                        yield AssetCheckResult(
                            asset_key=key[0],
                            check_name=key[1],
                            passed=ev.status in ("pass", "success"),
                            metadata={**meta, "dbt/message": ev.message or ""},
                        )
            t.join()
        err = done.get("error")
        if failed or err is not None:
            raise Failure(
                description=f"floe-dbt job {job.id} failed: {err or ''}",
                metadata={"failed_nodes": MetadataValue.text("\n".join(failed) or str(err))},
            )
