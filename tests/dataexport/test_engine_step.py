"""One step of one subject: initial sync, checkpoints after commits, deltas, tombstones, replays, transient
errors (DES §7.2-7.5, §8.1), with a scripted source, a memory destination and a real SQLite control store."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from test_engine_support import CONTACT, Harness, contact_row, deleted, guid

from dataexport.destination.base import WriteResult
from dataexport.domain.changes import Upsert
from dataexport.domain.guards import NO_TOMBSTONES, TombstoneGuard
from dataexport.domain.schema import EntitySchema
from dataexport.domain.sync import EntityPhase
from dataexport.engine import NullObserver, StepStatus
from dataexport.errors import DestinationBusy, DestinationUnavailable
from dataexport.store.errors import ControlDatabaseBusy
from dataexport.store.values import EntityState, LinkKind, SyncKey

pytest_plugins = ["test_engine_support"]


class ArmOnPage(NullObserver):
    """Makes the destination's next write fail once ``after`` pages were checkpointed."""

    def __init__(self, harness: Harness, after: int, error: Exception) -> None:
        self.harness, self.after, self.error, self.pages = harness, after, error, 0

    def on_page(self, key: SyncKey, state: EntityState, page_rows: int) -> None:
        self.pages += 1
        if self.pages == self.after:
            self.harness.memory.fail_next(self.error)  # type: ignore[arg-type]


def three_pages(harness: Harness) -> None:
    harness.source.script_baseline(
        CONTACT,
        [contact_row(1, 11), contact_row(2, 12)],
        [contact_row(3, 13), contact_row(4, 14)],
        [contact_row(5, 15), contact_row(6, 16)],
    )


def test_initial_sync_writes_every_page_and_moves_to_delta(harness: Harness) -> None:
    three_pages(harness)
    summary = harness.runner().run_once()
    state = harness.state()
    assert summary.ok
    assert harness.names() == {guid(n): f"Contact {n}" for n in range(1, 7)}
    assert state.phase is EntityPhase.DELTA
    assert state.link_kind is LinkKind.DELTA and state.link == state.last_delta_link
    assert (state.counters.received, state.counters.synced, state.counters.pages) == (6, 6, 3)
    assert state.initial_sync_completed_at is not None


def test_the_link_is_saved_only_after_the_page_committed(harness: Harness) -> None:
    """Each page is written while the saved link still points at that page; a failed page keeps its link."""
    three_pages(harness)
    seen_links: list[tuple[str, str | None]] = []
    memory = harness.memory
    original = memory.apply_upserts

    def spy(schema: EntitySchema, upserts: Sequence[Upsert], **kwargs: object) -> WriteResult:
        state = harness.store.states.load(harness.key())
        seen_links.extend((upsert.record_id, state.link if state else None) for upsert in upserts)
        return original(schema, upserts, **kwargs)  # type: ignore[arg-type]

    memory.apply_upserts = spy  # type: ignore[method-assign]
    observer = ArmOnPage(harness, 2, DestinationBusy("database is locked", entity=CONTACT))
    summary = harness.runner(observer=observer).run_once()

    outcome = summary.outcome(harness.key())
    assert outcome is not None and outcome.status is StepStatus.RETRY
    links = [url for _entity, url in harness.source.reads]
    page_two_link, page_three_link = links[1], links[2]
    assert seen_links[:4] == [(guid(1), None), (guid(2), None), (guid(3), page_two_link), (guid(4), page_two_link)]
    state = harness.state()
    assert state.link == page_three_link and state.link_kind is LinkKind.NEXT
    assert state.phase is EntityPhase.INITIAL_SYNC
    assert "database is locked" in (state.last_error or "")
    assert set(harness.names()) == {guid(n) for n in range(1, 5)}
    assert harness.store.ledger.count(harness.profile.id) == 0

    memory.apply_upserts = original  # type: ignore[method-assign]
    assert harness.runner().run_once().ok
    assert harness.source.reads[-1][1] == page_three_link  # resumed at page 3, not from the start
    assert len(harness.names()) == 6
    assert harness.state().last_error is None


