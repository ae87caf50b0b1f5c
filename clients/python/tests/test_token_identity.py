"""The local daemon's generated token goes only to that daemon: a fake
listener on its port while it is down gets no Authorization header and the
client raises FloeDbtForbiddenError (E011) with a hint; the real daemon gets
the token; an explicit token is sent as given."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from conftest import Daemon

from floe_dbt import AsyncFloeDbtClient, FloeDbtClient
from floe_dbt.errors import FloeDbtForbiddenError

TOKEN = "g" * 64


class Fake:
    """A plain TCP server: records each request head, answers an empty list."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.heads: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(16384)
                    if not chunk:
                        break
                    data += chunk
                self.heads.append(data.decode("latin-1"))
                body = b'{"jobs":[]}'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
                    + body
                )

    def authorized(self) -> list[str]:
        return [h for h in self.heads if "authorization:" in h.lower()]

    def close(self) -> None:
        self.sock.close()


def _state(tmp_path: Path, pid: int | None, port: int) -> Path:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    token = state / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    if pid is not None:
        ident = state / "daemon.json"
        ident.write_text(f'{{"pid": {pid}, "port": {port}, "host": "127.0.0.1"}}\n')
        ident.chmod(0o600)
    return state


async def _async_jobs(url: str) -> object:
    async with AsyncFloeDbtClient(url, retries=0) as c:
        return await c.jobs()


@pytest.fixture
def implicit(monkeypatch):
    monkeypatch.delenv("FLOE_DBT_TOKEN", raising=False)
    monkeypatch.delenv("FLOE_DBT_TOKEN_FILE", raising=False)
    return monkeypatch


@pytest.mark.parametrize("who", ["nobody", "other", "dead", "other-port"])
def test_fake_listener_gets_no_token(implicit, tmp_path: Path, who: str):
    fake = Fake()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        if who == "dead":
            sleeper.kill()
            sleeper.wait()
        pid = {"nobody": None, "other": sleeper.pid, "dead": sleeper.pid}.get(who, os.getpid())
        port = fake.port + 1 if who == "other-port" else fake.port
        implicit.setenv("FLOE_STATE_DIR", str(_state(tmp_path, pid, port)))
        url = f"http://127.0.0.1:{fake.port}"
        with FloeDbtClient(url, retries=0) as c:
            with pytest.raises(FloeDbtForbiddenError) as e:
                c.jobs()
        assert e.value.code == "FLOE-DBT-E011"
        assert "Not sending the daemon's token" in e.value.message
        assert url in e.value.message
        reason = {
            "nobody": "daemon.json' is missing",
            "other": f"held by a process other than the daemon (pid {sleeper.pid})",
            "dead": f"pid {sleeper.pid} is not running, yet something listens",
            "other-port": f"listens on port {fake.port + 1}, not {fake.port}",
        }[who]
        assert reason in e.value.message
        assert e.value.hint and "FLOE_DBT_TOKEN" in e.value.hint
        # The asyncio client (the Airflow trigger's) refuses the same way.
        with pytest.raises(FloeDbtForbiddenError):
            asyncio.run(_async_jobs(url))
        assert fake.authorized() == []
        # The caller's own token is sent as given.
        with FloeDbtClient(url, token="explicit-token-0123456789", retries=0) as c:
            assert c.jobs() == []
        assert len(fake.authorized()) == 1
        assert "Bearer explicit-token-0123456789" in fake.authorized()[0]
        assert TOKEN not in "".join(fake.heads)
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
        fake.close()


def test_real_daemon_gets_its_token_then_a_fake_on_its_port_gets_nothing(
    implicit, tmp_path: Path
):
    root = tmp_path / "root"
    root.mkdir()
    d = Daemon(root, "t-" + "r" * 40).start()
    try:
        state = d.state_dir
        (state / "token").write_text(d.token + "\n")
        (state / "token").chmod(0o600)
        implicit.setenv("FLOE_STATE_DIR", str(state))
        with FloeDbtClient(d.url, retries=0) as c:
            assert c.token is None
            assert c.jobs() == []  # the daemon requires the token: it was sent
        port = d.port
    finally:
        d.stop(signal.SIGKILL)  # killed: daemon.json stays behind
    assert (state / "daemon.json").exists()
    fake = Fake(port)
    try:
        with FloeDbtClient(f"http://127.0.0.1:{port}", retries=0) as c:
            with pytest.raises(FloeDbtForbiddenError) as e:
                c.jobs()
        assert "is not running, yet something listens" in e.value.message
        assert fake.authorized() == []
    finally:
        fake.close()
