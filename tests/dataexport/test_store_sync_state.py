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


def start_initial_sync(store: ControlStore, key: SyncKey = KEY) -> tuple[EntityState, Lease]:
    state = store.states.ensure(key)
    lease = store.leases.acquire(key, "worker-1", TTL)
    assert lease is not None
    state = store.states.set_phase(key, EntityPhase.INITIAL_SYNC, expected_revision=state.revision, reason="Initial")
    return state, lease


def test_ensure_creates_not_started_once(store: ControlStore) -> None:
    assert store.states.load(KEY) is None
    first = store.states.ensure(KEY)
    again = store.states.ensure(KEY)
    assert (first.phase, first.revision, first.counters) == (EntityPhase.NOT_STARTED, 1, Counters())
    assert again == first


def test_entities_and_relationships_with_one_name_are_separate(store: ControlStore) -> None:
    relationship = SyncKey(KEY.profile_id, KEY.name, SyncKind.RELATIONSHIP)
    store.states.ensure(KEY)
    state = store.states.ensure(relationship)
    store.states.set_phase(relationship, EntityPhase.REMOVED, expected_revision=state.revision)
    assert loaded(store, KEY).phase is EntityPhase.NOT_STARTED
    assert [s.key.kind for s in store.states.list(KEY.profile_id)] == [SyncKind.ENTITY, SyncKind.RELATIONSHIP]


def test_page_checkpoints_save_the_next_link_and_add_counters(store: ControlStore, clock: MovableClock) -> None:
    state, lease = start_initial_sync(store)
    assert state.initial_sync_started_at == START
    clock.advance(5)
    state = store.states.save_page_checkpoint(
        lease, link="https://org/api/data/v9.2/accounts?$skiptoken=1", link_kind=LinkKind.NEXT,
        counters=PAGE, expected_revision=state.revision,
    )  # fmt: skip
    state = store.states.save_page_checkpoint(
        lease, link="https://org/api/data/v9.2/accounts?$skiptoken=2", link_kind=LinkKind.NEXT,
        counters=PAGE, expected_revision=state.revision,
    )  # fmt: skip
    loaded = store.states.load(KEY)
    assert loaded == state
    assert (loaded.link, loaded.link_kind) == ("https://org/api/data/v9.2/accounts?$skiptoken=2", LinkKind.NEXT)
    assert loaded.counters == Counters(received=6, synced=6, upserted=6, pages=2)
    assert loaded.last_change_at == clock.now
    assert loaded.last_delta_link is None and loaded.last_synced_at is None


def test_a_stale_revision_is_refused_and_nothing_moves(store: ControlStore) -> None:
    state, lease = start_initial_sync(store)
    store.states.save_page_checkpoint(
        lease, link="next-1", link_kind=LinkKind.NEXT, counters=PAGE, expected_revision=state.revision
    )
    with pytest.raises(StateConflict, match=f"not {state.revision}"):
        store.states.save_page_checkpoint(
            lease, link="next-2", link_kind=LinkKind.NEXT, counters=PAGE, expected_revision=state.revision
        )
    assert loaded(store, KEY).link == "next-1"


def test_completing_the_baseline_moves_to_delta_and_drops_the_seen_set(
    store: ControlStore, clock: MovableClock
) -> None:
    state, lease = start_initial_sync(store)
    store.seen.record(KEY, ["a", "b"])
    poll_start = clock.now
    clock.advance(30)
    state = store.states.complete_initial_sync(
        lease, delta_link="delta-1", counters=PAGE, expected_revision=state.revision, poll_started_at=poll_start
    )
    assert state.phase is EntityPhase.DELTA
    assert (state.link, state.link_kind, state.last_delta_link) == ("delta-1", LinkKind.DELTA, "delta-1")
    assert state.initial_sync_completed_at == state.last_synced_at == clock.now
    assert state.last_poll_started_at == poll_start
    assert store.seen.count(KEY) == 0


