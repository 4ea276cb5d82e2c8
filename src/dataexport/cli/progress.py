"""A Rich live display of a profile's sync: per entity its phase, rows, pages and lag.

The engine calls the observer from its worker threads; the display keeps a small table of the
latest facts under a lock and Rich redraws it a few times per second.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from rich.console import Console
from rich.live import Live
from rich.table import Table

from dataexport.domain.sync import EntityPhase
from dataexport.store.values import EntityState, SyncKey


@dataclass(frozen=True)
class Line:
    phase: str = "NotStarted"
    rows: int = 0
    pages: int = 0
    lag: float | None = None
    error: str | None = None


class ProgressDisplay:
    """A :class:`~dataexport.engine.SyncObserver` drawing a live table (or plain lines without a terminal)."""

    def __init__(self, console: Console, title: str) -> None:
        self.console = console
        self.title = title
        self._lock = threading.Lock()
        self._lines: dict[str, Line] = {}
        self._live: Live | None = None

    def __enter__(self) -> ProgressDisplay:
        if self.console.is_terminal:
            self._live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(None, None, None)
            self._live = None

    def _update(self, key: SyncKey, **changes: object) -> None:
        with self._lock:
            self._lines[key.name] = replace(self._lines.get(key.name, Line()), **changes)  # type: ignore[arg-type]
            if self._live is not None:
                self._live.update(self._render())

    def _render(self) -> Table:
        table = Table(title=self.title, expand=False)
        for column in ("entity", "phase", "rows", "pages", "lag", "last error"):
            table.add_column(column, justify="right" if column in ("rows", "pages", "lag") else "left")
        with_lock = dict(self._lines)
        for name, line in sorted(with_lock.items()):
            lag = "" if line.lag is None else f"{line.lag:.1f} s"
            table.add_row(name, line.phase, f"{line.rows:,}", str(line.pages), lag, (line.error or "")[:60])
        return table

    def on_phase(self, key: SyncKey, phase: EntityPhase) -> None:
        self._update(key, phase=phase.value)
        if self._live is None:
            self.console.print(f"{key.name}: {phase.value}")

    def on_page(self, key: SyncKey, state: EntityState, page_rows: int) -> None:
        self._update(key, phase=state.phase.value, rows=state.counters.received, pages=state.counters.pages)

    def on_idle(self, key: SyncKey, lag_seconds: float | None) -> None:
        self._update(key, lag=lag_seconds)

    def on_error(self, key: SyncKey, message: str) -> None:
        self._update(key, error=message)
        if self._live is None:
            self.console.print(f"{key.name}: {message}")
