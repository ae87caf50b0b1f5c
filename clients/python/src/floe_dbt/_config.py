"""Where the agent is and which token to send: arguments, environment, token file."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_URL = "http://127.0.0.1:8686"


def resolve_url(url: str | None) -> str:
    """The daemon URL: the argument, else ``FLOE_DBT_URL``, else the local default."""
    chosen = url or os.environ.get("FLOE_DBT_URL") or DEFAULT_URL
    return chosen.rstrip("/")


def is_loopback(url: str) -> bool:
    """True when the URL's host is localhost or a loopback address."""
    host = (urlparse(url).hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def state_dir() -> Path:
    """The daemon's state directory: ``FLOE_STATE_DIR``, else ``~/.local/state/floe-dbt``."""
    env = os.environ.get("FLOE_STATE_DIR")
    if env:
        return Path(env)
    return Path.home() / ".local" / "state" / "floe-dbt"


def resolve_token(token: str | None, url: str) -> str | None:
    """The bearer token: the argument, ``FLOE_DBT_TOKEN``, ``FLOE_DBT_TOKEN_FILE``,
    or (for a loopback URL only) the token file the local daemon writes,
    ``<state dir>/token``."""
    if token:
        return token.strip()
    env = os.environ.get("FLOE_DBT_TOKEN")
    if env:
        return env.strip()
    file = os.environ.get("FLOE_DBT_TOKEN_FILE")
    if file:
        return Path(file).read_text(encoding="utf-8").strip()
    if is_loopback(url):
        path = state_dir() / "token"
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return text or None
    return None
