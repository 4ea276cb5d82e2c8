"""The profile runner: leases keep each subject on one worker, relationships sync through their intersect
entity, ``run`` keeps polling until stopped, and the observer sees phases, pages and idle polls."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from test_destination_support import ACCOUNT_LEADS, Clock, account_leads_schema, simple_schema
from test_engine_support import (
    CONTACT,
    FAST,
    Harness,
    account_schema,
    contact_row,
    deleted,
    guid,
    lead_schema,
    make_profile,
    start_time,
)

from dataexport.destination.memory import MemoryDestination
from dataexport.domain.schema import EntitySchema
from dataexport.domain.sync import EntityPhase
from dataexport.engine import StepStatus
from dataexport.source.base import Link, Page
from dataexport.source.scripted import ScriptedSource, scripted_row
from dataexport.store import EntityState, SyncKey, open_store
from dataexport.store.values import SyncKind

pytest_plugins = ["test_engine_support"]


class OverlapSource(ScriptedSource):
    """A slow scripted source that measures how many reads of one entity ever ran at the same time."""

    def __init__(self, schemas: list[EntitySchema]) -> None:
        super().__init__(schemas)
        self.active: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self._guard = threading.Lock()

    def read_page(self, schema: EntitySchema, link: Link | None = None) -> Page:
        entity = schema.logical_name
        with self._guard:
            self.active[entity] += 1
            self.most[entity] = max(self.most[entity], self.active[entity])
        try:
            time.sleep(0.01)
            return super().read_page(schema, link)
        finally:
            with self._guard:
                self.active[entity] -= 1


class Recorder:
    """A SyncObserver that keeps every call."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, object]] = []
        self._lock = threading.Lock()

    def _add(self, kind: str, key: SyncKey, value: object) -> None:
        with self._lock:
            self.events.append((kind, key.name, value))

    def on_phase(self, key: SyncKey, phase: EntityPhase) -> None:
        self._add("phase", key, phase)

    def on_page(self, key: SyncKey, state: EntityState, page_rows: int) -> None:
        self._add("page", key, page_rows)

    def on_idle(self, key: SyncKey, lag_seconds: float | None) -> None:
        self._add("idle", key, lag_seconds)

    def on_error(self, key: SyncKey, message: str) -> None:
        self._add("error", key, message)


def test_two_runners_on_one_profile_never_run_the_same_subject_at_once(tmp_path: Path) -> None:
    clock = Clock(start_time())
    source = OverlapSource([simple_schema(CONTACT), account_schema(), lead_schema()])
    for entity, pk in ((CONTACT, "contactid"), ("account", "accountid"), ("lead", "leadid")):
        pages = [[scripted_row(pk, guid(page * 10 + n), page * 10 + n) for n in range(3)] for page in range(1, 9)]
        source.script_baseline(entity, *pages)
    profile = make_profile().model_copy(update={"entities": make_profile(relationships=True).entities})
    with open_store(f"sqlite:///{tmp_path / 'control.db'}", clock=clock) as store:
        destination = MemoryDestination(clock=clock)
        harnesses = [Harness(tmp_path / str(n), clock, store, source, destination, profile, FAST) for n in range(2)]
        results = []

        def run(harness: Harness) -> None:
            runner = harness.runner(
                settings=replace(FAST, owner=f"runner-{harness.tmp_path.name}"),
                sleep=time.sleep,
            )
            results.append(runner.run_once())

        threads = [threading.Thread(target=run, args=(harness,)) for harness in harnesses]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert len(results) == 2 and all(summary.ok for summary in results)
    assert dict(source.most) == {CONTACT: 1, "account": 1, "lead": 1}
    assert len(destination.rows(CONTACT)) == 24


class TotalOverlap(OverlapSource):
    """Also measures how many reads of any entity ran at once."""

    def __init__(self, schemas: list[EntitySchema]) -> None:
        super().__init__(schemas)
        self.running = 0
        self.peak = 0

    def read_page(self, schema: EntitySchema, link: Link | None = None) -> Page:
        with self._guard:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return super().read_page(schema, link)
        finally:
            with self._guard:
                self.running -= 1


