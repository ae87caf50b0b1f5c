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

import fnmatch
import json
import queue
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetSpec,
    ConfigurableResource,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from .client import FloeDbtClient
from .errors import FloeDbtError
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
        chosen = set(self.asset_ids()) if not select else self._union(select)
        if exclude:
            chosen -= self._union(exclude)
        return sorted(chosen)

    def _union(self, spec: str) -> set[str]:
        out: set[str] = set()
        for term in spec.split():
            parts = [self._term(p) for p in term.split(",") if p]
            out |= set.intersection(*parts) if parts else set()
        return out & set(self.asset_ids())

    def _term(self, term: str) -> set[str]:
        m = _GRAPH_TERM.fullmatch(term)
        if not m or not m.group("body"):
            raise ValueError(f"floe_dbt_assets: cannot read the selector '{term}'")
        base = self._match(m.group("body"))
        out = set(base)
        if m.group("at"):
            down = self._walk(base, self.children)
            out |= down | self._walk(base | down, self.parents)
            return out
        if m.group("up"):
            out |= self._walk(base, self.parents, _depth(m.group("up_n")))
        if m.group("down"):
            out |= self._walk(base, self.children, _depth(m.group("down_n")))
        return out

    def _match(self, term: str) -> set[str]:
        kind, _, value = term.partition(":") if ":" in term else (_default_method(term), "", term)
        if kind not in _METHODS and not kind.startswith("config."):
            raise ValueError(
                f"floe_dbt_assets: the selector method '{kind}:' is not supported "
                f"here (supported: {', '.join(_METHODS)}, config.KEY:); select "
                "by name, path, tag or config instead"
            )
        found = set()
        for u, n in self.nodes.items():
            if _node_matches(n, kind, value):
                found.add(u)
        return found

    @staticmethod
    def _walk(
        start: set[str], edges: dict[str, list[str]], depth: int | None = None
    ) -> set[str]:
        """Nodes reachable from ``start`` along ``edges``, at most ``depth`` steps."""
        seen: set[str] = set()
        frontier = set(start)
        step = 0
        while frontier and (depth is None or step < depth):
            step += 1
            nxt = {n for f in frontier for n in edges.get(f, []) if n not in seen}
            seen |= nxt
            frontier = nxt
        return seen


# One selector part: optional "@" or "N+" before, the method:value body, "+N" after.
_GRAPH_TERM = re.compile(
    r"(?:(?P<at>@)|(?P<up_n>\d*)(?P<up>\+))?(?P<body>[^+@]+?)(?:(?P<down>\+)(?P<down_n>\d*))?"
)
_METHODS = ("fqn", "path", "file", "tag", "resource_type", "package")


def _default_method(value: str) -> str:
    """dbt's method for a bare value (``SelectionCriteria.default_method``)."""
    if "/" in value or "\\" in value:
        return "path"
    if value.lower().endswith((".sql", ".py", ".csv")):
        return "file"
    return "fqn"


def _fqn_selected(fqn: list[str], selector: str) -> bool:
    """dbt's ``is_selected_node`` for an unversioned node."""
    if not fqn:
        return False
    if fqn[-1] == selector:
        return True
    flat = [item for segment in fqn for item in segment.split(".")]
    parts = selector.split(".")
    if len(flat) < len(parts):
        return False
    for i, part in enumerate(parts):
        if any(w in part for w in "*?[]"):
            if fnmatch.fnmatchcase(".".join(flat[i:]), ".".join(parts[i:])):
                return True
            return "." not in selector and fnmatch.fnmatchcase(fqn[-1], selector)
        if flat[i] != part:
            return False
    return True


def _depth(digits: str | None) -> int | None:
    return int(digits) if digits else None


def _node_matches(node: dict[str, Any], kind: str, value: str) -> bool:
    if kind == "fqn":
        # dbt matches with the package name and without it
        fqn = [str(x) for x in node.get("fqn") or []]
        return _fqn_selected(fqn, value) or _fqn_selected(fqn[1:], value)
    if kind == "tag":
        return any(fnmatch.fnmatchcase(t, value) for t in node.get("tags") or [])
    if kind == "path":
        path = str(node.get("original_file_path", ""))
        want = value.rstrip("/")
        return path == want or path.startswith(want + "/") or fnmatch.fnmatchcase(path, value)
    if kind == "file":
        name = str(node.get("original_file_path", "")).rsplit("/", 1)[-1]
        stem = name.rsplit(".", 1)[0]
        return fnmatch.fnmatchcase(name, value) or fnmatch.fnmatchcase(stem, value)
    if kind == "resource_type":
        return node.get("resource_type") == value
    if kind == "package":
        return node.get("package_name") == value
    key = kind[len("config."):]
    have = (node.get("config") or {}).get(key)
    if isinstance(have, list):
        return value in [str(x) for x in have]
    if isinstance(have, bool):
        return str(have).lower() == value.lower()
    return have is not None and str(have) == value


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


def _reused_events(
    context: AssetExecutionContext,
    m: FloeDbtManifest,
    job_id: str,
    result: Any,
    selected: list[str],
    check_keys: set[tuple[AssetKey, str]],
) -> Iterator[AssetCheckResult]:
    """What --skip-unchanged reused: an observation per selected asset (it was
    not materialized again) and the reused tests' checks (passed last time)."""
    metadata = getattr(result, "metadata", None) or {}
    reused = metadata.get("reused") if isinstance(metadata, dict) else None
    if not isinstance(reused, list):
        return
    meta = {"floe_dbt/job_id": job_id, "floe_dbt/reused": True}
    for u in reused:
        node = m.nodes.get(u)
        if node is None:
            continue
        if node.get("resource_type") in ASSET_TYPES and u in selected:
            context.log_event(
                AssetObservation(asset_key=m.key(u), metadata={**meta, "dbt/unique_id": u})
            )
        elif node.get("resource_type") == "test":
            target = m.test_target(u)
            key = (m.key(target), node["name"]) if target else None
            if key is not None and key in check_keys:
                check_keys.discard(key)
                yield AssetCheckResult(
                    asset_key=key[0], check_name=key[1], passed=True, metadata=meta
                )


_MANIFESTS: dict[str, FloeDbtManifest] = {}
"""The manifest of each floe_dbt_assets op, by op name."""


class FloeDbtResource(ConfigurableResource):
    """Where the floe-dbt agent and the dbt project are."""

    url: str | None = None
    token: str | None = None
    project_dir: str
    profiles_dir: str | None = None
    target: str | None = None
    runtime: str | None = None
    timeout_seconds: float | None = None
    # Reuse what is unchanged since its last build (--skip-unchanged): reused
    # assets are reported as observations, not new materializations.
    skip_unchanged: bool = False

    def get_client(self) -> FloeDbtClient:
        """A client of the agent."""
        return FloeDbtClient(self.url, token=self.token)

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
                # Sent only when asked: an older daemon refuses unknown fields.
                skip_unchanged=self.skip_unchanged or None,
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
            result = done.get("result")
            yield from _reused_events(context, m, job.id, result, selected, check_keys)
        err = done.get("error")
        if failed or err is not None:
            raise Failure(
                description=f"floe-dbt job {job.id} failed: {err or ''}",
                metadata={"failed_nodes": MetadataValue.text("\n".join(failed) or str(err))},
            )
