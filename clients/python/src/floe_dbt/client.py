"""HTTP clients of the floe-dbt daemon: ``FloeDbtClient`` and ``AsyncFloeDbtClient``.

Both submit jobs with an idempotency key (generated unless given, so a
retried submit never runs twice), follow a job's server-sent events until it
ends (reconnecting after a dropped connection, skipping events already seen,
falling back to polling where the stream is not offered), retry transient
connection errors and 503 answers with backoff, and raise the agent's errors
as the classes of :mod:`floe_dbt.errors`.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._config import implicit_token, resolve_token, resolve_url
from ._sse import SseEvent, SseParser, iter_sse
from .errors import (
    DBTExecutionTimeout,
    DBTJobCancelledError,
    FloeDbtConnectionError,
    FloeDbtError,
    error_from_body,
)
from .models import (
    DBTRunResult,
    Job,
    JobStatus,
    JobSummary,
    ProjectLintResult,
    parse_event,
)

__all__ = ["FloeDbtClient", "AsyncFloeDbtClient", "SseEvent", "SseParser", "iter_sse"]

EventHandler = Callable[[Any], Any]
Result = DBTRunResult | ProjectLintResult


# Job request fields beyond the positional ones, as the daemon names them
# (JobRequest in docs/openapi.json); None means "not sent".
JOB_OPTIONS = (
    "vars",
    "threads",
    "fail_fast",
    "selector",
    "indirect_selection",
    "changed",
    "skip_unchanged",
    "skip_stale_sources",
    "state",
    "state_from",
    "timeout_seconds",
)


def _project_query(
    project_dir: Any, profiles_dir: Any, target: str | None, runtime: str | None
) -> dict[str, str]:
    """The project's fields (only those given), as a query or a job body has them."""
    q = {"project_dir": str(project_dir)}
    if profiles_dir is not None:
        q["profiles_dir"] = str(profiles_dir)
    if target:
        q["target"] = target
    if runtime:
        q["runtime"] = runtime
    return q


def _outcome(job: Job) -> Result:
    """The job's result when it succeeded (or a lint that found errors); its
    error raised otherwise, with the job (and any partial result) attached."""
    if job.status == JobStatus.SUCCEEDED and job.result is not None:
        return job.result
    if job.status == JobStatus.FAILED and isinstance(job.result, ProjectLintResult):
        # Lint findings are the answer, not an error (DBTLintError is for a
        # lint process that failed, which leaves no result).
        return job.result
    if job.error is not None:
        raise error_from_body(job.error.model_dump(), job=job)
    if job.status == JobStatus.CANCELLED:
        raise DBTJobCancelledError(f"Job '{job.id}' was cancelled", job=job)
    raise FloeDbtError(f"Job '{job.id}' ended {job.status.value} without a result", job=job)


def _is_transient(resp: httpx.Response) -> bool:
    if resp.status_code == 429:
        return True
    if resp.status_code != 503:
        return False
    try:
        code = resp.json().get("code")
    except Exception:
        return True
    # E005/E006 are 503s too, but retrying does not install a binary or adapter.
    return code in (None, "FLOE-DBT-E013")


def _raise_for(resp: httpx.Response) -> None:
    if resp.status_code < 400:
        return
    try:
        body = resp.json()
    except Exception:
        body = resp.text
    raise error_from_body(body, status=resp.status_code)


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """httpx's default verifying TLS context (certifi, or SSL_CERT_FILE /
    SSL_CERT_DIR as set when the first client is made), made once per process:
    httpx builds a new one for every client (about 30 ms loading the CA
    bundle), which an Airflow task group's triggers paid once per node."""
    return httpx.create_ssl_context()


