"""dbt's node selection grammar, read from a manifest alone.

Space-separated terms are a union, ``,`` inside a term an intersection; each
part a ``fqn:``, ``path:``, ``file:``, ``tag:``, ``resource_type:``,
``package:`` or ``config.KEY:`` method, or a bare value read as dbt reads it,
with the graph operators ``+``/``N+`` (ancestors, descendants, N levels) and
``@``. Shared by the Dagster assets and anything else that renders a
selection from a manifest; a method the manifest alone cannot answer
(``state:``, ``result:``...) is a ``ValueError`` naming it.
"""

import fnmatch
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["select_nodes"]

# One selector part: optional "@" or "N+" before, the method:value body, "+N" after.
_GRAPH_TERM = re.compile(
    r"(?:(?P<at>@)|(?P<up_n>\d*)(?P<up>\+))?(?P<body>[^+@]+?)(?:(?P<down>\+)(?P<down_n>\d*))?"
)
_METHODS = ("fqn", "path", "file", "tag", "resource_type", "package")

Edges = dict[str, list[str]]


def select_nodes(
    nodes: dict[str, dict[str, Any]],
    candidates: Iterable[str],
    parents: Edges,
    children: Edges,
    select: str | None,
    exclude: str | None,
) -> list[str]:
    """The ``candidates`` (unique ids) that ``select`` minus ``exclude`` picks,
    sorted; no ``select`` means every candidate."""
    pool = set(candidates)
    chosen = set(pool) if not select else _union(nodes, parents, children, select) & pool
    if exclude:
        chosen -= _union(nodes, parents, children, exclude)
    return sorted(chosen)


def _union(nodes: dict[str, dict[str, Any]], parents: Edges, children: Edges, spec: str) -> set[str]:
    out: set[str] = set()
    for term in spec.split():
        parts = [_term(nodes, parents, children, p) for p in term.split(",") if p]
        out |= set.intersection(*parts) if parts else set()
    return out


def _term(nodes: dict[str, dict[str, Any]], parents: Edges, children: Edges, term: str) -> set[str]:
    m = _GRAPH_TERM.fullmatch(term)
    if not m or not m.group("body"):
        raise ValueError(f"floe_dbt: cannot read the selector '{term}'")
    base = _match(nodes, m.group("body"))
    out = set(base)
    if m.group("at"):
        down = _walk(base, children)
        out |= down | _walk(base | down, parents)
        return out
    if m.group("up"):
        out |= _walk(base, parents, _depth(m.group("up_n")))
    if m.group("down"):
        out |= _walk(base, children, _depth(m.group("down_n")))
    return out


def _match(nodes: dict[str, dict[str, Any]], term: str) -> set[str]:
    kind, _, value = term.partition(":") if ":" in term else (_default_method(term), "", term)
    if kind not in _METHODS and not kind.startswith("config."):
        raise ValueError(
            f"floe_dbt: the selector method '{kind}:' is not supported "
            f"here (supported: {', '.join(_METHODS)}, config.KEY:); select "
            "by name, path, tag or config instead"
        )
    return {u for u, n in nodes.items() if _node_matches(n, kind, value)}


def _walk(start: set[str], edges: Edges, depth: int | None = None) -> set[str]:
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
