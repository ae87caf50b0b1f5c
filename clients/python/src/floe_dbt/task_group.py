"""Airflow: ``FloeDbtTaskGroup`` (also importable from ``floe_dbt.airflow``),
one task per dbt model, seed and snapshot, rendered from the manifest, all run
by **one** agent job (one warm dbt process)::

    with DAG("jaffle", ...):
        FloeDbtTaskGroup(group_id="jaffle", manifest="jaffle/target/manifest.json",
                         project_dir="/srv/jaffle", select="+customers")

The group's first task (``submit``) submits one ``dbt build`` of the selected
nodes; each node's task then waits in the triggerer (deferrable, no worker
slot held) until the agent reports that node: it succeeds when the node and
its tests did, fails on a node error or a failed error-severity test, and is
skipped when dbt skipped the node (a node whose upstream task failed is
``upstream_failed`` by Airflow's own rules). Retrying a node's task re-runs
that node alone (``build --select <node>``, with its tests) through the agent.
Each task's outlet is an Airflow Asset for the node's table, named as
Airflow's provider URI normalizers and OpenLineage name it (``floe_dbt.lineage``):
``postgres://<host>:<port>/<database>/<schema>/<table>`` for Postgres, where
``asset_namespace="postgres://<host>:<port>"`` gives the host a manifest does
not hold; ``duckdb://<database>/<schema>/<table>`` for DuckDB. ``asset_uri``
replaces the naming, so other DAGs can be scheduled on a model.

The token: ``token``, else ``FLOE_DBT_TOKEN``/``FLOE_DBT_TOKEN_FILE`` or the
local daemon's token file, in the worker; the triggerer resolves its own and
never gets one through a trigger's (stored) arguments.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

try:  # Airflow 3
    from airflow.sdk import Asset, BaseOperator, TaskGroup
    from airflow.sdk.exceptions import AirflowSkipException
except ImportError:  # Airflow 2
    from airflow.datasets import Dataset as Asset  # type: ignore[no-redef]
    from airflow.exceptions import AirflowSkipException  # type: ignore[no-redef]
    from airflow.models import BaseOperator  # type: ignore[no-redef]
    from airflow.utils.task_group import TaskGroup  # type: ignore[no-redef]
from airflow.exceptions import AirflowException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from .client import AsyncFloeDbtClient, FloeDbtClient
from .errors import FloeDbtError
from .lineage import asset_uri as _lineage_asset_uri
from .models import NodeFinishedEvent
from .selection import DbtManifest

__all__ = ["FloeDbtTaskGroup", "FloeDbtNodeTrigger", "FloeDbtSubmitBuildOperator", "FloeDbtNodeOperator"]

FAILED = {"error", "fail", "runtime error"}


def _key(context: Any, what: str) -> str | None:
    ti = context.get("ti") or context.get("task_instance")
    if ti is None:
        return None
    return f"airflow:{ti.dag_id}:{ti.task_id}:{ti.run_id}:{getattr(ti, 'try_number', 0)}:{what}"


def _outcome(unique_id: str, seen: Mapping[str, tuple[str, str | None]], tests: Sequence[str], final: bool) -> dict[str, Any] | None:
    """A node's verdict from the statuses seen so far; None while undecided."""
    mine = seen.get(unique_id)
    if mine is None:
        return {"status": "skipped", "message": "dbt did not run this node"} if final else None
    status, message = mine
    if status in FAILED:
        return {"status": "failed", "message": f"{unique_id}: {message or status}"}
    if status == "skipped":
        return {"status": "skipped", "message": message or "dbt skipped this node"}
    failed = [f"{t}: {seen[t][1] or seen[t][0]}" for t in tests if t in seen and seen[t][0] in FAILED]
    if failed:
        return {"status": "failed", "message": "a test failed: " + "; ".join(failed)}
    if final or all(t in seen for t in tests):
        return {"status": "success", "message": status}
    return None


