"""A throwaway PostgreSQL cluster for tests, as tests/_postgres.ts starts one:
Debian's server binaries (installed by scripts/setup --tests), initdb in a temp
dir, started on a free loopback port with trust auth, stopped on ``stop()``.
As root the server runs as the ``postgres`` system user (PostgreSQL refuses
root)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _bin(name: str) -> str:
    for path in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        if os.path.isfile(path):
            return path
    found = shutil.which(name)
    if found:
        return found
    raise RuntimeError(f"PostgreSQL '{name}' not found: run scripts/setup --tests")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: list[str], as_postgres: bool) -> str:
    if as_postgres and os.getuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    out = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {out.stderr}{out.stdout}")
    return out.stdout.strip()


class Postgres:
    """A running cluster: ``port``, ``user`` (trust auth, no password)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="floe-pg-"))
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.user = "floe"
        self.port = _free_port()
        _run([_bin("initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust",
              "--no-sync", "-E", "UTF8"], True)  # fmt: skip
        _run([_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-o",
              f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
             True)  # fmt: skip

    def sql(self, query: str) -> str:
        """Run SQL with psql; the trimmed unaligned output."""
        return _run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                     "-d", "postgres", "-At", "-c", query], False)  # fmt: skip

    def stop(self) -> None:
        try:
            _run([_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"], True)
        except RuntimeError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
