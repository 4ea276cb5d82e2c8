"""Re-baselines (DES §7.6, R6): an expired token, a rejected resume link, a table that already held rows and
the periodic reload of an untracked intersect table all read in full and sweep what was not seen."""

from __future__ import annotations

from pathlib import Path

from pytest import MonkeyPatch
from test_destination_support import ACCOUNT_LEADS, Clock, account_leads_schema, simple_schema
from test_engine_support import (
    CONTACT,
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
from dataexport.domain.changes import row_to_values
from dataexport.domain.sync import EntityPhase
from dataexport.engine import NullObserver, StepStatus
from dataexport.engine.rebaseline import request_rebaseline
from dataexport.errors import DestinationBusy
from dataexport.source.base import Link
from dataexport.source.errors import LinkRejected
from dataexport.source.scripted import ScriptedSource, scripted_row
from dataexport.store import EntityState, SyncKey, open_store
from dataexport.store.errors import ControlDatabaseBusy
from dataexport.store.values import SyncKind

pytest_plugins = ["test_engine_support"]


class FailAfterPages(NullObserver):
    """Arms a destination fault once ``after`` pages were checkpointed."""

    def __init__(self, destination: MemoryDestination, after: int) -> None:
        self.destination, self.after, self.pages = destination, after, 0

    def on_page(self, key: SyncKey, state: EntityState, page_rows: int) -> None:
        self.pages += 1
        if self.pages == self.after:
            self.destination.fail_next(DestinationBusy("connection lost mid-batch"))


def synced_with_a_failed_record(harness: Harness) -> Link:
    """Contacts 1-4 synced; then contact 3's newer version was refused and given up (failed set)."""
    harness.profile = make_profile(retry_count=0)
    final = harness.source.script_baseline(CONTACT, [contact_row(n, 10 + n) for n in (1, 2, 3, 4)])
    runner = harness.runner()
    runner.run_once()
    harness.memory.reject(guid(3))
    final = harness.source.script_delta(final, [contact_row(3, 30)])
    runner.run_once()
    assert harness.store.failed.failed_ids(harness.key()) == {guid(3)}
    harness.memory.accept(guid(3))
    return final


def test_an_expired_token_re_baselines_and_sweeps_rows_deleted_in_the_gap_but_keeps_failed_ones(
    harness: Harness,
) -> None:
    final = synced_with_a_failed_record(harness)
    harness.source.expire(final, CONTACT)
    # Contact 4 was deleted while the token was unusable; 5 is new; 3 is not read (it is in the failed set).
    harness.source.script_baseline(CONTACT, [contact_row(1, 11), contact_row(2, 22, "Changed")], [contact_row(5, 15)])
    harness.clock.advance(60)
    summary = harness.runner().run_once()

    assert summary.ok
    assert set(harness.names()) == {guid(1), guid(2), guid(3), guid(5)}
    assert harness.names()[guid(2)] == "Changed"
    assert [row.record_id for row in harness.memory.delete_log] == [guid(4)]
    assert harness.store.tombstones.load(harness.key(), [guid(4)])[guid(4)].version == 14
    state = harness.state()
    assert state.phase is EntityPhase.DELTA and state.state_reason is None
    assert state.link != final.url
    assert harness.store.seen.count(harness.key()) == 0


def test_a_crash_inside_a_re_baseline_resumes_with_its_seen_set(harness: Harness) -> None:
    final = synced_with_a_failed_record(harness)
    harness.source.expire(final, CONTACT)
    harness.source.script_baseline(CONTACT, [contact_row(1, 11), contact_row(2, 12)], [contact_row(5, 15)])
    observer = FailAfterPages(harness.memory, after=1)
    outcome = harness.runner(observer=observer).run_once().outcomes[0]
    assert outcome.status is StepStatus.RETRY
    state = harness.state()
    assert state.phase is EntityPhase.INITIAL_SYNC and state.state_reason == "Rebaseline: token expired"
    assert harness.store.seen.count(harness.key()) == 2  # durable: page 1's ids

    assert harness.runner().run_once().ok  # resumes at page 2, then sweeps
    assert set(harness.names()) == {guid(1), guid(2), guid(3), guid(5)}
    assert [row.record_id for row in harness.memory.delete_log] == [guid(4)]


def test_a_rejected_resume_link_restarts_the_initial_sync_as_a_re_baseline(harness: Harness) -> None:
    harness.source.script_baseline(CONTACT, [contact_row(1, 11)], [contact_row(2, 12)], [contact_row(3, 13)])
    observer = FailAfterPages(harness.memory, after=1)
    harness.runner(observer=observer).run_once()
    saved = harness.state().link
    assert saved is not None
    harness.source.inject(CONTACT, LinkRejected("bad $skiptoken", entity=CONTACT), at=Link.next(saved))
    # Meanwhile contact 1 (already written) was deleted: the fresh baseline no longer has it.
    harness.source.script_baseline(CONTACT, [contact_row(2, 12), contact_row(3, 13)])

    assert harness.runner().run_once().ok
    assert set(harness.names()) == {guid(2), guid(3)}  # no ghost of contact 1
    assert harness.state().phase is EntityPhase.DELTA


def test_a_rejected_delta_next_link_falls_back_to_the_last_delta_link(harness: Harness) -> None:
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    runner = harness.runner()
    runner.run_once()
    harness.source.script_delta(final, [contact_row(2, 12)], [contact_row(3, 13)])
    harness.runner(observer=FailAfterPages(harness.memory, after=1)).run_once()
    state = harness.state()
    assert state.link_kind is not None and state.link != final.url and state.last_delta_link == final.url
    harness.source.inject(CONTACT, LinkRejected("expired skiptoken", entity=CONTACT), at=Link.next(state.link))

    assert runner.run_once().ok
    assert final.url in [url for _entity, url in harness.source.reads[-2:]]
    assert set(harness.names()) == {guid(1), guid(2), guid(3)}
    assert harness.state().phase is EntityPhase.DELTA


def test_an_initial_sync_into_a_table_that_already_holds_rows_sweeps_what_dataverse_no_longer_has(
    harness: Harness,
) -> None:
    schema = simple_schema(CONTACT)
    harness.memory.ensure_entity_table(schema)
    harness.memory.apply_upserts(schema, [row_to_values(schema, contact_row(n, 11, "Old")) for n in (1, 2, 9)])
    harness.source.script_baseline(CONTACT, [contact_row(1, 11, "Same version"), contact_row(2, 12, "Newer")])
    assert harness.runner().run_once().ok
    assert harness.names() == {guid(1): "Old", guid(2): "Newer"}  # an equal version stays a no-op; 9 swept
    assert [row.record_id for row in harness.memory.delete_log] == [guid(9)]
    assert harness.state().state_reason is None


def test_a_re_baseline_an_administrator_requests_rewrites_rows_of_an_equal_version(harness: Harness) -> None:
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11), contact_row(2, 12)])
    runner = harness.runner()
    runner.run_once()
    harness.source.script_baseline(CONTACT, [contact_row(1, 11, "Calculated column filled")])
    state = request_rebaseline(harness.store, harness.key())
    assert state.phase is EntityPhase.INITIAL_SYNC and state.state_reason == "Rebaseline: requested"
    assert runner.run_once().ok
    assert harness.names() == {guid(1): "Calculated column filled"}
    assert harness.state().link != final.url


