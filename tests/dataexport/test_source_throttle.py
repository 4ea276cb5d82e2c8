"""The per-identity throttle gate (DES §7.7, webapi §8 R8-R9), with time that only ``sleep`` moves."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from test_source_support import FakeTime

from dataexport.source.dataverse.config import ThrottleSettings
from dataexport.source.dataverse.throttle import ThrottleGate


def gate(fake: FakeTime, **settings: object) -> ThrottleGate:
    return ThrottleGate(
        "org|app",
        ThrottleSettings.model_validate(settings),
        clock=fake.clock,
        sleep=fake.sleep,
        wall_clock=fake.wall_clock,
    )


def take(subject: ThrottleGate, count: int = 1) -> None:
    for _ in range(count):
        with subject.slot():
            pass


def test_a_429_pauses_every_worker_of_the_identity_until_retry_after() -> None:
    fake = FakeTime()
    subject = gate(fake)
    subject.throttled(3.0)
    assert subject.paused_for == 3.0
    take(subject)
    assert fake.sleeps == [3.0]
    take(subject)  # the pause is over for everyone
    assert fake.sleeps == [3.0]


def test_a_shorter_retry_after_never_shortens_a_pause() -> None:
    fake = FakeTime()
    subject = gate(fake)
    subject.throttled(10.0)
    subject.throttled(2.0)
    assert subject.paused_for == 10.0


def test_each_429_halves_concurrency_down_to_one_and_a_quiet_minute_gives_one_back() -> None:
    fake = FakeTime()
    subject = gate(fake, concurrency=8)
    limits = []
    for _ in range(5):
        subject.throttled(0.0)
        limits.append(subject.concurrency)
    assert limits == [4, 2, 1, 1, 1]
    fake.sleep(59)
    assert subject.concurrency == 1
    fake.sleep(1)
    assert subject.concurrency == 2
    fake.sleep(180)
    assert subject.concurrency == 5
    fake.sleep(3600)
    assert subject.concurrency == 8  # never above the configured number


def test_the_request_window_makes_the_next_request_wait_for_the_oldest_to_leave() -> None:
    fake = FakeTime()
    subject = gate(fake, requests=3, window=10.0)
    take(subject, 3)
    fake.sleep(4.0)
    take(subject)
    assert fake.sleeps == [4.0, 6.0]  # the first request leaves the window 10 s after it was made
    take(subject, 2)  # the three first requests left together: room for three again
    assert fake.sleeps == [4.0, 6.0]
    take(subject)
    assert fake.sleeps == [4.0, 6.0, 10.0]


def test_server_time_counts_against_the_window() -> None:
    fake = FakeTime()
    subject = gate(fake, server_seconds=5.0, window=30.0)
    take(subject)
    subject.add_server_time(6.0)
    take(subject)
    assert fake.sleeps == [30.0]


def test_concurrency_is_bounded_across_threads() -> None:
    subject = ThrottleGate("org|app", ThrottleSettings(concurrency=2))
    inside = 0
    most = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        with subject.slot():
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.02)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert most == 2


class RecordingLedger:
    def __init__(self, waits: list[float]) -> None:
        self.waits = waits
        self.pauses: list[tuple[str, datetime]] = []

    def reserve(self, identity: str) -> timedelta:
        return timedelta(seconds=self.waits.pop(0) if self.waits else 0.0)

    def pause(self, identity: str, until: datetime) -> None:
        self.pauses.append((identity, until))


def test_a_shared_ledger_is_asked_before_each_request_and_told_about_pauses() -> None:
    fake = FakeTime()
    ledger = RecordingLedger([2.5, 0.0])
    subject = ThrottleGate(
        "org|app", ThrottleSettings(), clock=fake.clock, sleep=fake.sleep, wall_clock=fake.wall_clock, ledger=ledger
    )
    take(subject)
    assert fake.sleeps == [2.5]
    subject.throttled(7.0)
    assert ledger.pauses == [("org|app", fake.wall_clock() + timedelta(seconds=7.0))]