class _LocalDaemonAuth(httpx.Auth):
    """Adds the local daemon's generated token when that daemon is the one
    listening on the URL's port (``implicit_token``)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def auth_flow(self, request: httpx.Request):  # type: ignore[override]
        token = implicit_token(self.url)
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        yield request


@dataclass(frozen=True)
class _Call:
    """One request to the daemon, as both clients send it: built once by
    ``_Base`` (method, path, query, body, headers with the token and the
    idempotency key), so the sync and async clients cannot drift."""

    method: str
    path: str
    params: dict[str, str] | None = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: httpx timeout of this request (None: the client's).
    timeout: httpx.Timeout | float | None = None
    #: False: no token is sent or looked up (``/healthz``).
    auth: bool = True


class _Base:
    def __init__(
        self,
        url: str | None,
        token: str | None,
        timeout: float,
        retries: int,
        backoff: float,
        poll_interval: float,
    ) -> None:
        self.url = resolve_url(url)
        self.token = resolve_token(token, self.url)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.poll_interval = poll_interval
        self._headers = {"Accept": "application/json", "User-Agent": "floe-dbt-python/0.1.0"}
        # Without a token of the caller's, the local daemon's is looked up
        # before each request: it goes only to the daemon that wrote it.
        self._auth: httpx.Auth | None = None if self.token else _LocalDaemonAuth(self.url)

    # --- the one request builder ------------------------------------------
    def _request_of(self, call: _Call) -> httpx.Request:
        """The httpx request of a call: the client's base URL and headers, the
        call's own, and the caller's token (never on an ``auth=False`` call)."""
        headers: dict[str, str] = {}
        if call.auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(call.headers)
        http: httpx.Client | httpx.AsyncClient = self._http  # type: ignore[attr-defined]
        return http.build_request(
            call.method,
            call.path,
            params=call.params,
            json=call.json,
            headers=headers,
            timeout=call.timeout if call.timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )

    def _auth_of(self, call: _Call) -> httpx.Auth | None:
        return self._auth if call.auth else None

    # --- the calls ----------------------------------------------------------
    def _submit_call(
        self,
        command: str,
        project_dir: Any,
        profiles_dir: Any,
        target: str | None,
        select: str | list[str] | None,
        exclude: str | list[str] | None,
        full_refresh: bool,
        fix: bool,
        runtime: str | None,
        idempotency_key: str | None,
        options: dict[str, Any],
    ) -> _Call:
        """The POST of a job: its body (only the fields given) and idempotency key."""
        body: dict[str, Any] = {
            "command": command,
            **_project_query(project_dir, profiles_dir, target, runtime),
        }
        if select:
            body["select"] = select
        if exclude:
            body["exclude"] = exclude
        if full_refresh:
            body["full_refresh"] = True
        if fix:
            body["fix"] = True
        for name, value in (options or {}).items():
            if name not in JOB_OPTIONS:
                raise TypeError(
                    f"submit() got an unexpected keyword argument '{name}' "
                    f"(job options: {', '.join(JOB_OPTIONS)})"
                )
            if value is None or value is False:
                continue
            body[name] = str(value) if name == "state" else value
        key = idempotency_key or uuid.uuid4().hex
        return _Call("POST", "/v1/jobs", json=body, headers={"Idempotency-Key": key})

    @staticmethod
    def _job_call(job_id: str) -> _Call:
        return _Call("GET", f"/v1/jobs/{job_id}")

    @staticmethod
    def _jobs_call(params: dict[str, str]) -> _Call:
        return _Call("GET", "/v1/jobs", params=dict(params))

    @staticmethod
    def _cancel_call(job_id: str) -> _Call:
        return _Call(
            "POST", f"/v1/jobs/{job_id}/cancel", headers={"Content-Type": "application/json"}
        )

    def _events_call(self, job_id: str, after: int, read_timeout: float | None) -> _Call:
        headers = {"Accept": "text/event-stream"}
        if after >= 0:
            headers["Last-Event-ID"] = str(after)
        return _Call(
            "GET",
            f"/v1/jobs/{job_id}/events",
            headers=headers,
            timeout=httpx.Timeout(self.timeout, read=read_timeout),
        )

    @staticmethod
    def _artifact_call(job_id: str, name: str) -> _Call:
        return _Call("GET", f"/v1/jobs/{job_id}/artifacts/{name}")

    @staticmethod
    def _project_call(
        what: str, project_dir: Any, profiles_dir: Any, target: str | None, runtime: str | None
    ) -> _Call:
        return _Call(
            "GET",
            f"/v1/project/{what}",
            params=_project_query(project_dir, profiles_dir, target, runtime),
        )

    @staticmethod
    def _runtime_call(name: str | None = None) -> _Call:
        return _Call("GET", f"/v1/runtimes/{name}" if name else "/v1/runtimes")

    @staticmethod
    def _version_call() -> _Call:
        return _Call("GET", "/v1/version")

    @staticmethod
    def _health_call() -> _Call:
        # /healthz needs no token: none is looked up or sent.
        return _Call("GET", "/healthz", timeout=2.0, auth=False)

    @staticmethod
    def _jobs_params(status: str | JobStatus | None) -> dict[str, str]:
        """The first page's query of ``jobs()``."""
        first = {"limit": "1000"}
        return {**first, "status": JobStatus(status).value} if status else first

    def _delay(self, attempt: int, resp: httpx.Response | None = None) -> float:
        if resp is not None:
            after = resp.headers.get("retry-after")
            if after and after.isdigit():
                return min(float(after), 30.0)
        return min(self.backoff * (2**attempt), 5.0)

    def _unreachable(self, err: Exception) -> FloeDbtConnectionError:
        return FloeDbtConnectionError(
            f"Cannot reach the floe-dbt agent at {self.url}: {err}",
            hint="start it with 'floe-dbt serve --project-root DIR', or set FLOE_DBT_URL",
        )