def test_a_delta_link_cannot_end_a_baseline_through_a_page_checkpoint(store: ControlStore) -> None:
    state, lease = start_initial_sync(store)
    with pytest.raises(InvalidTransition, match="complete_initial_sync"):
        store.states.save_page_checkpoint(
            lease, link="d", link_kind=LinkKind.DELTA, counters=PAGE, expected_revision=state.revision,
            poll_started_at=START,
        )  # fmt: skip


def test_delta_polls_keep_the_last_delta_link_for_a_rejected_next_link(
    store: ControlStore, clock: MovableClock
) -> None:
    state, lease = start_initial_sync(store)
    state = store.states.complete_initial_sync(
        lease, delta_link="delta-1", counters=PAGE, expected_revision=state.revision, poll_started_at=START
    )
    poll_start = clock.advance(10)
    state = store.states.save_page_checkpoint(
        lease, link="delta-1-page-2", link_kind=LinkKind.NEXT, counters=PAGE, expected_revision=state.revision
    )
    assert (state.link, state.fallback_link()) == ("delta-1-page-2", "delta-1")
    clock.advance(2)
    state = store.states.save_page_checkpoint(
        lease, link="delta-2", link_kind=LinkKind.DELTA, counters=Counters(pages=1),
        expected_revision=state.revision, poll_started_at=poll_start,
    )  # fmt: skip
    assert (state.link, state.last_delta_link, state.last_poll_started_at) == ("delta-2", "delta-2", poll_start)
    assert state.last_synced_at == clock.now


def test_a_delta_checkpoint_needs_the_poll_start(store: ControlStore) -> None:
    state, lease = start_initial_sync(store)
    with pytest.raises(ValueError, match="poll_started_at"):
        store.states.save_page_checkpoint(
            lease, link="d", link_kind=LinkKind.DELTA, counters=PAGE, expected_revision=state.revision
        )


def test_checkpoints_clear_the_last_error(store: ControlStore) -> None:
    state, lease = start_initial_sync(store)
    store.states.record_error(KEY, "Dataverse answered 503")
    assert loaded(store, KEY).last_error == "Dataverse answered 503"
    state = store.states.save_page_checkpoint(
        lease, link="n", link_kind=LinkKind.NEXT, counters=PAGE, expected_revision=state.revision
    )
    assert state.last_error is None and state.last_error_at is None


def test_no_checkpoint_outside_initial_sync_and_delta(store: ControlStore) -> None:
    state = store.states.ensure(KEY)
    lease = store.leases.acquire(KEY, "w", TTL)
    assert lease is not None
    with pytest.raises(InvalidTransition, match="NotStarted"):
        store.states.save_page_checkpoint(
            lease, link="n", link_kind=LinkKind.NEXT, counters=PAGE, expected_revision=state.revision
        )


def test_phase_rules_are_enforced(store: ControlStore) -> None:
    state = store.states.ensure(KEY)
    with pytest.raises(InvalidTransition, match="NotStarted cannot move to Delta"):
        store.states.set_phase(KEY, EntityPhase.DELTA, expected_revision=state.revision)
    assert store.states.load(KEY) == state


def test_failed_keeps_links_and_records_the_error(store: ControlStore) -> None:
    state, lease = start_initial_sync(store)
    state = store.states.save_page_checkpoint(
        lease, link="n", link_kind=LinkKind.NEXT, counters=PAGE, expected_revision=state.revision
    )
    state = store.states.set_phase(
        KEY, EntityPhase.FAILED, expected_revision=state.revision, reason="Table", error="CREATE TABLE denied"
    )
    assert (state.phase, state.state_reason, state.last_error, state.link) == (
        EntityPhase.FAILED, "Table", "CREATE TABLE denied", "n",
    )  # fmt: skip