class FloeDbtNodeTrigger(BaseTrigger):
    """Follows an agent job's progress events until one node (and its tests)
    is reported; fires ``{"status": "success"|"failed"|"skipped", "job_id",
    "unique_id", "message"}``. It carries no token."""

    def __init__(
        self,
        job_id: str,
        unique_id: str,
        tests: list[str] | None = None,
        url: str | None = None,
        timeout: float | None = None,
    ):
        super().__init__()
        self.job_id = job_id
        self.unique_id = unique_id
        self.tests = list(tests or [])
        self.url = url
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "floe_dbt.task_group.FloeDbtNodeTrigger",
            {"job_id": self.job_id, "unique_id": self.unique_id, "tests": self.tests,
             "url": self.url, "timeout": self.timeout},
        )  # fmt: skip

    async def run(self) -> AsyncIterator[TriggerEvent]:
        seen: dict[str, tuple[str, str | None]] = {}
        decided = asyncio.Event()
        watched = {self.unique_id, *self.tests}

        def on_event(ev: Any) -> None:
            if isinstance(ev, NodeFinishedEvent) and ev.unique_id in watched:
                seen[ev.unique_id] = (ev.status, ev.message)
                if _outcome(self.unique_id, seen, self.tests, final=False) is not None:
                    decided.set()

        job_error: FloeDbtError | None = None
        async with AsyncFloeDbtClient(self.url) as client:
            waiter = asyncio.ensure_future(client.wait(self.job_id, on_event=on_event, timeout=self.timeout))
            flag = asyncio.ensure_future(decided.wait())
            await asyncio.wait({waiter, flag}, return_when=asyncio.FIRST_COMPLETED)
            if not waiter.done():
                waiter.cancel()
                with contextlib.suppress(BaseException):
                    await waiter
            else:
                flag.cancel()
                err = waiter.exception()
                if isinstance(err, FloeDbtError):
                    job_error = err
                elif err is not None:
                    raise err
        verdict = _outcome(self.unique_id, seen, self.tests, final=True)
        if self.unique_id not in seen and job_error is not None and job_error.result is None:
            # the job failed before running anything (compilation, configuration)
            verdict = {"status": "failed", "message": str(job_error)}
        assert verdict is not None
        yield TriggerEvent({**verdict, "job_id": self.job_id, "unique_id": self.unique_id})


