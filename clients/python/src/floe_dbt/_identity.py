"""The local daemon's generated token goes only to the daemon that wrote it.

``floe-dbt serve`` records its pid and port in ``<state dir>/daemon.json``
(0600). The token in ``<state dir>/token`` is sent only when the URL's port
is the recorded one, the recorded pid is alive and that pid holds every
listening socket on the port (Linux: the LISTEN sockets of /proc/net/tcp{,6}
against the ``socket:[inode]`` links in /proc/<pid>/fd). Another user who
binds the port while the daemon is down gets no token. Where /proc cannot be
read the implicit token is refused: pass ``token=`` or set FLOE_DBT_TOKEN.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from urllib.parse import urlparse

__all__ = ["check_identity"]

OK = "ok"
DOWN = "down"


def _url_port(url: str) -> int | None:
    parsed = urlparse(url)
    try:
        if parsed.port is not None:
            return parsed.port
    except ValueError:
        return None
    return 443 if parsed.scheme == "https" else 80


def _read_identity(state: Path) -> dict | str:
    path = state / "daemon.json"
    try:
        st = os.lstat(path)
    except OSError:
        return f"'{path}' is missing: no daemon of this state directory is running"
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
        return f"'{path}' is not a regular file of this user"
    if st.st_mode & 0o022:
        return f"'{path}' is writable by other users"
    try:
        ident = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        ident = None
    if (
        isinstance(ident, dict)
        and isinstance(ident.get("pid"), int)
        and isinstance(ident.get("port"), int)
    ):
        return ident
    return f"'{path}' cannot be read as the daemon's pid and port"


def _listening_inodes(port: int) -> set[str] | None:
    inodes: set[str] = set()
    read = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        read += 1
        for line in lines:
            f = line.split()
            if len(f) < 10 or f[3] != "0A":  # 0A: LISTEN
                continue
            if int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f[9])
    return inodes if read else None


def _socket_inodes(pid: int) -> set[str] | str:
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except FileNotFoundError:
        return f"the daemon's pid {pid} is not running"
    except OSError as e:
        return f"the open files of pid {pid} cannot be read ({e.strerror})"
    out: set[str] = set()
    for name in names:
        try:
            link = os.readlink(f"{fd_dir}/{name}")
        except OSError:
            continue
        if link.startswith("socket:[") and link.endswith("]"):
            out.add(link[8:-1])
    return out


def check_identity(state: Path, url: str) -> str:
    """``"ok"`` (send the token), ``"down"`` (nothing listens on the port:
    send nothing), or why the token must not be sent."""
    port = _url_port(url)
    if port is None:
        return f"'{url}' has no valid port"
    ident = _read_identity(state)
    if isinstance(ident, str):
        return ident
    if ident["port"] != port:
        return (
            f"the daemon of this state directory (pid {ident['pid']}) listens on "
            f"port {ident['port']}, not {port}"
        )
    listening = _listening_inodes(port)
    if listening is None:
        return "/proc/net/tcp cannot be read on this system"
    if not listening:
        return DOWN
    held = _socket_inodes(ident["pid"])
    if isinstance(held, str):
        return f"{held}, yet something listens on port {port}"
    if not listening <= held:
        return f"port {port} is held by a process other than the daemon (pid {ident['pid']})"
    return OK
