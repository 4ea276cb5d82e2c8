"""The admin surface's runtime state, shared by its routes and its middleware.

One :class:`AdminState` per emulator (``Emulator.admin``): the fault plan, the throttling simulation,
the request log, and the last rows of recently served pages (for the ``duplicate_row`` fault). None of
it persists: a restart, like ``POST /_emulator/reset``, starts clean.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from dataverse_emulator.admin.faults import FaultEngine
from dataverse_emulator.admin.requestlog import RequestLog
from dataverse_emulator.admin.throttling import Throttle


class PageMemory:
    """The last row of recently served pages, keyed by the ``$skiptoken`` of their nextLink (LRU)."""

    def __init__(self, capacity: int = 256) -> None:
        self._lock = threading.Lock()
        self._rows: OrderedDict[str, dict[str, object]] = OrderedDict()
        self._capacity = capacity

    def remember(self, skiptoken: str, row: dict[str, object]) -> None:
        with self._lock:
            self._rows[skiptoken] = row
            self._rows.move_to_end(skiptoken)
            while len(self._rows) > self._capacity:
                self._rows.popitem(last=False)

    def last_row_before(self, skiptoken: str) -> dict[str, object] | None:
        """The last row of the page whose nextLink carried ``skiptoken``, if remembered."""
        with self._lock:
            return self._rows.get(skiptoken)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


class AdminState:
    """Faults, throttling, request log and page memory of one emulator."""

    def __init__(self) -> None:
        self.faults = FaultEngine()
        self.throttle = Throttle()
        self.log = RequestLog()
        self.pages = PageMemory()

    def reset(self) -> None:
        """Clear faults, throttling (off), the log and the page memory."""
        self.faults.clear()
        self.throttle.reset()
        self.log.clear()
        self.pages.clear()
