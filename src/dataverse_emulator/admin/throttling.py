"""Service-protection limits simulation (spec §6.3): a sliding window per caller.

Per caller (the token's ``oid``) the emulator keeps the arrival times of admitted requests and the
completion time and duration of finished ones. On arrival, in this order:

1. concurrency: as many requests of the caller in flight as ``concurrent`` → ``0x80072326``,
   ``Retry-After: 1``;
2. request count: ``requests`` arrivals inside the last ``window_s`` → ``0x80072322``;
3. execution time: durations of requests finished inside the window add up to ``exec_ms`` or more →
   ``0x80072321``.

For 2 and 3 ``Retry-After`` is the whole number of seconds until the window admits the request,
at least 1. Rejected requests are not counted; "repeated violations lengthen Retry-After" is not
simulated. :func:`assess` is the pure decision, :class:`Throttle` keeps the windows (thread-safe).
Times are seconds on one time base chosen by the caller (the middleware uses the emulator clock
when it is frozen, wall time otherwise).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import asdict, dataclass, field

REQUESTS_CODE = "0x80072322"
EXECUTION_TIME_CODE = "0x80072321"
CONCURRENCY_CODE = "0x80072326"


@dataclass(frozen=True)
class ThrottleSettings:
    """``POST /_emulator/throttling`` body; the defaults are Dataverse's real limits."""

    enabled: bool = False
    requests: int = 6000
    window_s: float = 300.0
    exec_ms: int = 1_200_000
    concurrent: int = 52

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def limit_message(code: str, settings: ThrottleSettings) -> str:
    """The exact Dataverse message of a service-protection ``code`` for the configured limits."""
    window = f"{settings.window_s:g}"
    if code == REQUESTS_CODE:
        return f"Number of requests exceeded the limit of {settings.requests} over time window of {window} seconds."
    if code == EXECUTION_TIME_CODE:
        return (
            f"Combined execution time of incoming requests exceeded limit of {settings.exec_ms:,} milliseconds "
            f"over time window of {window} seconds. Decrease number of concurrent requests or reduce the "
            "duration of requests and try again later."
        )
    return f"Number of concurrent requests exceeded the limit of {settings.concurrent}."


@dataclass(frozen=True)
class Rejection:
    code: str
    message: str
    retry_after: int


@dataclass(frozen=True)
class Admission:
    """An admitted request and what is left of the caller's window (``x-ms-ratelimit-*`` headers)."""

    burst_remaining: int
    time_remaining_ms: int


@dataclass
class CallerWindow:
    """One caller's recent history: arrival times, ``(finish time, ms)`` pairs, requests in flight."""

    arrivals: deque[float] = field(default_factory=deque)
    executions: deque[tuple[float, float]] = field(default_factory=deque)
    in_flight: int = 0

    def forget_before(self, horizon: float) -> None:
        while self.arrivals and self.arrivals[0] <= horizon:
            self.arrivals.popleft()
        while self.executions and self.executions[0][0] <= horizon:
            self.executions.popleft()


def _seconds_until(moment: float, now: float) -> int:
    return max(1, math.ceil(moment - now))


def assess(window: CallerWindow, settings: ThrottleSettings, now: float) -> Admission | Rejection:
    """Admit or reject one arrival at ``now`` (``window`` must already forget what left the window)."""
    if window.in_flight >= settings.concurrent:
        return Rejection(CONCURRENCY_CODE, limit_message(CONCURRENCY_CODE, settings), 1)
    count = len(window.arrivals)
    if count >= settings.requests:
        frees_at = window.arrivals[count - settings.requests] + settings.window_s
        return Rejection(REQUESTS_CODE, limit_message(REQUESTS_CODE, settings), _seconds_until(frees_at, now))
    spent = sum(ms for _, ms in window.executions)
    if spent >= settings.exec_ms:
        for finished, ms in window.executions:
            spent -= ms
            if spent < settings.exec_ms:
                retry = _seconds_until(finished + settings.window_s, now)
                return Rejection(EXECUTION_TIME_CODE, limit_message(EXECUTION_TIME_CODE, settings), retry)
    return Admission(
        burst_remaining=max(0, settings.requests - count - 1),
        time_remaining_ms=max(0, math.floor(settings.exec_ms - spent)),
    )


class Throttle:
    """The simulation's state: settings and one :class:`CallerWindow` per caller."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings = ThrottleSettings()
        self._windows: dict[str, CallerWindow] = {}

    @property
    def settings(self) -> ThrottleSettings:
        with self._lock:
            return self._settings

    def configure(self, settings: ThrottleSettings) -> None:
        """Install new limits and start every window afresh."""
        with self._lock:
            self._settings = settings
            self._windows.clear()

    def reset(self) -> None:
        self.configure(ThrottleSettings())

    def admit(self, caller: str, now: float) -> Admission | Rejection | None:
        """Decide on an arrival; ``None`` when the simulation is off. An admission is in flight until
        :meth:`finish` is called for it."""
        with self._lock:
            settings = self._settings
            if not settings.enabled:
                return None
            window = self._windows.setdefault(caller, CallerWindow())
            window.forget_before(now - settings.window_s)
            outcome = assess(window, settings, now)
            if isinstance(outcome, Admission):
                window.arrivals.append(now)
                window.in_flight += 1
            return outcome

    def finish(self, caller: str, now: float, duration_ms: float) -> None:
        """Record the end of an admitted request that took ``duration_ms``."""
        with self._lock:
            window = self._windows.get(caller)
            if window is None:
                return
            window.in_flight = max(0, window.in_flight - 1)
            window.executions.append((now, duration_ms))
