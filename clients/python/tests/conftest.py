"""Fixtures: a real floe-dbt daemon on loopback (started with the repo's Deno
and main.ts), copies of the example project, real dbt-core underneath."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DENO = os.environ.get("FLOE_DENO") or str(REPO / ".tools" / "deno")
MAIN = REPO / "main.ts"
EXAMPLE = REPO / "examples" / "jaffle_duck"
SKIP = shutil.ignore_patterns("target", "logs", ".floe", "dbt_packages", "*.duckdb", "*.wal")


def copy_example(dest: Path) -> Path:
    """A fresh copy of examples/jaffle_duck at ``dest``."""
    shutil.copytree(EXAMPLE, dest, ignore=SKIP)
    return dest


class Daemon:
    """``floe-dbt serve`` as a child process; ``url`` once it listens."""

    def __init__(self, root: Path, token: str, port: int = 0, extra: list[str] | None = None):
        self.root = root
        self.token = token
        self.port = port
        self.extra = extra or []
        self.state_dir = root / "state"
        self.token_file = root / "token.txt"
        self.token_file.write_text(token + "\n", encoding="utf-8")
        self.proc: subprocess.Popen[str] | None = None
        self.log: list[str] = []
        self.url = ""

    def start(self, timeout: float = 120.0) -> Daemon:
        args = [
            DENO, "run", "--allow-all", "--quiet", str(MAIN), "serve",
            "--port", str(self.port),
            "--project-root", str(self.root),
            "--state-dir", str(self.state_dir),
            "--token-file", str(self.token_file),
            *self.extra,
        ]  # fmt: skip
        env = {**os.environ, "NO_COLOR": "1", "DENO_NO_UPDATE_CHECK": "1"}
        env.pop("FLOE_STATE_DIR", None)
        self.proc = subprocess.Popen(
            args,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        found = threading.Event()

        def pump(proc: subprocess.Popen[str]) -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                self.log.append(line)
                m = re.search(r"listening on (http://[^\s\"]+)", line)
                if m and not found.is_set():
                    self.url = m.group(1)
                    self.port = int(self.url.rsplit(":", 1)[1])
                    found.set()
            found.set()

        threading.Thread(target=pump, args=(self.proc,), daemon=True).start()
        found.wait(timeout)
        if not self.url:
            self.stop()
            raise RuntimeError("daemon did not start:\n" + "".join(self.log[-40:]))
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> None:
        """Signal the daemon's whole process group (it and its dbt workers)."""
        if not self.proc or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        # The dbt worker may sit in its own group: wait until the port frees.
        time.sleep(0.2)


@pytest.fixture(scope="session")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The daemon's project root, holding every project copy of the session."""
    return tmp_path_factory.mktemp("floe")


@pytest.fixture(scope="session")
def project(root: Path) -> Path:
    """The example project, under the daemon's root (built once by ``built``)."""
    return copy_example(root / "jaffle")


@pytest.fixture(scope="session")
def daemon(root: Path):
    """One daemon for the session, with a token."""
    d = Daemon(root, "t-" + secrets.token_hex(16)).start()
    yield d
    d.stop()


@pytest.fixture(scope="session")
def client(daemon: Daemon):
    """A client of the session's daemon."""
    from floe_dbt import FloeDbtClient

    with FloeDbtClient(daemon.url, token=daemon.token, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def built(client, project: Path):
    """The example project after one ``build`` (seeds, models, tests), with the
    progress events that build streamed."""
    events: list = []
    result = client.run("build", project, on_event=events.append, timeout=900)
    return result, events


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An AIRFLOW_HOME with a migrated SQLite database; the environment to use it."""
    home = tmp_path_factory.mktemp("airflow")
    (home / "dags").mkdir()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }
    airflow = Path(sys.executable).parent / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], env=env, check=True, capture_output=True)
    return env


@pytest.fixture(autouse=True)
def _seed_contract_agent(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The seeds' contract test (test_dbt_runtime_plugin.py, copied as written)
    builds its plugins with no arguments: point them at this checkout's CLI,
    never at a daemon that may happen to listen on the default port."""
    if request.path.name == "test_dbt_runtime_plugin.py":
        monkeypatch.setenv("FLOE_DBT_BIN", shlex.join([DENO, "run", "--allow-all", "--quiet", str(MAIN)]))
        monkeypatch.setenv("FLOE_DBT_URL", "http://127.0.0.1:9")
