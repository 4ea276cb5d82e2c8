"""Crash safety: the process dies before any one write of a run (destination or control store) and is
restarted; the lease of the dead process expires; every crash point converges to the destination a run
without crash produces (DES §7.4: checkpoint after commit, idempotent replays, durable seen-set)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from test_destination_support import Clock, simple_schema
from test_engine_support import CONTACT, FAST, Harness, contact_row, deleted, guid, make_profile, start_time

from dataexport.destination.memory import MemoryDestination
from dataexport.source.base import Link
from dataexport.source.scripted import ScriptedSource
from dataexport.store import open_store

LEASE = timedelta(seconds=30)
SETTINGS = replace(FAST, workers=1, lease_ttl=LEASE, once_attempts=1)
DESTINATION_WRITES = (
    "ensure_entity_table",
    "ensure_metadata_tables",
    "refresh_metadata",
    "apply_upserts",
    "apply_deletes",
)
STORE_WRITES = {
    "states": (
        "set_phase",
        "save_page_checkpoint",
        "complete_initial_sync",
        "reset_for_rebaseline",
        "set_metadata_stamp",
    ),
    "tombstones": ("record",),
    "seen": ("record", "clear"),
    "retries": ("enqueue", "clear_succeeded", "mark_attempt", "give_up", "give_up_at_once"),
}


class Crash(BaseException):
    """The process was killed (not an error any code may catch)."""


@dataclass
class CrashPlan:
    """Kills the process before the ``at``-th write; the dead process never releases its lease."""

    at: int | None
    calls: int = 0
    dead: bool = False

    def wrap(self, target: object, name: str) -> None:
        original: Callable[..., object] = getattr(target, name)

        def write(*args: object, **kwargs: object) -> object:
            self.calls += 1
            if self.calls == self.at:
                self.dead = True
                raise Crash(f"killed before {name}")
            return original(*args, **kwargs)

        setattr(target, name, write)

    def wrap_release(self, leases: object) -> None:
        original: Callable[..., object] = leases.release  # type: ignore[attr-defined]

        def release(*args: object, **kwargs: object) -> object:
            if self.dead:
                self.dead = False
                raise Crash("a killed process releases nothing")
            return original(*args, **kwargs)

        leases.release = release  # type: ignore[attr-defined]


def scenario(tmp_path: Path, crash_at: int | None) -> tuple[dict[str, tuple[object, object]], set[str], int]:
    """Baseline (3 pages), a delta, an expired token with its re-baseline and sweep, another delta."""
    clock = Clock(start_time())
    plan = CrashPlan(crash_at)
    source = ScriptedSource([simple_schema(CONTACT)])
    destination = MemoryDestination(clock=clock)
    for name in DESTINATION_WRITES:
        plan.wrap(destination, name)
    with open_store(f"sqlite:///{tmp_path / 'control.db'}", clock=clock) as store:
        for repository, names in STORE_WRITES.items():
            for name in names:
                plan.wrap(getattr(store, repository), name)
        plan.wrap_release(store.leases)
        harness = Harness(tmp_path, clock, store, source, destination, make_profile(retry_count=0), SETTINGS)
        restarts = 0

        def reached(link: Link) -> bool:
            state = store.states.load(harness.key())
            return state is not None and state.link == link.url

        def sync_until(link: Link) -> None:
            nonlocal restarts
            while not reached(link):
                owner = f"process-{restarts}"
                try:
                    harness.runner(settings=replace(SETTINGS, owner=owner)).run_once()
                except Crash:
                    restarts += 1
                    clock.advance(LEASE.total_seconds() + 1)  # the dead process's lease runs out
                assert restarts < 10

        final = source.script_baseline(
            CONTACT,
            [contact_row(n, 10 + n) for n in (1, 2, 3)],
            [contact_row(n, 10 + n) for n in (4, 5, 6)],
            [contact_row(n, 10 + n) for n in (7, 8)],
        )
        sync_until(final)
        final = source.script_delta(final, [contact_row(1, 31, "One"), contact_row(9, 32)], [deleted(2), deleted(3)])
        sync_until(final)
        source.expire(final, CONTACT)
        final = source.script_baseline(
            CONTACT, [contact_row(1, 31, "One"), contact_row(4, 40, "Four")], [contact_row(n, 10 + n) for n in (5, 6)]
        )
        sync_until(final)
        final = source.script_delta(final, [contact_row(10, 50), deleted(5)])
        sync_until(final)

        assert store.seen.count(harness.key()) == 0
        assert store.retries.queued_count(harness.key()) == 0
        rows = {
            record_id: (row["versionnumber"], row["fullname"]) for record_id, row in destination.rows(CONTACT).items()
        }
        logged = {row.record_id for row in destination.delete_log}
        return rows, logged, plan.calls


def test_without_a_crash_the_scenario_ends_where_dataverse_is(tmp_path: Path) -> None:
    rows, logged, _calls = scenario(tmp_path, None)
    assert rows == {
        guid(1): (31, "One"),
        guid(4): (40, "Four"),
        guid(6): (16, "Contact 6"),
        guid(10): (50, "Contact 10"),
    }
    assert logged == {guid(n) for n in (2, 3, 7, 8, 9, 5)}


def test_a_crash_before_any_write_converges_to_the_same_destination(tmp_path: Path) -> None:
    expected_rows, expected_log, writes = scenario(tmp_path / "clean", None)
    assert writes > 30
    diverged = []
    for crash_at in range(1, writes + 1):
        rows, logged, _calls = scenario(tmp_path / f"crash{crash_at}", crash_at)
        if (rows, logged) != (expected_rows, expected_log):
            diverged.append(crash_at)
    assert diverged == []