def test_untracked_intersect_tables_are_reloaded_on_their_interval_with_the_sweep(tmp_path: Path) -> None:
    clock = Clock(start_time())
    intersect = account_leads_schema().model_copy(update={"change_tracking": False})
    source = ScriptedSource(
        [simple_schema(CONTACT), account_schema(), lead_schema(), intersect], relationships=[ACCOUNT_LEADS]
    )

    def link(n: int) -> dict[str, object]:
        return scripted_row("accountleadid", guid(100 + n), 50 + n, accountid=guid(n), leadid=guid(200 + n))

    source.script_baseline("accountleads", [link(1), link(2)])
    with open_store(f"sqlite:///{tmp_path / 'control.db'}", clock=clock) as store:
        harness = Harness(
            tmp_path, clock, store, source, MemoryDestination(clock=clock), make_profile(relationships=True)
        )
        key = harness.key(ACCOUNT_LEADS.schema_name, SyncKind.RELATIONSHIP)
        runner = harness.runner()
        assert runner.run_once().ok
        assert set(harness.memory.rows("accountleads")) == {guid(101), guid(102)}

        source.script_baseline("accountleads", [link(1), link(3)])  # 2 dissociated, 3 associated
        clock.advance(30 * 60)
        outcome = runner.run_once().outcome(key)
        assert outcome is not None and outcome.status is StepStatus.IDLE
        assert set(harness.memory.rows("accountleads")) == {guid(101), guid(102)}

        clock.advance(31 * 60)
        assert runner.run_once().ok
        assert set(harness.memory.rows("accountleads")) == {guid(101), guid(103)}
        assert [row.record_id for row in harness.memory.delete_log] == [guid(102)]
        assert harness.state(ACCOUNT_LEADS.schema_name, SyncKind.RELATIONSHIP).phase is EntityPhase.DELTA


def test_a_delete_in_the_gap_is_not_resurrected_by_the_stale_delta_it_missed(harness: Harness) -> None:
    """After a re-baseline, a delete swept from the destination leaves a tombstone like any delete."""
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11), contact_row(2, 12)])
    runner = harness.runner()
    runner.run_once()
    harness.source.expire(final, CONTACT)
    new_final = harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    runner.run_once()
    harness.source.script_delta(new_final, [contact_row(2, 12, "stale"), deleted(7)])
    runner.run_once()
    assert set(harness.names()) == {guid(1)}


def test_a_re_baseline_starting_over_forgets_the_ids_it_saw_before(harness: Harness, monkeypatch: MonkeyPatch) -> None:
    """Ids seen by an attempt that never saved a link may since have been deleted: they must not be kept."""
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11), contact_row(2, 12)])
    harness.runner().run_once()
    harness.source.expire(final, CONTACT)
    harness.source.script_baseline(CONTACT, [contact_row(1, 11), contact_row(2, 12)], [contact_row(3, 13)])
    original = harness.store.states.save_page_checkpoint

    def lost(*args: object, **kwargs: object) -> EntityState:
        raise ControlDatabaseBusy("connection lost before the first checkpoint")

    monkeypatch.setattr(harness.store.states, "save_page_checkpoint", lost)
    assert not harness.runner().run_once().ok
    assert harness.store.seen.count(harness.key()) == 2 and harness.state().link is None
    monkeypatch.setattr(harness.store.states, "save_page_checkpoint", original)
    harness.source.script_baseline(CONTACT, [contact_row(1, 11)], [contact_row(3, 13)])  # 2 deleted meanwhile

    assert harness.runner().run_once().ok
    assert set(harness.names()) == {guid(1), guid(3)}
