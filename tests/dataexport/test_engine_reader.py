"""The prefetching page reader: order, bounded prefetch, errors in the consumer, early close."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from dataexport.engine.reader import PrefetchingReader
from dataexport.errors import SourceUnavailable


def chain(
    last: int, *, fail_at: int | None = None, fetched: list[int] | None = None
) -> Callable[[int | None], int | None]:
    """Pages 1..last; ``fail_at`` raises instead of returning that page."""

    def next_page(previous: int | None) -> int | None:
        page = 1 if previous is None else previous + 1
        if page > last:
            return None
        if page == fail_at:
            raise SourceUnavailable("page unreadable", entity="account")
        if fetched is not None:
            fetched.append(page)
        return page

    return next_page


def test_pages_arrive_in_order_and_the_chain_ends() -> None:
    with PrefetchingReader(chain(5)) as reader:
        assert list(reader) == [1, 2, 3, 4, 5]


def test_reader_never_runs_more_than_the_prefetch_ahead_of_the_writer() -> None:
    fetched: list[int] = []
    with PrefetchingReader(chain(50, fetched=fetched), prefetch=2) as reader:
        pages = iter(reader)
        assert next(pages) == 1
        time.sleep(0.2)  # the reader fills the queue (2) and holds one more page in its hand
        assert len(fetched) <= 4


def test_an_error_of_the_reader_is_raised_where_its_page_would_be() -> None:
    got: list[int] = []
    with pytest.raises(SourceUnavailable), PrefetchingReader(chain(5, fail_at=3)) as reader:
        got.extend(reader)
    assert got == [1, 2]


def test_leaving_early_stops_the_reader_thread() -> None:
    before = threading.active_count()
    with PrefetchingReader(chain(10_000), prefetch=1) as reader:
        for page in reader:
            if page == 2:
                break
    assert threading.active_count() == before