class FloeDbtClient(_Base):
    """A blocking client of the floe-dbt daemon.

    ``url`` defaults to ``FLOE_DBT_URL``, else ``http://127.0.0.1:8686``;
    ``token`` to ``FLOE_DBT_TOKEN``, else the local daemon's token file.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        *,
        retries: int = 5,
        backoff: float = 0.25,
        poll_interval: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(url, token, timeout, retries, backoff, poll_interval)
        self._http = httpx.Client(
            base_url=self.url,
            headers=self._headers,
            auth=self._auth,
            timeout=timeout,
            transport=transport,
            verify=_tls_context(),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> FloeDbtClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, call: _Call) -> httpx.Response:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                resp = self._http.send(self._request_of(call), auth=self._auth_of(call))
            except httpx.TransportError as e:
                last = e
                if attempt < self.retries:
                    time.sleep(self._delay(attempt))
                continue
            if _is_transient(resp) and attempt < self.retries:
                time.sleep(self._delay(attempt, resp))
                continue
            _raise_for(resp)
            return resp
        raise self._unreachable(last or RuntimeError("no answer"))

    # --- jobs -----------------------------------------------------------------
    def submit(
        self,
        command: str,
        project_dir: Any,
        profiles_dir: Any = None,
        target: str | None = None,
        select: str | list[str] | None = None,
        exclude: str | list[str] | None = None,
        full_refresh: bool = False,
        fix: bool = False,
        runtime: str | None = None,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> Job:
        """Submit a job; the same ``idempotency_key`` returns the first job.

        ``options`` are the daemon's other job fields: ``vars`` (a mapping or
        YAML/JSON text), ``threads``, ``fail_fast``, ``selector``,
        ``indirect_selection``, ``changed``, ``skip_unchanged``, ``skip_stale_sources``, ``state``, ``state_from``
        (``"cloud"``), ``timeout_seconds``."""
        call = self._submit_call(
            command,
            project_dir,
            profiles_dir,
            target,
            select,
            exclude,
            full_refresh,
            fix,
            runtime,
            idempotency_key,
            options,
        )
        return Job.model_validate(self._request(call).json())

    def job(self, job_id: str) -> Job:
        """One job, as it is now."""
        return Job.model_validate(self._request(self._job_call(job_id)).json())

    def jobs(self, status: str | JobStatus | None = None) -> list[JobSummary]:
        """The daemon's jobs (newest first, every page), optionally one status."""
        params = self._jobs_params(status)
        out: list[JobSummary] = []
        while True:
            data = self._request(self._jobs_call(params)).json()
            out += [JobSummary.model_validate(j) for j in data["jobs"]]
            if not data.get("next_cursor"):
                return out
            params["cursor"] = data["next_cursor"]

    def cancel(self, job_id: str) -> Job:
        """Ask the daemon to cancel a job; returns the job as it is then."""
        return Job.model_validate(self._request(self._cancel_call(job_id)).json())

    def events(
        self, job_id: str, after: int = -1, read_timeout: float | None = None
    ) -> Iterator[tuple[int, Any]]:
        """The job's progress events ``(n, event)`` from its SSE stream, skipping
        numbers up to ``after``; ends when the stream closes (or raises
        ``httpx.ReadTimeout`` after ``read_timeout`` seconds without data)."""
        call = self._events_call(job_id, after, read_timeout)
        resp = self._http.send(self._request_of(call), auth=self._auth_of(call), stream=True)
        try:
            if resp.status_code >= 400:
                resp.read()
                _raise_for(resp)
            if "text/event-stream" not in resp.headers.get("content-type", ""):
                raise _NoStream()
            n = after
            for ev in iter_sse(resp.iter_lines()):
                n = int(ev.id) if ev.id and ev.id.isdigit() else n + 1
                if n <= after:
                    continue
                after = n
                yield n, parse_event(ev.data)
        finally:
            resp.close()

    def wait(
        self,
        job_id: str,
        on_event: EventHandler | None = None,
        timeout: float | None = None,
    ) -> Result:
        """Follow the job until it ends; return its result or raise its error.

        ``on_event`` is called once per progress event, in order, even across
        reconnects. ``timeout`` (seconds) raises ``DBTExecutionTimeout`` (the
        job goes on; cancel it if you want it stopped).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        last = -1
        stream = True
        failures = 0
        while True:
            if deadline is not None and time.monotonic() > deadline:
                raise DBTExecutionTimeout(
                    f"Waited {timeout} s for job '{job_id}'; it is still going",
                    hint="wait again, or cancel it",
                )
            try:
                before = last
                if stream:
                    left = None if deadline is None else max(0.1, deadline - time.monotonic())
                    for n, event in self.events(job_id, after=last, read_timeout=left):
                        last = n
                        failures = 0
                        if on_event:
                            on_event(event)
                        if deadline is not None and time.monotonic() > deadline:
                            break
                job = self.job(job_id)
                if job.done:
                    return _outcome(job)
                if not stream or last == before:
                    time.sleep(self.poll_interval)
            except _NoStream:
                stream = False
            except (httpx.TransportError, FloeDbtConnectionError):
                failures += 1
                time.sleep(self._delay(min(failures, 5)))

    def run(
        self,
        command: str,
        project_dir: Any,
        *,
        on_event: EventHandler | None = None,
        timeout: float | None = None,
        **kw: Any,
    ) -> Result:
        """Submit and wait: the job's result, or its error raised."""
        job = self.submit(command, project_dir, **kw)
        return self.wait(job.id, on_event=on_event, timeout=timeout)

    # --- artifacts and metadata ---------------------------------------------
    def artifact(self, job_id: str, name: str) -> Any:
        """A finished job's artifact: ``manifest``, ``run_results``, ``catalog``
        (parsed JSON) or ``dbt_log`` (text). HTTP 410 (pruned) raises
        ``FloeDbtArtifactPrunedError``."""
        resp = self._request(self._artifact_call(job_id, name))
        if name.startswith("dbt_log"):
            return resp.text
        return resp.json()

    def manifest(
        self,
        project_dir: Any,
        profiles_dir: Any = None,
        target: str | None = None,
        runtime: str | None = None,
    ) -> dict[str, Any]:
        """The project's current manifest.json, as the daemon sees it."""
        call = self._project_call("manifest", project_dir, profiles_dir, target, runtime)
        return self._request(call).json()

    def run_results(
        self,
        project_dir: Any,
        profiles_dir: Any = None,
        target: str | None = None,
        runtime: str | None = None,
    ) -> dict[str, Any]:
        """The project's latest run_results.json."""
        call = self._project_call("run_results", project_dir, profiles_dir, target, runtime)
        return self._request(call).json()

    def runtimes(self) -> list[dict[str, Any]]:
        """The runtimes, with availability, capabilities and metadata."""
        return self._request(self._runtime_call()).json()["runtimes"]

    def runtime(self, name: str) -> dict[str, Any]:
        """One runtime's availability, capabilities and metadata."""
        return self._request(self._runtime_call(name)).json()

    def version(self) -> dict[str, Any]:
        """The agent's version, floe API version and runtimes."""
        return self._request(self._version_call()).json()

    def healthy(self) -> bool:
        """True when the daemon answers ``/healthz`` (no retries)."""
        call = self._health_call()
        try:
            resp = self._http.send(self._request_of(call), auth=self._auth_of(call))
            return resp.status_code == 200
        except httpx.TransportError:
            return False


