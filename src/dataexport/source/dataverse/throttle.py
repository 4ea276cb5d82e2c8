"""The budget of one organization identity, shared by every worker (thread) using it (DES §7.7, R8, R9).

Before each request a worker takes a :meth:`ThrottleGate.slot`, which waits

1. while the identity is paused by a 429's ``Retry-After`` (every worker of the identity waits);
2. while the sliding window holds its limit of requests or of server time (6,000 requests and 1,200 s per
   300 s by default), or while a shared :class:`BudgetLedger` (the control database, for several
   processes) says to wait;
3. for a concurrency slot: 8 by default, halved on each 429 (min 1), one slot back per minute without a
   429, never above the configured number.

Time is injected (``clock`` in seconds, ``sleep``), so tests run throttling without waiting.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol

from dataexport.source.dataverse.config import ThrottleSettings

_CONCURRENCY_RECHECK_S = 0.5


class BudgetLedger(Protocol):
    """A request budget shared by processes (e.g. the control database's throttle table, bound to limits)."""

    def reserve(self, identity: str) -> timedelta:
        """Count one request and return zero, or count nothing and return how long to wait."""
        ...

    def pause(self, identity: str, until: datetime) -> None:
        """Pause every worker of ``identity`` until ``until``; never shortens a pause."""
        ...


class ThrottleGate:
    """Waits, pauses and concurrency for one identity. Thread-safe; share one per identity per process."""

    def __init__(
        self,
        identity: str,
        settings: ThrottleSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ledger: BudgetLedger | None = None,
    ) -> None:
        self.identity = identity
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._ledger = ledger
        self._lock = threading.Condition()
        self._paused_until = 0.0
        self._requests: deque[float] = deque()
        self._server_time: deque[tuple[float, float]] = deque()
        self._server_total = 0.0
        self._limit = settings.concurrency
        self._limit_since = clock()
        self._in_flight = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Wait for the budget and a concurrency slot; the slot is held for the block."""
        self._wait_for_budget()
        self._acquire()
        try:
            yield
        finally:
            self._release()

    def throttled(self, delay: float) -> None:
        """A 429 told the identity to wait ``delay`` seconds: pause every worker and halve concurrency."""
        with self._lock:
            now = self._clock()
            self._paused_until = max(self._paused_until, now + delay)
            self._limit = max(1, self._effective_limit(now) // 2)
            self._limit_since = now
        if self._ledger is not None:
            self._ledger.pause(self.identity, self._wall_clock() + timedelta(seconds=delay))

    def add_server_time(self, seconds: float) -> None:
        """Count a request's duration against the window's server-time budget."""
        with self._lock:
            self._server_time.append((self._clock(), seconds))
            self._server_total += seconds

    @property
    def concurrency(self) -> int:
        """The current concurrency limit (after any regrowth)."""
        with self._lock:
            return self._effective_limit(self._clock())

    @property
    def paused_for(self) -> float:
        """Seconds left in the current pause (0 when not paused)."""
        with self._lock:
            return max(0.0, self._paused_until - self._clock())

    def _wait_for_budget(self) -> None:
        while True:
            wait = self._reserve_locally()
            if wait <= 0 and self._ledger is not None:
                wait = self._ledger.reserve(self.identity).total_seconds()
            if wait <= 0:
                return
            self._sleep(wait)

    def _reserve_locally(self) -> float:
        """Zero after counting one request, else the seconds to wait before asking again."""
        with self._lock:
            now = self._clock()
            if self._paused_until > now:
                return self._paused_until - now
            self._forget_before(now - self._settings.window)
            if len(self._requests) >= self._settings.requests:
                return self._requests[0] + self._settings.window - now
            if self._server_time and self._server_total >= self._settings.server_seconds:
                return self._server_time[0][0] + self._settings.window - now
            self._requests.append(now)
            return 0.0

    def _forget_before(self, horizon: float) -> None:
        while self._requests and self._requests[0] <= horizon:
            self._requests.popleft()
        while self._server_time and self._server_time[0][0] <= horizon:
            self._server_total -= self._server_time.popleft()[1]

    def _acquire(self) -> None:
        with self._lock:
            while self._in_flight >= self._effective_limit(self._clock()):
                self._lock.wait(_CONCURRENCY_RECHECK_S)
            self._in_flight += 1

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._lock.notify()

    def _effective_limit(self, now: float) -> int:
        """The limit with one slot regained per ``regain_after`` seconds since the last change (lock held)."""
        regained = int((now - self._limit_since) // self._settings.regain_after)
        if regained > 0 and self._limit < self._settings.concurrency:
            self._limit = min(self._settings.concurrency, self._limit + regained)
            self._limit_since += regained * self._settings.regain_after
        return self._limit
