"""Dagster integration (``pip install floe-dbt[dagster]``).

``FloeDbtResource`` says where the agent and the project are;
``floe_dbt_assets`` builds one asset per dbt model (and seed, snapshot) from a
manifest, with sources as external assets and dbt tests as asset checks, and
materializes them through the agent, yielding a materialization per node that
succeeded, with the agent's node facts (``dagster/row_count``,
``dagster/column_schema``, ``dagster/column_lineage``,
``dagster/relation_identifier``)::

    @floe_dbt_assets(manifest="jaffle/target/manifest.json")
    def jaffle(context, floe_dbt: FloeDbtResource):
        yield from floe_dbt.build(context)

``FloeDbtTranslator`` (like dagster-dbt's ``DagsterDbtTranslator``) maps a dbt
node to its asset key, group, description, metadata, tags, owners and code
version; subclass it and pass ``translator=`` to change them.
"""

import queue
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetSpec,
    ConfigurableResource,
    EnvVar,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableColumnDep,
    TableColumnLineage,
    TableSchema,
    multi_asset,
    multi_asset_check,
)

from .client import FloeDbtClient
from .errors import DBTConfigurationError, DBTExecutionError, FloeDbtError
from .models import DBTRunResult, NodeFinishedEvent
from .selection import ASSET_TYPES, DbtManifest

__all__ = [
    "FloeDbtResource",
    "floe_dbt_assets",
    "floe_dbt_source_specs",
    "floe_dbt_source_freshness_checks",
    "FloeDbtManifest",
    "FloeDbtTranslator",
]

OK_STATUSES = {"success", "pass", "warn"}


_TAG = re.compile(r"[A-Za-z0-9_.-]{1,63}")


