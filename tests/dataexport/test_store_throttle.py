"""The shared Dataverse budget: sliding-window counting and 429 pauses seen by every process."""

from __future__ import annotations

import threading
from datetime import timedelta

from test_store_support import MovableClock

from dataexport.store import ControlStore, ThrottleLimits, open_store

pytest_plugins = ["test_store_support"]

ORG = "org:3f1c0000-0000-4000-8000-000000000001/client:app-1"
LIMITS = ThrottleLimits(requests=3, server_seconds=100.0, window=timedelta(seconds=60), bucket=timedelta(seconds=1))


def test_requests_are_counted_until_the_window_is_full(control_store: ControlStore, store_clock: MovableClock) -> None:
    assert [control_store.throttle.reserve(ORG, LIMITS) for _ in range(3)] == [timedelta(0)] * 3
    store_clock.advance(10)
    wait = control_store.throttle.reserve(ORG, LIMITS)
    assert wait == timedelta(seconds=51)  # the first second's bucket leaves the window after 61 s
    store_clock.advance(50)
    assert control_store.throttle.reserve(ORG, LIMITS) > timedelta(0)
    store_clock.advance(1)
    assert control_store.throttle.reserve(ORG, LIMITS) == timedelta(0)


def test_identities_have_separate_budgets(control_store: ControlStore) -> None:
    for _ in range(3):
        control_store.throttle.reserve(ORG, LIMITS)
    assert control_store.throttle.reserve("org:other", LIMITS) == timedelta(0)


def test_server_time_counts_against_the_budget(control_store: ControlStore, store_clock: MovableClock) -> None:
    control_store.throttle.add_server_time(ORG, 100.0)
    assert control_store.throttle.reserve(ORG, LIMITS) > timedelta(0)
    store_clock.advance(62)
    assert control_store.throttle.reserve(ORG, LIMITS) == timedelta(0)


def test_a_pause_is_seen_by_every_process(
    control_store: ControlStore, other_control_store: ControlStore, store_clock: MovableClock
) -> None:
    control_store.throttle.pause(ORG, store_clock.now + timedelta(seconds=30))
    assert other_control_store.throttle.paused_until(ORG) == store_clock.now + timedelta(seconds=30)
    assert other_control_store.throttle.reserve(ORG, LIMITS) == timedelta(seconds=30)
    store_clock.advance(30)
    assert other_control_store.throttle.paused_until(ORG) is None
    assert other_control_store.throttle.reserve(ORG, LIMITS) == timedelta(0)


def test_a_pause_is_never_shortened(control_store: ControlStore, store_clock: MovableClock) -> None:
    control_store.throttle.pause(ORG, store_clock.now + timedelta(seconds=30))
    control_store.throttle.pause(ORG, store_clock.now + timedelta(seconds=5))
    assert control_store.throttle.paused_until(ORG) == store_clock.now + timedelta(seconds=30)
    control_store.throttle.pause(ORG, store_clock.now + timedelta(seconds=90))
    assert control_store.throttle.paused_until(ORG) == store_clock.now + timedelta(seconds=90)


def test_paused_reservations_count_nothing(control_store: ControlStore, store_clock: MovableClock) -> None:
    control_store.throttle.pause(ORG, store_clock.now + timedelta(seconds=5))
    for _ in range(10):
        control_store.throttle.reserve(ORG, LIMITS)
    store_clock.advance(5)
    assert [control_store.throttle.reserve(ORG, LIMITS) for _ in range(3)] == [timedelta(0)] * 3


def test_concurrent_processes_never_overdraw(
    control_db_url: str, control_store: ControlStore, store_clock: MovableClock
) -> None:
    limits = ThrottleLimits(requests=25, window=timedelta(minutes=5))
    stores = [open_store(control_db_url, clock=store_clock) for _ in range(3)]
    granted: list[int] = []
    barrier = threading.Barrier(len(stores))

    def spend(worker: ControlStore) -> None:
        barrier.wait()
        granted.append(sum(1 for _ in range(15) if worker.throttle.reserve(ORG, limits) == timedelta(0)))

    threads = [threading.Thread(target=spend, args=(worker,)) for worker in stores]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for worker in stores:
            worker.close()
    assert sum(granted) == 25
