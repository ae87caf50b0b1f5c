"""Airflow integration (``pip install floe-dbt[airflow]``).

``FloeDbtOperator`` submits a dbt command to the floe-dbt agent, waits for it
(in the worker, or with ``deferrable=True`` in the triggerer through
``FloeDbtJobTrigger`` so no worker slot is held), pushes the run result to
XCom (``return_value``, a dict that loads as ``DBTRunResult``), fails the task
with the agent's error code and hint, and cancels the agent job when the task
is killed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

try:  # Airflow 3
    from airflow.sdk import BaseOperator
except ImportError:  # Airflow 2
    from airflow.models import BaseOperator  # type: ignore[no-redef]
from airflow.exceptions import AirflowException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from .client import AsyncFloeDbtClient, FloeDbtClient
from .errors import FloeDbtError, error_from_body

__all__ = ["FloeDbtOperator", "FloeDbtJobTrigger", "FloeDbtTaskError"]


class FloeDbtTaskError(AirflowException):
    """The agent's job failed: ``code`` and ``hint`` as the agent sent them."""

    def __init__(self, err: FloeDbtError):
        self.code = err.code
        self.hint = err.hint
        self.agent_message = err.message
        super().__init__(str(err))


def _xcom(result: dict[str, Any]) -> dict[str, Any]:
    """A run result as XCom keeps it: without ``metadata.vars`` (a job's vars
    may carry values the DAG author passed in; XCom is stored in Airflow's
    database and shown in its UI)."""
    meta = result.get("metadata")
    if isinstance(meta, dict) and "vars" in meta:
        result = {**result, "metadata": {k: v for k, v in meta.items() if k != "vars"}}
    return result


class FloeDbtJobTrigger(BaseTrigger):
    """Waits in the triggerer for a floe-dbt job to end; fires one event:
    ``{"status": "succeeded", "job_id", "result"}`` or
    ``{"status": "error", "job_id", "error": {code, message, hint}}``.

    It carries no token (its arguments are stored in Airflow's database):
    the triggerer finds one as the client does (``FLOE_DBT_TOKEN``,
    ``FLOE_DBT_TOKEN_FILE``, or the local daemon's token file)."""

    def __init__(
        self,
        job_id: str,
        url: str | None = None,
        timeout: float | None = None,
        token: str | None = None,
    ):
        # ``token`` is accepted and ignored: triggers stored by an earlier
        # version carried one, and must still load after an upgrade.
        del token
        super().__init__()
        self.job_id = job_id
        self.url = url
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "floe_dbt.airflow.FloeDbtJobTrigger",
            {"job_id": self.job_id, "url": self.url, "timeout": self.timeout},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        async with AsyncFloeDbtClient(self.url) as client:
            try:
                result = await client.wait(self.job_id, timeout=self.timeout)
            except FloeDbtError as e:
                yield TriggerEvent({
                    "status": "error",
                    "job_id": self.job_id,
                    "error": {"code": e.code, "message": e.message, "hint": e.hint},
                })
                return
            yield TriggerEvent({
                "status": "succeeded",
                "job_id": self.job_id,
                "result": _xcom(result.model_dump(mode="json")),
            })


