"""The request log of ``GET /_emulator/requests`` (spec §9.3): what each non-admin request did.

Entries get their sequence number when the request **finishes**, so a reader polling with
``since=<last seq seen>`` never misses a slow request that started earlier. The log keeps the most
recent ``capacity`` entries.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class LogEntry:
    """One finished request.

    Attributes:
        seq: 1-based, increasing in completion order (0 until recorded).
        time: arrival time on the emulator clock, ISO 8601 UTC.
        method: HTTP method.
        path: percent-decoded path.
        query: decoded query (``name=value`` joined with ``&``).
        prefer: the ``Prefer`` header(s) as sent, or ``None``.
        identity: the token's ``oid`` (unverified), or ``None``.
        app_id: the token's ``appid``/``azp``, or ``None``.
        entity_set: the Web API entity set, or ``None``.
        status: response status (0 when the connection was dropped before any response).
        bytes: response body bytes actually sent.
        duration_ms: wall time from arrival to the last byte, in milliseconds.
        fault: the fault applied (``"rule 0: status 429"``, ``"throttled 0x80072322"``), or ``None``.
    """

    time: str
    method: str
    path: str
    query: str
    prefer: str | None
    identity: str | None
    app_id: str | None
    entity_set: str | None
    status: int
    bytes: int
    duration_ms: float
    fault: str | None
    seq: int = 0

    def to_json(self) -> dict[str, object]:
        return asdict(self)


class RequestLog:
    """Thread-safe bounded log of :class:`LogEntry`."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LogEntry] = deque(maxlen=capacity)
        self._last_seq = 0

    def record(self, entry: LogEntry) -> int:
        """Append ``entry`` with the next sequence number; returns that number."""
        with self._lock:
            self._last_seq += 1
            self._entries.append(replace(entry, seq=self._last_seq))
            return self._last_seq

    def since(self, seq: int, limit: int | None = None) -> list[LogEntry]:
        """Entries with a sequence number above ``seq``, oldest first, at most ``limit``."""
        with self._lock:
            found = [entry for entry in self._entries if entry.seq > seq]
        return found if limit is None else found[:limit]

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._last_seq

    def clear(self) -> None:
        """Forget every entry; numbering continues, so readers' ``since`` values stay valid."""
        with self._lock:
            self._entries.clear()