def test_deltas_apply_upserts_and_deletes_with_delete_log_and_tombstones(harness: Harness) -> None:
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11), contact_row(2, 12), contact_row(3, 13)])
    runner = harness.runner()
    runner.run_once()
    harness.clock.advance(5)
    harness.source.script_delta(final, [contact_row(1, 21, "Renamed"), contact_row(4, 22), deleted(2)])
    summary = runner.run_once()

    assert summary.outcomes[0].received == 3
    assert harness.names() == {guid(1): "Renamed", guid(3): "Contact 3", guid(4): "Contact 4"}
    assert [(row.record_id, row.version) for row in harness.memory.delete_log] == [(guid(2), 12)]
    tombstones = harness.store.tombstones.load(harness.key(), [guid(2)])
    assert tombstones[guid(2)].version == 12
    state = harness.state()
    assert state.last_poll_started_at == harness.clock.now
    assert (state.counters.received, state.counters.deleted) == (6, 1)


def test_a_stale_upsert_after_a_delete_never_resurrects_the_record(harness: Harness) -> None:
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11), contact_row(2, 12)])
    runner = harness.runner()
    runner.run_once()
    final = harness.source.script_delta(final, [deleted(2)])
    runner.run_once()
    final = harness.source.script_delta(final, [contact_row(2, 12, "stale copy")])
    runner.run_once()
    assert guid(2) not in harness.names()
    harness.source.script_delta(final, [contact_row(2, 30, "Re-created")])
    runner.run_once()
    assert harness.names()[guid(2)] == "Re-created"


def test_replaying_pages_after_a_crash_before_the_checkpoint_changes_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11)], [contact_row(2, 12)])
    harness.source.script_delta(final, [contact_row(1, 21, "Renamed"), contact_row(3, 23)])
    runner = harness.runner()
    runner.run_once()
    original = harness.store.states.save_page_checkpoint
    calls = {"n": 0}

    def crash_once(*args: object, **kwargs: object) -> EntityState:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ControlDatabaseBusy("the process died before the checkpoint")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(harness.store.states, "save_page_checkpoint", crash_once)
    assert not runner.run_once().ok  # the delta page committed, its link did not
    before = harness.memory.rows(CONTACT)
    link_before = harness.state().link
    harness.clock.advance(60)
    assert runner.run_once().ok  # replays the same delta page
    assert harness.memory.rows(CONTACT) == before  # stale replays: not even SinkModifiedOn moved
    assert harness.state().link != link_before


def test_a_transient_destination_error_is_no_record_failure_and_the_next_run_resumes(harness: Harness) -> None:
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    runner = harness.runner()
    runner.run_once()
    harness.source.script_delta(final, [contact_row(2, 12)])
    link_before = harness.state().link
    harness.memory.fail_next(DestinationBusy("deadlock victim", entity=CONTACT))

    outcome = runner.run_once().outcomes[0]
    assert outcome.status is StepStatus.RETRY and "deadlock victim" in (outcome.error or "")
    assert harness.state().link == link_before
    assert harness.store.retries.queued_count(harness.key()) == 0
    assert harness.store.ledger.count(harness.profile.id) == 0

    assert runner.run_once().ok
    assert guid(2) in harness.names()
    assert harness.state().last_error is None
    assert harness.failure_lines() == []


def test_a_destination_outage_writes_one_ledger_entry_however_long_it_lasts(harness: Harness) -> None:
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    runner = harness.runner()
    runner.run_once()
    harness.source.script_delta(final, [contact_row(2, 12)])
    for _ in range(3):
        harness.memory.fail_next(DestinationUnavailable("database or disk is full", entity=CONTACT))
        outcome = runner.run_once().outcomes[0]
        assert outcome.status is StepStatus.RETRY and outcome.unavailable
    lines = harness.failure_lines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "Entity: contact, RecordId: N/A, NotificationTime: 3/7/2025 2:05:09 PM, ChangeType: Update,"
    )
    assert "database or disk is full" in lines[0]
    assert runner.run_once().ok
    assert guid(2) in harness.names()


def test_the_guard_given_to_the_destination_comes_from_the_control_store(harness: Harness) -> None:
    """Tombstones live in the control database; the destination only sees the resolved guard."""
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    runner = harness.runner()
    runner.run_once()
    final = harness.source.script_delta(final, [deleted(1)])
    runner.run_once()
    guards: list[TombstoneGuard] = []
    original = harness.memory.apply_upserts

    def spy(schema: EntitySchema, upserts: Sequence[Upsert], **kwargs: object) -> WriteResult:
        guard = kwargs.get("guard", NO_TOMBSTONES)
        assert isinstance(guard, TombstoneGuard)
        guards.append(guard)
        return original(schema, upserts, **kwargs)  # type: ignore[arg-type]

    harness.memory.apply_upserts = spy  # type: ignore[method-assign]
    harness.source.script_delta(final, [contact_row(1, 11, "replayed")])
    runner.run_once()
    assert guards and guards[0].floors == {guid(1): 11}
