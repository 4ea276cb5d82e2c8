"""Per-subject sync state: phases, guarded checkpoints, links, counters and timestamps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_store_support import START, MovableClock, loaded

from dataexport.domain.failures import ChangeType
from dataexport.domain.sync import EntityPhase
from dataexport.errors import InvalidTransition
from dataexport.store import ControlStore, Counters, EntityState, Lease, LinkKind, StateConflict, SyncKey, SyncKind
from dataexport.store.values import RetryItem

pytest_plugins = ["test_store_support"]

KEY = SyncKey("b7d4c3a2-0000-4000-8000-000000000001", "account")
TTL = timedelta(seconds=60)
PAGE = Counters(received=3, synced=3, upserted=3, pages=1)


def start_initial_sync(control_store: ControlStore, key: SyncKey = KEY) -> tuple[EntityState, Lease]:
    state = control_store.states.ensure(key)
    lease = control_store.leases.acquire(key, "worker-1", TTL)
    assert lease is not None
    state = control_store.states.set_phase(
        key, EntityPhase.INITIAL_SYNC, expected_revision=state.revision, reason="Initial"
    )
    return state, lease


def test_ensure_creates_not_started_once(control_store: ControlStore) -> None:
    assert control_store.states.load(KEY) is None
    first = control_store.states.ensure(KEY)
    again = control_store.states.ensure(KEY)
    assert (first.phase, first.revision, first.counters) == (EntityPhase.NOT_STARTED, 1, Counters())
    assert again == first


def test_entities_and_relationships_with_one_name_are_separate(control_store: ControlStore) -> None:
    relationship = SyncKey(KEY.profile_id, KEY.name, SyncKind.RELATIONSHIP)
    control_store.states.ensure(KEY)
    state = control_store.states.ensure(relationship)
    control_store.states.set_phase(relationship, EntityPhase.REMOVED, expected_revision=state.revision)
    assert loaded(control_store, KEY).phase is EntityPhase.NOT_STARTED
    assert [s.key.kind for s in control_store.states.list(KEY.profile_id)] == [SyncKind.ENTITY, SyncKind.RELATIONSHIP]


def test_page_checkpoints_save_the_next_link_and_add_counters(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    state, lease = start_initial_sync(control_store)
    assert state.initial_sync_started_at == START
    store_clock.advance(5)
    state = control_store.states.save_page_checkpoint(
        lease, link="https://org/api/data/v9.2/accounts?$skiptoken=1", link_kind=LinkKind.NEXT,
        counters=PAGE, expected_revision=state.revision,
    )  # fmt: skip
    state = control_store.states.save_page_checkpoint(
        lease, link="https://org/api/data/v9.2/accounts?$skiptoken=2", link_kind=LinkKind.NEXT,
        counters=PAGE, expected_revision=state.revision,
    )  # fmt: skip
    loaded = control_store.states.load(KEY)
    assert loaded == state
    assert (loaded.link, loaded.link_kind) == ("https://org/api/data/v9.2/accounts?$skiptoken=2", LinkKind.NEXT)
    assert loaded.counters == Counters(received=6, synced=6, upserted=6, pages=2)
    assert loaded.last_change_at == store_clock.now
    assert loaded.last_delta_link is None and loaded.last_synced_at is None


def test_a_stale_revision_is_refused_and_nothing_moves(control_store: ControlStore) -> None:
    state, lease = start_initial_sync(control_store)
    control_store.states.save_page_checkpoint(
        lease, link="next-1", link_kind=LinkKind.NEXT, counters=PAGE, expected_revision=state.revision
    )
    with pytest.raises(StateConflict, match=f"not {state.revision}"):
        control_store.states.save_page_checkpoint(
            lease, link="next-2", link_kind=LinkKind.NEXT, counters=PAGE, expected_revision=state.revision
        )
    assert loaded(control_store, KEY).link == "next-1"


def test_completing_the_baseline_moves_to_delta_and_drops_the_seen_set(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    state, lease = start_initial_sync(control_store)
    control_store.seen.record(KEY, ["a", "b"])
    poll_start = store_clock.now
    store_clock.advance(30)
    state = control_store.states.complete_initial_sync(
        lease, delta_link="delta-1", counters=PAGE, expected_revision=state.revision, poll_started_at=poll_start
    )
    assert state.phase is EntityPhase.DELTA
    assert (state.link, state.link_kind, state.last_delta_link) == ("delta-1", LinkKind.DELTA, "delta-1")
    assert state.initial_sync_completed_at == state.last_synced_at == store_clock.now
    assert state.last_poll_started_at == poll_start
    assert control_store.seen.count(KEY) == 0


def test_a_delta_link_cannot_end_a_baseline_through_a_page_checkpoint(control_store: ControlStore) -> None:
    state, lease = start_initial_sync(control_store)
    with pytest.raises(InvalidTransition, match="complete_initial_sync"):
        control_store.states.save_page_checkpoint(
            lease, link="d", link_kind=LinkKind.DELTA, counters=PAGE, expected_revision=state.revision,
            poll_started_at=START,
        )  # fmt: skip


def test_delta_polls_keep_the_last_delta_link_for_a_rejected_next_link(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    state, lease = start_initial_sync(control_store)
    state = control_store.states.complete_initial_sync(
        lease, delta_link="delta-1", counters=PAGE, expected_revision=state.revision, poll_started_at=START
    )
    poll_start = store_clock.advance(10)
    state = control_store.states.save_page_checkpoint(
        lease, link="delta-1-page-2", link_kind=LinkKind.NEXT, counters=PAGE, expected_revision=state.revision
    )
    assert (state.link, state.fallback_link()) == ("delta-1-page-2", "delta-1")
    store_clock.advance(2)
    state = control_store.states.save_page_checkpoint(
        lease, link="delta-2", link_kind=LinkKind.DELTA, counters=Counters(pages=1),
        expected_revision=state.revision, poll_started_at=poll_start,
    )  # fmt: skip
    assert (state.link, state.last_delta_link, state.last_poll_started_at) == ("delta-2", "delta-2", poll_start)
    assert state.last_synced_at == store_clock.now


def test_a_delta_checkpoint_needs_the_poll_start(control_store: ControlStore) -> None:
    state, lease = start_initial_sync(control_store)
    with pytest.raises(ValueError, match="poll_started_at"):
        control_store.states.save_page_checkpoint(
            lease, link="d", link_kind=LinkKind.DELTA, counters=PAGE, expected_revision=state.revision
        )


def test_checkpoints_clear_the_last_error(control_store: ControlStore) -> None:
    state, lease = start_initial_sync(control_store)
    control_store.states.record_error(KEY, "Dataverse answered 503")
    assert loaded(control_store, KEY).last_error == "Dataverse answered 503"
    state = control_store.states.save_page_checkpoint(
        lease, link="n", link_kind=LinkKind.NEXT, counters=PAGE, expected_revision=state.revision
    )
    assert state.last_error is None and state.last_error_at is None


def test_no_checkpoint_outside_initial_sync_and_delta(control_store: ControlStore) -> None:
    state = control_store.states.ensure(KEY)
    lease = control_store.leases.acquire(KEY, "w", TTL)
    assert lease is not None
    with pytest.raises(InvalidTransition, match="NotStarted"):
        control_store.states.save_page_checkpoint(
            lease, link="n", link_kind=LinkKind.NEXT, counters=PAGE, expected_revision=state.revision
        )


def test_phase_rules_are_enforced(control_store: ControlStore) -> None:
    state = control_store.states.ensure(KEY)
    with pytest.raises(InvalidTransition, match="NotStarted cannot move to Delta"):
        control_store.states.set_phase(KEY, EntityPhase.DELTA, expected_revision=state.revision)
    assert control_store.states.load(KEY) == state


def test_failed_keeps_links_and_records_the_error(control_store: ControlStore) -> None:
    state, lease = start_initial_sync(control_store)
    state = control_store.states.save_page_checkpoint(
        lease, link="n", link_kind=LinkKind.NEXT, counters=PAGE, expected_revision=state.revision
    )
    state = control_store.states.set_phase(
        KEY, EntityPhase.FAILED, expected_revision=state.revision, reason="Table", error="CREATE TABLE denied"
    )
    assert (state.phase, state.state_reason, state.last_error, state.link) == (
        EntityPhase.FAILED, "Table", "CREATE TABLE denied", "n",
    )  # fmt: skip


def test_removed_discards_links_and_re_adding_resets_counters(control_store: ControlStore) -> None:
    state, lease = start_initial_sync(control_store)
    state = control_store.states.complete_initial_sync(
        lease, delta_link="d", counters=PAGE, expected_revision=state.revision, poll_started_at=START
    )
    state = control_store.states.set_phase(KEY, EntityPhase.REMOVED, expected_revision=state.revision)
    assert (state.link, state.last_delta_link, state.counters) == (None, None, PAGE)  # counters frozen
    state = control_store.states.reset_for_rebaseline(
        KEY, reason="Re-added: table adopted", expected_revision=state.revision
    )
    assert (state.phase, state.counters, state.state_reason) == (
        EntityPhase.INITIAL_SYNC, Counters(), "Re-added: table adopted",
    )  # fmt: skip


def test_an_api_change_makes_the_workers_checkpoint_fail(control_store: ControlStore) -> None:
    state, lease = start_initial_sync(control_store)
    control_store.states.set_phase(KEY, EntityPhase.REMOVED, expected_revision=state.revision)
    with pytest.raises(StateConflict):
        control_store.states.save_page_checkpoint(
            lease, link="n", link_kind=LinkKind.NEXT, counters=PAGE, expected_revision=state.revision
        )
    assert loaded(control_store, KEY).link is None


def test_rebaseline_restarts_from_the_start_with_an_empty_seen_set(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    state, lease = start_initial_sync(control_store)
    state = control_store.states.complete_initial_sync(
        lease, delta_link="d-old", counters=PAGE, expected_revision=state.revision, poll_started_at=START
    )
    control_store.seen.record(KEY, ["left-over"])
    store_clock.advance(3600)
    renewed = control_store.leases.acquire(KEY, "worker-1", TTL)
    assert renewed is not None
    state = control_store.states.reset_for_rebaseline(
        KEY, reason="Rebaseline: token expired", expected_revision=state.revision, lease=renewed
    )
    assert (state.phase, state.link, state.last_delta_link) == (EntityPhase.INITIAL_SYNC, None, None)
    assert (state.state_reason, state.initial_sync_started_at) == ("Rebaseline: token expired", store_clock.now)
    assert state.counters == PAGE  # a token expiry keeps counting; a re-add resets
    assert control_store.seen.count(KEY) == 0


def test_unguarded_annotations_keep_the_revision(control_store: ControlStore) -> None:
    state = control_store.states.ensure(KEY)
    control_store.states.set_page_size(KEY, 2500)
    control_store.states.set_metadata_stamp(KEY, "attrs-v7")
    control_store.states.record_error(KEY, "timeout")
    annotated = loaded(control_store, KEY)
    assert (annotated.page_size, annotated.metadata_stamp, annotated.last_error) == (2500, "attrs-v7", "timeout")
    assert annotated.last_error_at == START and annotated.revision == state.revision
    control_store.states.record_error(KEY, None)
    assert loaded(control_store, KEY).last_error is None
    control_store.states.set_page_size(SyncKey("other", "none"), 100)  # no state: nothing to annotate, no error


def test_guarded_write_without_a_state_is_a_conflict(control_store: ControlStore) -> None:
    with pytest.raises(StateConflict, match="No sync state"):
        control_store.states.set_phase(KEY, EntityPhase.INITIAL_SYNC, expected_revision=1)


def test_a_lease_for_another_subject_cannot_write(control_store: ControlStore) -> None:
    state = control_store.states.ensure(KEY)
    other = SyncKey(KEY.profile_id, "contact")
    lease = control_store.leases.acquire(other, "w", TTL)
    assert lease is not None
    with pytest.raises(ValueError, match="cannot write the state"):
        control_store.states.set_phase(KEY, EntityPhase.INITIAL_SYNC, expected_revision=state.revision, lease=lease)


def test_list_counts_each_failed_set(control_store: ControlStore) -> None:
    contact = SyncKey(KEY.profile_id, "contact")
    for key in (KEY, contact):
        control_store.states.ensure(key)
    item = RetryItem("0d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22", ChangeType.NEW, 7, "too long", START, START)
    control_store.retries.give_up_at_once(contact, item)
    counts = {state.key.name: state.failed_records for state in control_store.states.list(KEY.profile_id)}
    assert counts == {"account": 0, "contact": 1}
    assert loaded(control_store, contact).failed_records == 1
    assert control_store.states.list("no-such-profile") == []