def test_shared_slots_bound_the_steps_running_at_once_across_runners(tmp_path: Path) -> None:
    clock = Clock(start_time())
    source = TotalOverlap([simple_schema(CONTACT), account_schema(), lead_schema()])
    for entity, pk in ((CONTACT, "contactid"), ("account", "accountid"), ("lead", "leadid")):
        pages = [[scripted_row(pk, guid(page * 10 + n), page * 10 + n) for n in range(3)] for page in range(1, 5)]
        source.script_baseline(entity, *pages)
    profile = make_profile().model_copy(update={"entities": make_profile(relationships=True).entities})
    slots = threading.BoundedSemaphore(2)
    with open_store(f"sqlite:///{tmp_path / 'control.db'}", clock=clock) as store:
        destination = MemoryDestination(clock=clock)
        runner = Harness(tmp_path, clock, store, source, destination, profile, FAST).runner(
            settings=replace(FAST, workers=3), sleep=time.sleep, slots=slots
        )
        assert runner.run_once().ok
        stop = threading.Event()
        stop.set()
        assert runner.step(SyncKey(profile.id, CONTACT, SyncKind.ENTITY), stop).status is StepStatus.PAUSED

    assert source.peak <= 2  # three workers, two slots
    assert len(destination.rows(CONTACT)) == 12
    assert slots.acquire(blocking=False) and slots.acquire(blocking=False)  # every slot was given back


def test_a_subject_whose_lease_another_worker_holds_is_not_touched(harness: Harness) -> None:
    harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    harness.store.leases.acquire(harness.key(), "someone-else", timedelta(hours=1))
    settings = replace(FAST, lease_ttl=timedelta(seconds=1))
    outcome = harness.runner(settings=settings).run_once().outcomes[0]
    assert outcome.status is StepStatus.BUSY
    assert harness.source.reads == ()
    assert sum(harness.sleeps) >= 2.0  # it waited twice the lease TTL for the other worker


def test_relationships_sync_through_their_tracked_intersect_entity(tmp_path: Path) -> None:
    clock = Clock(start_time())
    source = ScriptedSource(
        [simple_schema(CONTACT), account_schema(), lead_schema(), account_leads_schema()], relationships=[ACCOUNT_LEADS]
    )

    def association(n: int, version: int) -> dict[str, object]:
        return scripted_row("accountleadid", guid(100 + n), version, accountid=guid(n), leadid=guid(200 + n))

    final = source.script_baseline("accountleads", [association(1, 51), association(2, 52)])
    with open_store(f"sqlite:///{tmp_path / 'control.db'}", clock=clock) as store:
        harness = Harness(
            tmp_path, clock, store, source, MemoryDestination(clock=clock), make_profile(relationships=True)
        )
        runner = harness.runner()
        assert runner.run_once().ok
        rows = harness.memory.rows("accountleads")
        assert {(row["accountid"], row["leadid"]) for row in rows.values()} == {
            (guid(1), guid(201)),
            (guid(2), guid(202)),
        }
        source.script_delta(final, [association(3, 53), deleted(101)])
        assert runner.run_once().ok
        assert set(harness.memory.rows("accountleads")) == {guid(102), guid(103)}
        state = harness.state(ACCOUNT_LEADS.schema_name, SyncKind.RELATIONSHIP)
        assert state.phase is EntityPhase.DELTA and state.counters.received == 4


def test_run_keeps_polling_until_stopped_and_reports_progress(harness: Harness) -> None:
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11)], [contact_row(2, 12)])
    recorder = Recorder()
    runner = harness.runner(observer=recorder)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    try:
        _wait_for(lambda: CONTACT in harness.memory.tables and len(harness.memory.rows(CONTACT)) == 2)
        harness.source.script_delta(final, [contact_row(3, 13), deleted(1)])
        _wait_for(lambda: set(harness.memory.rows(CONTACT)) == {guid(2), guid(3)})
        _wait_for(lambda: len([url for _entity, url in harness.source.reads if url and url.endswith("/delta")]) >= 3)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    kinds = [(kind, value) for kind, _name, value in recorder.events]
    assert kinds[:2] == [("phase", EntityPhase.NOT_STARTED), ("phase", EntityPhase.INITIAL_SYNC)]
    assert ("phase", EntityPhase.DELTA) in kinds
    assert [value for kind, value in kinds if kind == "page"][:3] == [1, 1, 2]
    assert any(kind == "idle" for kind, _value in kinds)


def test_run_once_reports_each_subject_and_a_failed_one_is_parked(harness: Harness) -> None:
    harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    runner = harness.runner()
    first = runner.run_once()
    assert first.ok and first.received == 1
    state = harness.state()
    harness.store.states.set_phase(harness.key(), EntityPhase.FAILED, expected_revision=state.revision)
    parked = runner.run_once().outcomes[0]
    assert parked.status is StepStatus.PARKED and parked.phase is EntityPhase.FAILED


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
