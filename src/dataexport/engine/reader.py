"""A page reader that prefetches in its own thread (DESIGN §4 step 4).

While the writer works on page *n*, the reader thread already fetches page *n + 1* into a small bounded
queue, so a step costs about max(read, write) instead of their sum, and memory stays bounded by
``prefetch + 2`` pages whatever the table size. An error of the reader is raised in the writer's thread, at
the place of the page it could not read. Leaving the iteration early (an error while writing, a stop) stops
the thread after its current request.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar

P = TypeVar("P")

_POLL_SECONDS = 0.05
_JOIN_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


class _End:
    pass


_END = _End()


class PrefetchingReader(Generic[P]):
    """Reads a chain of pages in a background thread.

    ``next_page(None)`` reads the first page, ``next_page(page)`` the one after ``page``, or returns None
    when ``page`` was the last. Use as a context manager and iterate it.

    Args:
        next_page: reads a page (runs in the reader thread).
        prefetch: pages the queue holds ahead of the consumer (at least 1).
        name: the thread's name, for diagnostics.
    """

    def __init__(self, next_page: Callable[[P | None], P | None], *, prefetch: int = 2, name: str = "reader") -> None:
        self._next_page = next_page
        self._queue: queue.Queue[P | _Failed | _End] = queue.Queue(maxsize=max(1, prefetch))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> PrefetchingReader[P]:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[P]:
        while True:
            item = self._queue.get()
            if isinstance(item, _End):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def close(self) -> None:
        """Stop the reader thread and wait for it to finish its request in flight. Idempotent.

        A request that hangs past the wait is abandoned: the thread is a daemon and its page is dropped.
        """
        self._stop.set()
        deadline = time.monotonic() + _JOIN_SECONDS
        while self._thread.is_alive() and time.monotonic() < deadline:
            self._drain()
            self._thread.join(_POLL_SECONDS)
        self._drain()

    def _drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            return

    def _run(self) -> None:
        page: P | None = None
        try:
            while not self._stop.is_set():
                page = self._next_page(page)
                if page is None:
                    break
                if not self._put(page):
                    return
        except BaseException as error:  # handed to the consumer and raised there
            self._put(_Failed(error))
            return
        self._put(_END)

    def _put(self, item: P | _Failed | _End) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
            except queue.Full:
                continue
            return True
        return False
