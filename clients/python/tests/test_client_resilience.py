"""Retries and the polling fallback, through a real loopback proxy in front of
the real daemon: the proxy answers the first requests with 503 (FLOE-DBT-E013)
and serves the events route as plain JSON (no event stream)."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import httpx
import pytest

from conftest import Daemon
from floe_dbt import FloeDbtClient
from floe_dbt.errors import DBTAdapterUnavailableError
from floe_dbt.models import DBTRunResult


class Proxy:
    """A tiny HTTP proxy with scripted faults."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.unavailable = 0  # answer this many requests with 503 E013 first
        self.adapter_503 = False  # answer every request with 503 E006
        self.seen: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body: bytes, ctype: str = "application/json"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _forward(self, method: str):
                proxy.seen.append(f"{method} {self.path}")
                if proxy.adapter_503:
                    body = {"code": "FLOE-DBT-E006", "message": "no adapter", "hint": "install it"}
                    return self._answer(503, json.dumps(body).encode())
                if proxy.unavailable > 0:
                    proxy.unavailable -= 1
                    body = {"code": "FLOE-DBT-E013", "message": "shutting down"}
                    return self._answer(503, json.dumps(body).encode())
                if self.path.endswith("/events"):
                    return self._answer(200, b'{"note": "no event stream here"}')
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("authorization", "content-type", "idempotency-key")}  # fmt: skip
                r = httpx.request(method, proxy.upstream + self.path, content=data,
                                  headers=headers, timeout=60)  # fmt: skip
                self._answer(r.status_code, r.content, r.headers.get("content-type", "application/json"))

            def do_GET(self):
                self._forward("GET")

            def do_POST(self):
                self._forward("POST")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(daemon: Daemon):
    p = Proxy(daemon.url)
    yield p
    p.close()


def test_503_unavailable_is_retried_and_wait_polls_without_a_stream(
    proxy: Proxy, daemon: Daemon, built, project: Path
):
    proxy.unavailable = 2
    with FloeDbtClient(proxy.url, token=daemon.token, backoff=0.01, poll_interval=0.2) as c:
        job = c.submit("compile", project, select="customers")
        assert proxy.seen[:3] == ["POST /v1/jobs"] * 3  # two 503s, then through
        result = c.wait(job.id, timeout=600)
    assert isinstance(result, DBTRunResult) and result.success
    # it asked for the stream once, then polled the job
    assert sum(s.endswith("/events") for s in proxy.seen) == 1
    assert sum(s == f"GET /v1/jobs/{job.id}" for s in proxy.seen) >= 1


def test_503_adapter_unavailable_is_not_retried(proxy: Proxy, daemon: Daemon, project: Path):
    proxy.adapter_503 = True
    with FloeDbtClient(proxy.url, token=daemon.token, backoff=0.01) as c:
        with pytest.raises(DBTAdapterUnavailableError) as e:
            c.jobs()
    assert e.value.hint == "install it"
    assert len(proxy.seen) == 1
