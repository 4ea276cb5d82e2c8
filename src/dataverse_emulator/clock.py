"""The emulator's clock: real UTC time by default, frozen or shifted by the admin surface.

Everything time-dependent in the emulator (``modifiedon``, delta-token timestamps, token expiry, JWT
``iat``/``exp``, throttling windows) reads this clock, so tests can expire tokens without waiting.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """A thread-safe adjustable clock. ``now()`` is always timezone-aware UTC."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None

    def now(self) -> datetime:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return datetime.now(UTC) + self._offset

    def set(self, now: datetime, *, frozen: bool) -> None:
        """Jump to ``now``; keep it still when ``frozen``, else let it run from there."""
        now = now.astimezone(UTC)
        with self._lock:
            if frozen:
                self._frozen_at = now
            else:
                self._frozen_at = None
                self._offset = now - datetime.now(UTC)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative value)."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += timedelta(seconds=seconds)
            else:
                self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        """Back to real time."""
        with self._lock:
            self._offset = timedelta(0)
            self._frozen_at = None

    @property
    def is_frozen(self) -> bool:
        with self._lock:
            return self._frozen_at is not None
