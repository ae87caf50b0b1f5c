"""A dbt manifest.json read for orchestration, without any orchestrator:
the nodes that become assets or tasks (models, seeds, snapshots), their
upstream nodes and sources, the model each test checks, and dbt's node
selection grammar (shared by ``floe_dbt.dagster`` and ``floe_dbt.airflow``).
"""

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

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
            raise ValueError(f"floe-dbt selection: cannot read the selector '{term}'")
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
                f"floe-dbt selection: the selector method '{kind}:' is not supported "
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

