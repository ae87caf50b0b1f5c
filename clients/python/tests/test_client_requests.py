"""The sync and async clients send the same requests: both build them with one
request builder (method, path, query, body, headers with the token and the
idempotency key). Checked on the wire, through a real loopback server that
records each request and answers ``{}`` (a job's answer then does not parse,
which these tests ignore: only the requests are compared)."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from typing import Any

import pytest

from floe_dbt import AsyncFloeDbtClient, FloeDbtClient

HEADERS = ("authorization", "idempotency-key", "content-type", "accept", "last-event-id",
           "user-agent")  # fmt: skip


class Recorder:
    """Records every request; answers 200 ``{}``."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _record(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rec.seen.append({
                    "method": method,
                    "path": self.path,
                    "body": json.loads(body) if body else None,
                    "headers": {h: self.headers.get(h) for h in HEADERS},
                })  # fmt: skip
                data = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._record("GET")

            def do_POST(self):
                self._record("POST")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    r = Recorder()
    yield r
    r.close()


SUBMIT = dict(
    command="build",
    project_dir="/p",
    profiles_dir="/p",
    target="dev",
    select=["a+", "b"],
    exclude="c",
    full_refresh=True,
    runtime="local",
    idempotency_key="key-1",
    vars={"x": 1},
    threads=2,
)


def _sync_calls(c: FloeDbtClient) -> None:
    for f in (
        lambda: c.submit(**SUBMIT),
        lambda: c.job("j1"),
        lambda: c.jobs(status="running"),
        lambda: c.cancel("j1"),
        lambda: list(c.events("j1", after=3)),
        lambda: c.artifact("j1", "manifest"),
        lambda: c.manifest("/p", "/p", "dev", "local"),
        lambda: c.run_results("/p"),
        lambda: c.runtime("local"),
        lambda: c.version(),
        lambda: c.healthy(),
    ):
        try:
            f()
        except Exception:
            pass  # the answer ({}) need not parse


async def _async_calls(c: AsyncFloeDbtClient) -> None:
    async def events() -> None:
        await c._follow("j1", 3, None, None)

    for f in (
        lambda: c.submit(**SUBMIT),
        lambda: c.job("j1"),
        lambda: c.jobs(status="running"),
        lambda: c.cancel("j1"),
        events,
        lambda: c.artifact("j1", "manifest"),
        lambda: c.manifest("/p", "/p", "dev", "local"),
        lambda: c.run_results("/p"),
        lambda: c.runtime("local"),
        lambda: c.version(),
        lambda: c.healthy(),
    ):
        try:
            await f()
        except Exception:
            pass


def test_sync_and_async_send_the_same_requests(recorder: Recorder):
    with FloeDbtClient(recorder.url, token="tok-123", retries=0) as c:
        _sync_calls(c)
    sync = list(recorder.seen)
    recorder.seen.clear()

    async def go() -> None:
        async with AsyncFloeDbtClient(recorder.url, token="tok-123", retries=0) as c:
            await _async_calls(c)

    asyncio.run(go())
    assert recorder.seen == sync
    paths = [f"{r['method']} {r['path'].split('?')[0]}" for r in sync]
    assert paths == [
        "POST /v1/jobs",
        "GET /v1/jobs/j1",
        "GET /v1/jobs",
        "POST /v1/jobs/j1/cancel",
        "GET /v1/jobs/j1/events",
        "GET /v1/jobs/j1/artifacts/manifest",
        "GET /v1/project/manifest",
        "GET /v1/project/run_results",
        "GET /v1/runtimes/local",
        "GET /v1/version",
        "GET /healthz",
    ]
    submit = sync[0]
    assert submit["headers"]["authorization"] == "Bearer tok-123"
    assert submit["headers"]["idempotency-key"] == "key-1"
    assert submit["body"] == {
        "command": "build",
        "project_dir": "/p",
        "profiles_dir": "/p",
        "target": "dev",
        "select": ["a+", "b"],
        "exclude": "c",
        "full_refresh": True,
        "runtime": "local",
        "vars": {"x": 1},
        "threads": 2,
    }
    assert sync[4]["headers"]["last-event-id"] == "3"
    assert sync[4]["headers"]["accept"] == "text/event-stream"
    assert sync[3]["headers"]["content-type"] == "application/json"
    assert all(r["headers"]["authorization"] == "Bearer tok-123" for r in sync[:-1])
    assert sync[-1]["headers"]["authorization"] is None


def test_a_generated_idempotency_key_is_new_per_submit(recorder: Recorder):
    args = {k: v for k, v in SUBMIT.items() if k != "idempotency_key"}
    with FloeDbtClient(recorder.url, token="t", retries=0) as c:
        for _ in range(2):
            try:
                c.submit(**args)
            except Exception:
                pass
    keys = [r["headers"]["idempotency-key"] for r in recorder.seen]
    assert len(keys) == 2 and all(keys) and keys[0] != keys[1]


def test_healthz_carries_no_token(recorder: Recorder):
    with FloeDbtClient(recorder.url, token="tok-123", retries=0) as c:
        assert c.healthy()
        c.version()
    health, version = recorder.seen
    assert health["path"] == "/healthz" and health["headers"]["authorization"] is None
    assert version["headers"]["authorization"] == "Bearer tok-123"