class FloeDbtSubmitBuildOperator(BaseOperator):
    """Submits one ``dbt build`` of the group's nodes; returns the job id."""

    template_fields: Sequence[str] = ("project_dir", "profiles_dir", "target", "vars")
    ui_color = "#ff694b"

    def __init__(self, *, project_dir: str, select: list[str], profiles_dir: str | None = None,
                 target: str | None = None, runtime: str | None = None,
                 vars: dict[str, Any] | str | None = None, url: str | None = None,
                 token: str | None = None, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.project_dir = project_dir
        self.select = select
        self.profiles_dir = profiles_dir
        self.target = target
        self.runtime = runtime
        self.vars = vars
        self.url = url
        self.token = token

    def execute(self, context: Any) -> str:
        with FloeDbtClient(self.url, token=self.token) as client:
            job = client.submit("build", self.project_dir, profiles_dir=self.profiles_dir,
                                target=self.target, select=self.select, runtime=self.runtime,
                                idempotency_key=_key(context, "build"), vars=self.vars or None)  # fmt: skip
        self.log.info("floe-dbt job %s: build of %d nodes", job.id, len(self.select))
        return job.id


class FloeDbtNodeOperator(BaseOperator):
    """One dbt node of a :class:`FloeDbtTaskGroup`: waits (deferred) for the
    group's job to report the node; on a retry, runs the node alone."""

    template_fields: Sequence[str] = ("project_dir", "profiles_dir", "target", "vars")
    ui_color = "#ff694b"

    def __init__(self, *, unique_id: str, node_name: str, tests: list[str], submit_task_id: str,
                 project_dir: str, profiles_dir: str | None = None, target: str | None = None,
                 runtime: str | None = None, vars: dict[str, Any] | str | None = None,
                 url: str | None = None, token: str | None = None, timeout: float | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.unique_id = unique_id
        self.node_name = node_name
        self.tests = tests
        self.submit_task_id = submit_task_id
        self.project_dir = project_dir
        self.profiles_dir = profiles_dir
        self.target = target
        self.runtime = runtime
        self.vars = vars
        self.url = url
        self.token = token
        self.timeout = timeout

    def execute(self, context: Any) -> None:
        ti = context["ti"]
        if getattr(ti, "try_number", 1) > 1:
            try:
                with FloeDbtClient(self.url, token=self.token) as client:
                    job = client.submit("build", self.project_dir, profiles_dir=self.profiles_dir,
                                        target=self.target, select=[self.node_name],
                                        runtime=self.runtime, vars=self.vars or None,
                                        idempotency_key=_key(context, "retry"))  # fmt: skip
            except FloeDbtError as e:
                raise AirflowException(str(e)) from None
            job_id = job.id
            self.log.info("retry: floe-dbt job %s builds %s alone", job_id, self.unique_id)
        else:
            job_id = ti.xcom_pull(task_ids=self.submit_task_id)
            if not job_id:
                raise AirflowException(f"no floe-dbt job id from task '{self.submit_task_id}'")
        self.defer(
            trigger=FloeDbtNodeTrigger(job_id, self.unique_id, self.tests, url=self.url, timeout=self.timeout),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """The node's verdict: return on success, skip, or fail."""
        status = event.get("status")
        message = event.get("message") or ""
        self.log.info("floe-dbt job %s: %s %s %s", event.get("job_id"), self.unique_id, status, message)
        if status == "success":
            return {"job_id": event.get("job_id"), "unique_id": self.unique_id, "status": message}
        if status == "skipped":
            raise AirflowSkipException(f"{self.unique_id}: {message}")
        raise AirflowException(message or f"{self.unique_id} failed")


def default_asset_uri(manifest: Mapping[str, Any], node: Mapping[str, Any], namespace: str | None = None) -> str:
    """The node's Asset URI: its OpenLineage dataset (``namespace``, e.g.
    ``postgres://db.internal:5432``, and ``database.schema.table``) in the
    form Airflow's provider normalizers keep (``floe_dbt.lineage.asset_uri``)."""
    return _lineage_asset_uri(manifest, node, namespace)


class FloeDbtTaskGroup(TaskGroup):
    """One task per selected model, seed and snapshot (dbt's dependencies
    between them), after a ``submit`` task that starts one agent ``build``.

    ``manifest``: a manifest.json (path or dict); ``select``/``exclude``: dbt's
    node selection grammar, read from the manifest as ``floe_dbt_assets``
    reads it; ``project_dir``, ``profiles_dir``, ``target``, ``runtime``,
    ``vars`` (templated), ``url``, ``token`` as for ``FloeDbtOperator``;
    ``timeout``: seconds a node's task waits; ``asset_namespace``: the
    warehouse's OpenLineage namespace (``postgres://<host>:<port>``; required
    for host-based adapters: postgres, mysql, redshift, trino, snowflake);
    ``asset_uri(manifest, node)``: the Asset URI of a node instead (None: no
    outlets); ``node_kwargs``: more
    operator arguments for every node task (``retries``, ``retry_delay``...).
    """

    def __init__(self, *, manifest: dict[str, Any] | str | Path, project_dir: str,
                 group_id: str = "dbt", select: str | None = None, exclude: str | None = None,
                 profiles_dir: str | None = None, target: str | None = None,
                 runtime: str | None = None, vars: dict[str, Any] | str | None = None,
                 url: str | None = None, token: str | None = None, timeout: float | None = None,
                 asset_namespace: str | None = None,
                 asset_uri: Callable[[Mapping[str, Any], Mapping[str, Any]], str] | None = default_asset_uri,
                 node_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:  # fmt: skip
        m = DbtManifest(manifest)
        ids = m.select(select, exclude)
        # URIs first: a missing or bad asset_namespace fails before the group exists
        uris: dict[str, str] = {}
        for u in ids if asset_uri else []:
            if asset_uri is default_asset_uri:
                uris[u] = default_asset_uri(m.raw, m.nodes[u], asset_namespace)
            else:
                assert asset_uri is not None
                uris[u] = asset_uri(m.raw, m.nodes[u])
        super().__init__(group_id=group_id, **kwargs)
        chosen = set(ids)
        tests: dict[str, list[str]] = {u: [] for u in ids}
        for t, n in sorted(m.nodes.items()):
            if n.get("resource_type") == "test":
                target_id = m.test_target(t)
                if target_id in chosen:
                    tests[target_id].append(t)
        common = {"project_dir": project_dir, "profiles_dir": profiles_dir, "target": target,
                  "runtime": runtime, "vars": vars, "url": url, "token": token}  # fmt: skip
        self.node_tasks: dict[str, FloeDbtNodeOperator] = {}
        with self:
            submit = FloeDbtSubmitBuildOperator(
                task_id="submit", select=[m.nodes[u]["name"] for u in ids], **common
            )
            self.submit_task = submit
            for u in ids:
                node = m.nodes[u]
                outlets = [Asset(uris[u])] if u in uris else []
                self.node_tasks[u] = FloeDbtNodeOperator(
                    task_id=f"{node['resource_type']}_{node['name']}",
                    unique_id=u,
                    node_name=node["name"],
                    tests=tests[u],
                    submit_task_id=submit.task_id,
                    timeout=timeout,
                    outlets=outlets,
                    **common,
                    **(node_kwargs or {}),
                )
            for u in ids:
                ups = [d for d in m.deps(u) if d in chosen]
                for d in ups:
                    self.node_tasks[d] >> self.node_tasks[u]
                submit >> self.node_tasks[u]