class FloeDbtOperator(BaseOperator):
    """Run a dbt command through the floe-dbt agent.

    ``command``: compile, run, test, seed, build, snapshot, ... or lint.
    ``project_dir``, ``profiles_dir``, ``target``, ``select``, ``exclude``,
    ``full_refresh``, ``vars`` (a mapping or YAML/JSON text, templated),
    ``threads``, ``fail_fast``, ``selector``, ``changed``, ``skip_unchanged``
    (reuse what is unchanged: the XCom result's ``metadata.rebuilt`` and
    ``metadata.reused`` say what was rebuilt and why, and what was reused),
    ``skip_stale_sources`` (leave out what is downstream of a stale source:
    ``metadata.skipped_stale``),
    ``timeout_seconds`` (the dbt call's deadline) and ``runtime`` as in
    ``floe-dbt submit``; ``url`` defaults to ``FLOE_DBT_URL``. The token
    comes from ``token``, else ``FLOE_DBT_TOKEN``/``FLOE_DBT_TOKEN_FILE`` or
    the local daemon's token file. With ``deferrable=True`` the triggerer
    resolves the token itself the same way (never from ``token``: a trigger's
    arguments are stored in Airflow's database), so ``token`` is refused
    there. The idempotency key is the task instance's (dag, task, run, try),
    so a retried submit of the same try never runs twice.
    """

    template_fields: Sequence[str] = (
        "project_dir",
        "profiles_dir",
        "target",
        "select",
        "exclude",
        "vars",
    )
    ui_color = "#ff694b"

    def __init__(
        self,
        *,
        command: str,
        project_dir: str,
        profiles_dir: str | None = None,
        target: str | None = None,
        select: str | list[str] | None = None,
        exclude: str | list[str] | None = None,
        full_refresh: bool = False,
        vars: dict[str, Any] | str | None = None,
        threads: int | None = None,
        fail_fast: bool = False,
        selector: str | None = None,
        changed: bool = False,
        skip_unchanged: bool = False,
        skip_stale_sources: bool = False,
        timeout_seconds: float | None = None,
        runtime: str | None = None,
        url: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if deferrable and token:
            raise ValueError(
                "FloeDbtOperator: token= cannot be used with deferrable=True "
                "(the trigger's arguments are stored in Airflow's database); "
                "give the triggerer FLOE_DBT_TOKEN or FLOE_DBT_TOKEN_FILE instead"
            )
        self.command = command
        self.project_dir = project_dir
        self.profiles_dir = profiles_dir
        self.target = target
        self.select = select
        self.exclude = exclude
        self.full_refresh = full_refresh
        self.vars = vars
        self.threads = threads
        self.fail_fast = fail_fast
        self.selector = selector
        self.changed = changed
        self.skip_unchanged = skip_unchanged
        self.skip_stale_sources = skip_stale_sources
        self.timeout_seconds = timeout_seconds
        self.runtime = runtime
        self.url = url
        self.token = token
        self.timeout = timeout
        self.deferrable = deferrable
        self.job_id: str | None = None

    def _key(self, context: Any) -> str | None:
        ti = context.get("ti") or context.get("task_instance")
        if ti is None:
            return None
        return f"airflow:{ti.dag_id}:{ti.task_id}:{ti.run_id}:{getattr(ti, 'try_number', 0)}"

    def execute(self, context: Any) -> Any:
        try:
            return self._execute(context)
        except FloeDbtError as e:
            raise FloeDbtTaskError(e) from None

    def _execute(self, context: Any) -> Any:
        with FloeDbtClient(self.url, token=self.token) as client:
            job = client.submit(
                self.command,
                self.project_dir,
                profiles_dir=self.profiles_dir,
                target=self.target,
                select=self.select,
                exclude=self.exclude,
                full_refresh=self.full_refresh,
                runtime=self.runtime,
                idempotency_key=self._key(context),
                vars=self.vars or None,
                threads=self.threads,
                fail_fast=self.fail_fast,
                selector=self.selector,
                changed=self.changed,
                # Sent only when asked: an older daemon refuses unknown fields.
                skip_unchanged=self.skip_unchanged or None,
                skip_stale_sources=self.skip_stale_sources or None,
                timeout_seconds=self.timeout_seconds,
            )
            self.job_id = job.id
            self.log.info("floe-dbt job %s: %s %s", job.id, self.command, self.project_dir)
            if self.deferrable:
                self.defer(
                    trigger=FloeDbtJobTrigger(job.id, url=client.url, timeout=self.timeout),
                    method_name="execute_complete",
                )
            result = client.wait(
                job.id,
                on_event=lambda e: self.log.info("%s", e.model_dump_json()),
                timeout=self.timeout,
            )
        return _xcom(result.model_dump(mode="json"))

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Resume after the trigger fired: the result, or the agent's error."""
        self.job_id = event.get("job_id")
        if event.get("status") != "succeeded":
            raise FloeDbtTaskError(error_from_body(event.get("error")))
        return _xcom(event["result"])

    def on_kill(self) -> None:
        """Cancel the agent job when Airflow kills the task."""
        if not self.job_id:
            return
        try:
            with FloeDbtClient(self.url, token=self.token, retries=1) as client:
                client.cancel(self.job_id)
            self.log.info("cancelled floe-dbt job %s", self.job_id)
        except FloeDbtError as e:
            self.log.warning("could not cancel floe-dbt job %s: %s", self.job_id, e)


# One task per dbt node, run by one agent job (its own module, re-exported).
from .task_group import FloeDbtTaskGroup  # noqa: E402

__all__ += ["FloeDbtTaskGroup"]