def test_removed_discards_links_and_re_adding_resets_counters(store: ControlStore) -> None:
    state, lease = start_initial_sync(store)
    state = store.states.complete_initial_sync(
        lease, delta_link="d", counters=PAGE, expected_revision=state.revision, poll_started_at=START
    )
    state = store.states.set_phase(KEY, EntityPhase.REMOVED, expected_revision=state.revision)
    assert (state.link, state.last_delta_link, state.counters) == (None, None, PAGE)  # counters frozen
    state = store.states.reset_for_rebaseline(KEY, reason="Re-added: table adopted", expected_revision=state.revision)
    assert (state.phase, state.counters, state.state_reason) == (
        EntityPhase.INITIAL_SYNC, Counters(), "Re-added: table adopted",
    )  # fmt: skip


def test_an_api_change_makes_the_workers_checkpoint_fail(store: ControlStore) -> None:
    state, lease = start_initial_sync(store)
    store.states.set_phase(KEY, EntityPhase.REMOVED, expected_revision=state.revision)
    with pytest.raises(StateConflict):
        store.states.save_page_checkpoint(
            lease, link="n", link_kind=LinkKind.NEXT, counters=PAGE, expected_revision=state.revision
        )
    assert loaded(store, KEY).link is None


def test_rebaseline_restarts_from_the_start_with_an_empty_seen_set(store: ControlStore, clock: MovableClock) -> None:
    state, lease = start_initial_sync(store)
    state = store.states.complete_initial_sync(
        lease, delta_link="d-old", counters=PAGE, expected_revision=state.revision, poll_started_at=START
    )
    store.seen.record(KEY, ["left-over"])
    clock.advance(3600)
    renewed = store.leases.acquire(KEY, "worker-1", TTL)
    assert renewed is not None
    state = store.states.reset_for_rebaseline(
        KEY, reason="Rebaseline: token expired", expected_revision=state.revision, lease=renewed
    )
    assert (state.phase, state.link, state.last_delta_link) == (EntityPhase.INITIAL_SYNC, None, None)
    assert (state.state_reason, state.initial_sync_started_at) == ("Rebaseline: token expired", clock.now)
    assert state.counters == PAGE  # a token expiry keeps counting; a re-add resets
    assert store.seen.count(KEY) == 0


def test_unguarded_annotations_keep_the_revision(store: ControlStore) -> None:
    state = store.states.ensure(KEY)
    store.states.set_page_size(KEY, 2500)
    store.states.set_metadata_stamp(KEY, "attrs-v7")
    store.states.record_error(KEY, "timeout")
    annotated = loaded(store, KEY)
    assert (annotated.page_size, annotated.metadata_stamp, annotated.last_error) == (2500, "attrs-v7", "timeout")
    assert annotated.last_error_at == START and annotated.revision == state.revision
    store.states.record_error(KEY, None)
    assert loaded(store, KEY).last_error is None
    store.states.set_page_size(SyncKey("other", "none"), 100)  # no state: nothing to annotate, no error


def test_guarded_write_without_a_state_is_a_conflict(store: ControlStore) -> None:
    with pytest.raises(StateConflict, match="No sync state"):
        store.states.set_phase(KEY, EntityPhase.INITIAL_SYNC, expected_revision=1)


def test_a_lease_for_another_subject_cannot_write(store: ControlStore) -> None:
    state = store.states.ensure(KEY)
    other = SyncKey(KEY.profile_id, "contact")
    lease = store.leases.acquire(other, "w", TTL)
    assert lease is not None
    with pytest.raises(ValueError, match="cannot write the state"):
        store.states.set_phase(KEY, EntityPhase.INITIAL_SYNC, expected_revision=state.revision, lease=lease)


def test_list_counts_each_failed_set(store: ControlStore) -> None:
    contact = SyncKey(KEY.profile_id, "contact")
    for key in (KEY, contact):
        store.states.ensure(key)
    item = RetryItem("0d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22", ChangeType.NEW, 7, "too long", START, START)
    store.retries.give_up_at_once(contact, item)
    counts = {state.key.name: state.failed_records for state in store.states.list(KEY.profile_id)}
    assert counts == {"account": 0, "contact": 1}
    assert loaded(store, contact).failed_records == 1
    assert store.states.list("no-such-profile") == []
