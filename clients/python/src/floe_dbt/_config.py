"""Where the agent is and which token to send: arguments, environment, token file."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import urlparse

from ._identity import check_identity
from .errors import FloeDbtForbiddenError

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
    """The caller's bearer token: the argument, ``FLOE_DBT_TOKEN`` or
    ``FLOE_DBT_TOKEN_FILE``; None when none is given (then, for a loopback
    URL, :func:`implicit_token` may supply the local daemon's)."""
    if token:
        return token.strip()
    env = os.environ.get("FLOE_DBT_TOKEN")
    if env:
        return env.strip()
    file = os.environ.get("FLOE_DBT_TOKEN_FILE")
    if file:
        return Path(file).read_text(encoding="utf-8").strip()
    return None


def implicit_token(url: str) -> str | None:
    """The token the local daemon generated, ``<state dir>/token``, for a
    loopback URL only and only when the daemon that wrote it is the one that
    listens there (see ``_identity``); else None (no token file, or nothing
    listens). Raises :class:`FloeDbtForbiddenError` when something else
    holds the port."""
    if not is_loopback(url):
        return None
    state = state_dir()
    path = state / "token"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not text:
        return None
    verdict = check_identity(state, url)
    if verdict == "ok":
        return text
    if verdict == "down":
        return None
    raise FloeDbtForbiddenError(
        f"Not sending the daemon's token ('{path}') to {url}: {verdict}",
        hint=(
            "start the daemon with 'floe-dbt serve' (or check what listens on that port); "
            "to send a token anyway, pass token= or set FLOE_DBT_TOKEN"
        ),
    )
