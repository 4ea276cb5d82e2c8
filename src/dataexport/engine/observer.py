"""What the engine tells a progress display (the CLI's per-entity bars, later the web UI and metrics).

Observers are called from worker threads, concurrently for different subjects; they must be quick and must
not raise (an observer error would stop the step like any other error).
"""

from __future__ import annotations

from typing import Protocol

from dataexport.domain.sync import EntityPhase
from dataexport.store.values import EntityState, SyncKey


class SyncObserver(Protocol):
    """Receives progress of every subject of a runner."""

    def on_phase(self, key: SyncKey, phase: EntityPhase) -> None:
        """The subject entered ``phase`` (also reported once when a runner first sees the subject)."""
        ...

    def on_page(self, key: SyncKey, state: EntityState, page_rows: int) -> None:
        """A page of ``page_rows`` changes was committed and checkpointed; ``state`` is the saved state."""
        ...

    def on_idle(self, key: SyncKey, lag_seconds: float | None) -> None:
        """A delta poll completed; ``lag_seconds`` is the age of the newest data guaranteed in the destination."""
        ...

    def on_error(self, key: SyncKey, message: str) -> None:
        """A step stopped on an error (transient: it will be retried; terminal: the subject is Failed)."""
        ...


class NullObserver:
    """A :class:`SyncObserver` that ignores everything (the default)."""

    def on_phase(self, key: SyncKey, phase: EntityPhase) -> None:
        """Ignore."""

    def on_page(self, key: SyncKey, state: EntityState, page_rows: int) -> None:
        """Ignore."""

    def on_idle(self, key: SyncKey, lag_seconds: float | None) -> None:
        """Ignore."""

    def on_error(self, key: SyncKey, message: str) -> None:
        """Ignore."""