def _owner(value: Any) -> str | None:
    """An owner as Dagster takes it: an email, else ``team:NAME``."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    return value if "@" in value or value.startswith("team:") else f"team:{value}"


class FloeDbtTranslator:
    """How a dbt node (its manifest.json entry, ``dbt_resource_props``)
    becomes a Dagster asset: the method names of dagster-dbt's
    ``DagsterDbtTranslator``. Subclass it and override what you want changed;
    pass an instance as ``translator=`` to ``floe_dbt_assets`` and
    ``floe_dbt_source_specs`` (the same one to both, so dependencies on
    sources keep their keys)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        """``[name]`` for a model, seed or snapshot; ``[source_name, name]``
        for a source."""
        if dbt_resource_props.get("resource_type") == "source":
            return AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return AssetKey([dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """The folder under models/ (fqn[1]) or the package name; a source's
        source name."""
        if dbt_resource_props.get("resource_type") == "source":
            return dbt_resource_props.get("source_name")
        return _group(dbt_resource_props)

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """The node's dbt description."""
        return dbt_resource_props.get("description") or None

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        """The unique id, resource type and relation (``dagster/relation_identifier``)."""
        meta: dict[str, Any] = {"dbt_unique_id": dbt_resource_props["unique_id"]}
        if dbt_resource_props.get("resource_type") != "source":
            meta["dbt_resource_type"] = dbt_resource_props["resource_type"]
        relation = _relation(dbt_resource_props)
        if relation:
            meta["dagster/relation_identifier"] = relation
        return meta

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        """dbt's tags as Dagster tags (``{tag: ""}``); a tag Dagster cannot
        take as a key is left out."""
        tags = dbt_resource_props.get("tags") or []
        return {t: "" for t in tags if isinstance(t, str) and _TAG.fullmatch(t)}

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        """``meta.owner`` (a string or a list; a name becomes ``team:NAME``);
        None lets ``floe_dbt_assets`` take the owner of the node's dbt group."""
        meta = {
            **(dbt_resource_props.get("meta") or {}),
            **((dbt_resource_props.get("config") or {}).get("meta") or {}),
        }
        raw = meta.get("owner")
        values = raw if isinstance(raw, list) else [raw]
        owners = [o for o in (_owner(v) for v in values) if o]
        return owners or None

    def get_code_version(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """The manifest's checksum of the node's file."""
        return (dbt_resource_props.get("checksum") or {}).get("checksum") or None


def _relation(props: Mapping[str, Any]) -> str | None:
    """``database.schema.alias`` (a source: ``identifier``), as OpenLineage and
    the agent's node facts name it."""
    if props.get("resource_type") == "source":
        table = props.get("identifier") or props.get("name")
    else:
        table = props.get("alias") or props.get("name")
    if not props.get("schema") or not table:
        return None
    return ".".join(x for x in (props.get("database"), props["schema"], table) if x)


class FloeDbtManifest(DbtManifest):
    """A dbt manifest (see :class:`floe_dbt.selection.DbtManifest`: nodes,
    selection) with the asset keys and specs its translator gives."""

    def __init__(
        self,
        manifest: dict[str, Any] | str | Path,
        translator: FloeDbtTranslator | None = None,
    ):
        super().__init__(manifest)
        self.translator = translator or FloeDbtTranslator()
        self.groups: dict[str, dict[str, Any]] = self.raw.get("groups") or {}
        self._keys: dict[str, AssetKey] = {}

    def props(self, unique_id: str) -> dict[str, Any]:
        """A node's or source's manifest entry."""
        return self.sources[unique_id] if unique_id in self.sources else self.nodes[unique_id]

    def key(self, unique_id: str) -> AssetKey:
        """The asset key of a model, seed, snapshot or source (the translator's)."""
        if unique_id not in self._keys:
            self._keys[unique_id] = self.translator.get_asset_key(self.props(unique_id))
        return self._keys[unique_id]

    def owners(self, unique_id: str) -> list[str] | None:
        """The translator's owners, else the owner of the node's dbt group."""
        props = self.props(unique_id)
        owners = self.translator.get_owners(props)
        if owners is not None:
            return list(owners)
        group = (props.get("config") or {}).get("group") or props.get("group")
        for g in self.groups.values():
            if g.get("name") == group:
                who = g.get("owner") or {}
                found = _owner(who.get("email")) or _owner(who.get("name"))
                return [found] if found else None
        return None

    def spec_args(self, unique_id: str) -> dict[str, Any]:
        """What the translator says about a node, as AssetSpec arguments."""
        props = self.props(unique_id)
        t = self.translator
        return {
            "key": self.key(unique_id),
            "description": t.get_description(props),
            "group_name": t.get_group_name(props),
            "metadata": dict(t.get_metadata(props)),
            "tags": dict(t.get_tags(props)),
            "owners": self.owners(unique_id),
            "code_version": t.get_code_version(props),
        }


def _group(node: Mapping[str, Any]) -> str:
    """The folder under models/ (fqn[1]) or the package name, as a group name."""
    fqn = node.get("fqn") or ["dbt"]
    return fqn[1] if len(fqn) > 2 else fqn[0]


def floe_dbt_source_specs(
    manifest: dict[str, Any] | str | Path, translator: FloeDbtTranslator | None = None
) -> list[AssetSpec]:
    """External assets for the project's dbt sources (add them to Definitions)."""
    m = FloeDbtManifest(manifest, translator)
    return [AssetSpec(**m.spec_args(u), kinds={"dbt"}) for u in sorted(m.sources)]


def _threshold(freshness: Mapping[str, Any] | None, which: str) -> str | None:
    """``warn_after``/``error_after`` as text (``"1 day"``), or None when unset."""
    t = (freshness or {}).get(which) or {}
    if t.get("count") is None or not t.get("period"):
        return None
    return f"{t['count']} {t['period']}"


def _source_freshness(props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A source's freshness config (``config.freshness`` first), when it sets
    a threshold."""
    for f in ((props.get("config") or {}).get("freshness"), props.get("freshness")):
        if _threshold(f, "warn_after") or _threshold(f, "error_after"):
            return f
    return None


def floe_dbt_source_freshness_checks(
    *,
    manifest: dict[str, Any] | str | Path,
    translator: FloeDbtTranslator | None = None,
    name: str = "floe_dbt_source_freshness",
) -> Any:
    """dbt source freshness as asset checks: one check ``freshness`` on each
    source asset whose dbt freshness sets ``warn_after`` or ``error_after``
    (keys from ``translator``, the same one as ``floe_dbt_source_specs``'s).
    Running them runs ``dbt source freshness`` for the selected sources through
    the agent (resource ``floe_dbt``): a fresh source passes; past
    ``warn_after`` the check fails with severity WARN, past ``error_after`` (or
    when dbt could not check it) with severity ERROR."""
    m = FloeDbtManifest(manifest, translator)
    ids = [u for u in sorted(m.sources) if _source_freshness(m.sources[u])]
    specs = []
    for u in ids:
        f = _source_freshness(m.sources[u])
        limits = ", ".join(
            f"{w} {_threshold(f, w)}" for w in ("warn_after", "error_after") if _threshold(f, w)
        )
        specs.append(
            AssetCheckSpec(name="freshness", asset=m.key(u), description=f"dbt source freshness: {limits}")
        )
    by_key = {m.key(u): u for u in ids}

    @multi_asset_check(specs=specs, name=name, can_subset=True)
    def freshness_checks(context, floe_dbt: FloeDbtResource) -> Iterator[AssetCheckResult]:
        chosen = [by_key[k.asset_key] for k in context.selected_asset_check_keys if k.asset_key in by_key]
        yield from floe_dbt.source_freshness(context, m, sorted(chosen))

    return freshness_checks


def floe_dbt_assets(
    *,
    manifest: dict[str, Any] | str | Path,
    select: str | None = None,
    exclude: str | None = None,
    name: str | None = None,
    group_name: str | None = None,
    translator: FloeDbtTranslator | None = None,
    partitions_def: Any = None,
) -> Callable[[Callable[..., Any]], Any]:
    """A decorator building a Dagster multi-asset from a dbt manifest: one
    asset per selected model (seed, snapshot), keys, groups, owners, tags,
    metadata and code versions from ``translator`` (default
    :class:`FloeDbtTranslator`), dependencies from the manifest, each dbt test
    an asset check on the model it tests. The function it decorates
    materializes them, usually ``yield from floe_dbt.build(context)``.
    ``group_name`` puts every asset in one group. With ``partitions_def``
    (e.g. ``DailyPartitionsDefinition``) every asset is partitioned; pass the
    partition's window to dbt as vars, as dagster-dbt documents::

        window = context.partition_time_window
        yield from floe_dbt.build(context, vars={"min_date": window.start.isoformat(),
                                                 "max_date": window.end.isoformat()})
    """
    m = FloeDbtManifest(manifest, translator)
    ids = m.select(select, exclude)
    id_set = set(ids)
    specs = []
    for u in ids:
        args = m.spec_args(u)
        if group_name:
            args["group_name"] = group_name
        specs.append(
            AssetSpec(**args, deps=[m.key(d) for d in m.deps(u)], kinds={"dbt"}, skippable=True)
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
            partitions_def=partitions_def,
            op_tags={"floe_dbt/select": select or "", "floe_dbt/exclude": exclude or ""},
        )(fn)
        _MANIFESTS[name or fn.__name__] = m
        return decorated

    return wrap


def facts_metadata(m: FloeDbtManifest, facts: Mapping[str, Any] | None) -> dict[str, Any]:
    """A node's facts (the run result's ``metadata.nodes`` entry) as Dagster's
    table metadata: ``dagster/row_count`` (the counted rows, else the rows the
    adapter reported), ``dagster/column_schema``, ``dagster/column_lineage``
    (upstream columns by asset key) and ``dagster/relation_identifier``."""
    if not facts:
        return {}
    out: dict[str, Any] = {}
    rows = facts.get("row_count")
    if rows is None:
        rows = facts.get("rows_affected")
    if isinstance(rows, int):
        out["dagster/row_count"] = MetadataValue.int(rows)
    if facts.get("relation"):
        out["dagster/relation_identifier"] = facts["relation"]
    columns = facts.get("columns") or []
    if columns:
        out["dagster/column_schema"] = MetadataValue.table_schema(
            TableSchema(
                columns=[
                    TableColumn(
                        name=c["name"],
                        type=c.get("data_type") or "unknown",
                        description=c.get("description"),
                    )
                    for c in columns
                ]
            )
        )
    lineage = facts.get("column_lineage")
    if isinstance(lineage, dict):
        deps: dict[str, list[TableColumnDep]] = {}
        for column, refs in lineage.items():
            known = [r for r in refs if r["unique_id"] in m.nodes or r["unique_id"] in m.sources]
            deps[column] = [
                TableColumnDep(asset_key=m.key(r["unique_id"]), column_name=r["column"])
                for r in known
            ]
        out["dagster/column_lineage"] = MetadataValue.column_lineage(
            TableColumnLineage(deps_by_column=deps)
        )
    return out


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
    # Reuse what is unchanged since its last build (--skip-unchanged): reused
    # assets are reported as observations, not new materializations.
    skip_unchanged: bool = False

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

    def source_freshness(
        self, context: Any, m: FloeDbtManifest, unique_ids: list[str]
    ) -> Iterator[AssetCheckResult]:
        """``dbt source freshness`` of these sources through the agent, as one
        ``freshness`` check result per source (see
        :func:`floe_dbt_source_freshness_checks`)."""
        select = [f"source:{m.sources[u]['source_name']}.{m.sources[u]['name']}" for u in unique_ids]
        with self.get_client() as client:
            try:
                result: Any = client.run(
                    "source-freshness",
                    self.project_dir,
                    profiles_dir=self.profiles_dir,
                    target=self.target,
                    select=select,
                    runtime=self.runtime,
                    timeout=self.timeout_seconds,
                )
            except DBTExecutionError as e:
                # stale sources fail the command; their statuses are the answer
                if not isinstance(e.result, DBTRunResult):
                    raise
                result = e.result
        context.log.info(f"floe-dbt source freshness: {' '.join(select)}")
        reported = {s["unique_id"]: s for s in result.metadata.get("sources") or []}
        for u in unique_ids:
            f = _source_freshness(m.sources[u])
            row = reported.get(u)
            status = row["status"] if row else "not reported"
            meta: dict[str, Any] = {"dbt/unique_id": u, "dbt/status": status}
            for which in ("warn_after", "error_after"):
                if _threshold(f, which):
                    meta[f"dbt/{which}"] = _threshold(f, which)
            if row and row.get("max_loaded_at"):
                meta["dbt/max_loaded_at"] = row["max_loaded_at"]
            if row and row.get("max_loaded_at_time_ago_in_s") is not None:
                meta["dbt/max_loaded_at_time_ago_in_s"] = MetadataValue.float(
                    float(row["max_loaded_at_time_ago_in_s"])
                )
            if row and row.get("error"):
                meta["dbt/message"] = row["error"]
            yield AssetCheckResult(
                asset_key=m.key(u),
                check_name="freshness",
                passed=status == "pass",
                severity=AssetCheckSeverity.WARN if status == "warn" else AssetCheckSeverity.ERROR,
                metadata=meta,
            )

    def build(
        self,
        context: AssetExecutionContext,
        command: str = "build",
        *,
        node_facts: bool = True,
        vars: dict[str, Any] | None = None,
        **options: Any,
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        """Run the selected assets (and their tests) through the agent; yield a
        materialization per node that succeeded and a check result per test.
        With ``node_facts`` (the default) they come once the job ends, each
        materialization with the agent's facts of its node (row count, column
        schema, column lineage, relation); without, each as its node finishes.
        A failing model fails the step once the job ends (its downstream models
        are skipped by dbt and not materialized). ``vars`` reach dbt as
        ``--vars`` (a partition's window, for instance); other keyword
        ``options`` are the job's fields (``full_refresh``, ``changed``,
        ``state``, ``threads``, ``fail_fast``...), as ``FloeDbtClient.submit``
        takes them."""
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
                **({"vars": vars} if vars else {}),
                # Sent only when asked: an older daemon refuses unknown fields.
                **{**({"skip_unchanged": True} if self.skip_unchanged else {}), **options},
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
            held: list[tuple[str, MaterializeResult | AssetCheckResult]] = []
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
                out: MaterializeResult | AssetCheckResult | None = None
                if ev.resource_type in ASSET_TYPES and ev.unique_id in selected:
                    if ev.status in OK_STATUSES:
                        out = MaterializeResult(asset_key=m.key(ev.unique_id), metadata=meta)
                    else:
                        failed.append(f"{ev.unique_id}: {ev.message or ev.status}")
                elif ev.resource_type == "test":
                    target = m.test_target(ev.unique_id)
                    if target is None:
                        continue
                    key = (m.key(target), node["name"])
                    if key in check_keys:
                        check_keys.discard(key)
                        out = AssetCheckResult(
                            asset_key=key[0],
                            check_name=key[1],
                            passed=ev.status in ("pass", "success"),
                            metadata={**meta, "dbt/message": ev.message or ""},
                        )
                if out is not None and node_facts:
                    held.append((ev.unique_id, out))
                elif out is not None:
                    yield out
            t.join()
            # A failed job's result still says what it reused.
            result = done.get("result") or getattr(done.get("error"), "result", None)
            yield from _reused_events(context, m, job.id, result, selected, check_keys)
        err = done.get("error")
        result = done.get("result") if err is None else getattr(err, "result", None)
        facts = result.metadata.get("nodes") if isinstance(result, DBTRunResult) else None
        for unique_id, out in held:
            if isinstance(out, MaterializeResult) and isinstance(facts, dict):
                extra = facts_metadata(m, facts.get(unique_id))
                out = MaterializeResult(
                    asset_key=out.asset_key, metadata={**(out.metadata or {}), **extra}
                )
            yield out
        if failed or err is not None:
            raise Failure(
                description=f"floe-dbt job {job.id} failed: {err or ''}",
                metadata={"failed_nodes": MetadataValue.text("\n".join(failed) or str(err))},
            )
