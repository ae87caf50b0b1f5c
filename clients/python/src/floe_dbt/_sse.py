"""Server-sent events, parsed incrementally (the WHATWG format).

The daemon streams a job's progress as ``text/event-stream``; both clients
feed the response's lines to :class:`SseParser` (like httpx's ``_decoders``:
transport beside, format here). :mod:`floe_dbt.client` re-exports the names.
"""

from collections.abc import Iterable, Iterator

__all__ = ["SseEvent", "SseParser", "iter_sse"]


class SseEvent:
    """One server-sent event: ``id``, ``event`` and ``data``."""

    __slots__ = ("id", "event", "data")

    def __init__(self, id: str | None, event: str | None, data: str) -> None:
        self.id = id
        self.event = event
        self.data = data


class SseParser:
    """An incremental parser of server-sent events (the WHATWG format)."""

    def __init__(self) -> None:
        self._id: str | None = None
        self._type: str | None = None
        self._data: list[str] = []

    def feed(self, raw: str) -> SseEvent | None:
        """Take one line; return the event it completes, if any."""
        line = raw.rstrip("\r\n")
        if line == "":
            ev = SseEvent(self._id, self._type, "\n".join(self._data)) if self._data else None
            self._type, self._data = None, []
            return ev
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._type = value
        elif field == "id":
            self._id = value
        return None


def iter_sse(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Parse server-sent events from text lines."""
    parser = SseParser()
    for line in lines:
        ev = parser.feed(line)
        if ev is not None:
            yield ev