class _NoStream(Exception):
    """The events route did not answer with an event stream: poll instead."""


class AsyncFloeDbtClient(_Base):
    """The asyncio twin of :class:`FloeDbtClient` (same methods, awaitable)."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        *,
        retries: int = 5,
        backoff: float = 0.25,
        poll_interval: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(url, token, timeout, retries, backoff, poll_interval)
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers=self._headers,
            auth=self._auth,
            timeout=timeout,
            transport=transport,
            verify=_tls_context(),
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncFloeDbtClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request(self, call: _Call) -> httpx.Response:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                resp = await self._http.send(self._request_of(call), auth=self._auth_of(call))
            except httpx.TransportError as e:
                last = e
                if attempt < self.retries:
                    await asyncio.sleep(self._delay(attempt))
                continue
            if _is_transient(resp) and attempt < self.retries:
                await asyncio.sleep(self._delay(attempt, resp))
                continue
            _raise_for(resp)
            return resp
        raise self._unreachable(last or RuntimeError("no answer"))

    async def submit(
        self,
        command: str,
        project_dir: Any,
        profiles_dir: Any = None,
        target: str | None = None,
        select: str | list[str] | None = None,
        exclude: str | list[str] | None = None,
        full_refresh: bool = False,
        fix: bool = False,
        runtime: str | None = None,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> Job:
        """Submit a job; the same ``idempotency_key`` returns the first job.

        ``options`` are the daemon's other job fields: ``vars`` (a mapping or
        YAML/JSON text), ``threads``, ``fail_fast``, ``selector``,
        ``indirect_selection``, ``changed``, ``skip_unchanged``, ``skip_stale_sources``, ``state``, ``state_from``
        (``"cloud"``), ``timeout_seconds``."""
        call = self._submit_call(
            command,
            project_dir,
            profiles_dir,
            target,
            select,
            exclude,
            full_refresh,
            fix,
            runtime,
            idempotency_key,
            options,
        )
        return Job.model_validate((await self._request(call)).json())

    async def job(self, job_id: str) -> Job:
        """One job, as it is now."""
        return Job.model_validate((await self._request(self._job_call(job_id))).json())

    async def jobs(self, status: str | JobStatus | None = None) -> list[JobSummary]:
        """The daemon's jobs (newest first, every page), optionally one status."""
        params = self._jobs_params(status)
        out: list[JobSummary] = []
        while True:
            data = (await self._request(self._jobs_call(params))).json()
            out += [JobSummary.model_validate(j) for j in data["jobs"]]
            if not data.get("next_cursor"):
                return out
            params["cursor"] = data["next_cursor"]

    async def cancel(self, job_id: str) -> Job:
        """Ask the daemon to cancel a job; returns the job as it is then."""
        return Job.model_validate((await self._request(self._cancel_call(job_id))).json())

    async def wait(
        self,
        job_id: str,
        on_event: EventHandler | None = None,
        timeout: float | None = None,
    ) -> Result:
        """Follow the job until it ends; return its result or raise its error."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last = -1
        stream = True
        failures = 0
        while True:
            if deadline is not None and time.monotonic() > deadline:
                raise DBTExecutionTimeout(
                    f"Waited {timeout} s for job '{job_id}'; it is still going",
                    hint="wait again, or cancel it",
                )
            try:
                before = last
                if stream:
                    last = await self._follow(job_id, last, on_event, deadline)
                job = await self.job(job_id)
                if job.done:
                    return _outcome(job)
                if not stream or last == before:
                    await asyncio.sleep(self.poll_interval)
            except _NoStream:
                stream = False
            except (httpx.TransportError, FloeDbtConnectionError):
                failures += 1
                await asyncio.sleep(self._delay(min(failures, 5)))

    async def _follow(
        self,
        job_id: str,
        after: int,
        on_event: EventHandler | None,
        deadline: float | None,
    ) -> int:
        left = None if deadline is None else max(0.1, deadline - time.monotonic())
        call = self._events_call(job_id, after, left)
        resp = await self._http.send(
            self._request_of(call), auth=self._auth_of(call), stream=True
        )
        try:
            if resp.status_code >= 400:
                await resp.aread()
                _raise_for(resp)
            if "text/event-stream" not in resp.headers.get("content-type", ""):
                raise _NoStream()
            parser = SseParser()
            n = after
            async for raw in resp.aiter_lines():
                ev = parser.feed(raw)
                if ev is None:
                    continue
                n = int(ev.id) if ev.id and ev.id.isdigit() else n + 1
                if n <= after:
                    continue
                after = n
                if on_event:
                    out = on_event(parse_event(ev.data))
                    if asyncio.iscoroutine(out):
                        await out
                if deadline is not None and time.monotonic() > deadline:
                    break
        finally:
            await resp.aclose()
        return after

    async def run(
        self,
        command: str,
        project_dir: Any,
        *,
        on_event: EventHandler | None = None,
        timeout: float | None = None,
        **kw: Any,
    ) -> Result:
        """Submit and wait: the job's result, or its error raised."""
        job = await self.submit(command, project_dir, **kw)
        return await self.wait(job.id, on_event=on_event, timeout=timeout)

    async def artifact(self, job_id: str, name: str) -> Any:
        """A finished job's artifact (parsed JSON, or text for ``dbt_log``)."""
        resp = await self._request(self._artifact_call(job_id, name))
        return resp.text if name.startswith("dbt_log") else resp.json()

    async def manifest(
        self,
        project_dir: Any,
        profiles_dir: Any = None,
        target: str | None = None,
        runtime: str | None = None,
    ) -> dict[str, Any]:
        """The project's current manifest.json, as the daemon sees it."""
        call = self._project_call("manifest", project_dir, profiles_dir, target, runtime)
        return (await self._request(call)).json()

    async def run_results(
        self,
        project_dir: Any,
        profiles_dir: Any = None,
        target: str | None = None,
        runtime: str | None = None,
    ) -> dict[str, Any]:
        """The project's latest run_results.json."""
        call = self._project_call("run_results", project_dir, profiles_dir, target, runtime)
        return (await self._request(call)).json()

    async def runtimes(self) -> list[dict[str, Any]]:
        """The runtimes, with availability, capabilities and metadata."""
        return (await self._request(self._runtime_call())).json()["runtimes"]

    async def runtime(self, name: str) -> dict[str, Any]:
        """One runtime's availability, capabilities and metadata."""
        return (await self._request(self._runtime_call(name))).json()

    async def version(self) -> dict[str, Any]:
        """The agent's version, floe API version and runtimes."""
        return (await self._request(self._version_call())).json()

    async def healthy(self) -> bool:
        """True when the daemon answers ``/healthz`` (no retries)."""
        call = self._health_call()
        try:
            resp = await self._http.send(self._request_of(call), auth=self._auth_of(call))
            return resp.status_code == 200
        except httpx.TransportError:
            return False

