"""The durable retry queue (DES §8.2): ordering, replacement rules, give-up to failed set + ledger at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from test_store_support import START, MovableClock

from dataexport.domain.failures import ChangeType
from dataexport.domain.sync import GiveUp, RetryAt, RetryPolicy
from dataexport.store import ControlDatabaseFault, ControlStore, FailureLog, RetryItem, SyncKey, open_store
from dataexport.store.values import Cleared, QueuedRecord

pytest_plugins = ["test_store_support"]

KEY = SyncKey("profile-1", "contact")
ID_A = "0d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22"
ID_B = "1d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22"
ID_C = "2d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22"


def failure(
    record_id: str, version: int | None, *, due_in: float = 5, change: ChangeType = ChangeType.UPDATE
) -> RetryItem:
    return RetryItem(
        record_id, change, version, f"row too large (v{version})", START, START + timedelta(seconds=due_in)
    )


def queued(control_store: ControlStore, store_clock: MovableClock) -> dict[str, QueuedRecord]:
    """Every entry of KEY's queue, whatever its due time."""
    saved = store_clock.now
    store_clock.now = saved + timedelta(days=365)
    try:
        return {entry.record_id: entry for entry in control_store.retries.due(KEY, limit=10_000)}
    finally:
        store_clock.now = saved


def test_due_entries_come_oldest_due_first(control_store: ControlStore, store_clock: MovableClock) -> None:
    control_store.retries.enqueue(
        KEY, [failure(ID_C, 1, due_in=5), failure(ID_A, 1, due_in=10), failure(ID_B, 1, due_in=5)]
    )
    assert control_store.retries.due(KEY) == []
    assert control_store.retries.next_due_at(KEY) == START + timedelta(seconds=5)
    store_clock.advance(5)
    assert [entry.record_id for entry in control_store.retries.due(KEY)] == [ID_B, ID_C]
    store_clock.advance(5)
    due = control_store.retries.due(KEY)
    assert [entry.record_id for entry in due] == [ID_B, ID_C, ID_A]
    assert [entry.record_id for entry in control_store.retries.due(KEY, limit=1)] == [ID_B]
    assert (due[0].attempts, due[0].first_failed_at, due[0].notification_time) == (1, START, START)
    assert control_store.retries.queued_count(KEY) == 3
    assert control_store.retries.next_due_at(SyncKey("profile-1", "account")) is None


def test_the_queue_survives_a_restart(
    control_db_url: str, control_store: ControlStore, store_clock: MovableClock
) -> None:
    control_store.retries.enqueue(KEY, [failure(ID_A, 3)])
    control_store.close()
    with open_store(control_db_url, clock=store_clock) as restarted:
        store_clock.advance(5)
        assert [entry.version for entry in restarted.retries.due(KEY)] == [3]


def test_a_newer_change_replaces_the_entry_with_a_fresh_count(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    control_store.retries.enqueue(KEY, [failure(ID_A, 3)])
    control_store.retries.mark_attempt(KEY, ID_A, error="again", next_attempt_at=START)
    assert control_store.retries.enqueue(KEY, [failure(ID_A, 5, due_in=60)]) == 1
    entry = queued(control_store, store_clock)[ID_A]
    assert (entry.version, entry.attempts, entry.next_attempt_at) == (5, 1, START + timedelta(seconds=60))


def test_a_delete_replaces_a_queued_upsert(control_store: ControlStore, store_clock: MovableClock) -> None:
    control_store.retries.enqueue(KEY, [failure(ID_A, 3)])
    control_store.retries.enqueue(KEY, [failure(ID_A, None, change=ChangeType.DELETE)])
    assert (queued(control_store, store_clock)[ID_A].change_type, queued(control_store, store_clock)[ID_A].version) == (
        ChangeType.DELETE,
        None,
    )


def test_a_replayed_page_leaves_the_entry_as_it_is(control_store: ControlStore, store_clock: MovableClock) -> None:
    control_store.retries.enqueue(KEY, [failure(ID_A, 5)])
    control_store.retries.mark_attempt(KEY, ID_A, error="second failure", next_attempt_at=START + timedelta(seconds=9))
    assert control_store.retries.enqueue(KEY, [failure(ID_A, 5), failure(ID_A, 4)]) == 0  # same change, then older
    entry = queued(control_store, store_clock)[ID_A]
    assert (entry.version, entry.attempts, entry.last_error) == (5, 2, "second failure")


def test_the_last_item_of_an_id_in_one_call_wins(control_store: ControlStore, store_clock: MovableClock) -> None:
    assert control_store.retries.enqueue(KEY, [failure(ID_A, 1), failure(ID_A, 2)]) == 1
    assert queued(control_store, store_clock)[ID_A].version == 2


def test_attempts_follow_the_retry_policy_until_give_up(control_store: ControlStore, store_clock: MovableClock) -> None:
    policy = RetryPolicy(retry_count=2, retry_interval=5)
    control_store.retries.enqueue(KEY, [failure(ID_A, 8)])
    for _ in range(3):
        store_clock.advance(5)
        [entry] = control_store.retries.due(KEY)
        decision = policy.after_failure(entry.attempts + 1, store_clock.now)
        if isinstance(decision, RetryAt):
            control_store.retries.mark_attempt(KEY, ID_A, error="still too large", next_attempt_at=decision.when)
        else:
            assert isinstance(decision, GiveUp)
            ledger = control_store.retries.give_up(KEY, ID_A, error="still too large", attempts=decision.attempts)
            assert ledger is not None and ledger.attempts == 3
            break
    else:
        pytest.fail("the record was never given up")
    assert control_store.retries.queued_count(KEY) == 0


def test_give_up_moves_the_record_to_the_failed_set_and_the_ledger(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    control_store.retries.enqueue(KEY, [failure(ID_A, 8, change=ChangeType.NEW)])
    store_clock.advance(60)
    entry = control_store.retries.give_up(KEY, ID_A, error="Cannot create a row of size 8112", attempts=13)
    assert entry is not None
    assert (entry.entry.entity, entry.entry.record_id, entry.entry.change_type) == ("contact", ID_A, ChangeType.NEW)
    assert (entry.entry.notification_time, entry.recorded_at, entry.log) == (START, store_clock.now, FailureLog.FAILURE)
    assert entry.entry.format_line() == (
        "Entity: contact, RecordId: 0d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22, NotificationTime: 3/7/2025 2:05:09 PM, "
        "ChangeType: New, FailureReason: Cannot create a row of size 8112"
    )
    assert control_store.retries.queued_count(KEY) == 0
    assert control_store.failed.failed_ids(KEY) == {ID_A}
    [member] = control_store.failed.list(KEY.profile_id)
    assert (member.version, member.attempts, member.failed_at) == (8, 13, store_clock.now)
    assert control_store.ledger.list(KEY.profile_id) == [entry]
    assert control_store.retries.give_up(KEY, ID_A, error="x", attempts=1) is None  # no longer queued: nothing happens
    assert control_store.ledger.count(KEY.profile_id) == 1


def test_give_up_is_atomic(control_store: ControlStore, store_dialect: str) -> None:
    control_store.retries.enqueue(KEY, [failure(ID_A, 8)])
    refuse_ledger_inserts(control_store, store_dialect)
    with pytest.raises(ControlDatabaseFault, match="ledger refused"):
        control_store.retries.give_up(KEY, ID_A, error="too large", attempts=13)
    assert control_store.retries.queued_count(KEY) == 1
    assert control_store.failed.count(KEY) == 0


def test_give_up_at_once_needs_no_queue_entry(control_store: ControlStore) -> None:
    entry = control_store.retries.give_up_at_once(KEY, failure(ID_B, 2), log=FailureLog.FORCE_REFRESH)
    assert (entry.attempts, entry.log, entry.version) == (1, FailureLog.FORCE_REFRESH, 2)
    assert control_store.failed.failed_ids(KEY) == {ID_B}


def test_a_given_up_change_is_only_queued_again_when_the_record_changes(control_store: ControlStore) -> None:
    control_store.retries.give_up_at_once(KEY, failure(ID_A, 8))
    assert control_store.retries.enqueue(KEY, [failure(ID_A, 8)]) == 0  # the same change replayed
    assert control_store.failed.count(KEY) == 1
    assert control_store.retries.enqueue(KEY, [failure(ID_A, 9)]) == 1  # changed again: retried, no longer "failed"
    assert control_store.failed.count(KEY) == 0
    assert control_store.retries.queued_count(KEY) == 1


def test_success_clears_superseded_entries_and_failed_members(control_store: ControlStore) -> None:
    control_store.retries.enqueue(KEY, [failure(ID_A, 5), failure(ID_B, 5)])
    control_store.retries.give_up_at_once(KEY, failure(ID_C, 5))
    cleared = control_store.retries.clear_succeeded(KEY, {ID_A: 5, ID_B: 4, ID_C: None, "unknown": 1})
    assert cleared == Cleared(dequeued=1, unfailed=1)  # ID_B's success is older than its failed change
    assert control_store.retries.queued_count(KEY) == 1
    assert control_store.failed.count(KEY) == 0
    assert control_store.ledger.count(KEY.profile_id) == 1  # the ledger is never edited by a success
    assert control_store.retries.clear_succeeded(KEY, {ID_B: 6}) == Cleared(dequeued=1)


def test_mark_attempt_on_a_cleared_entry_returns_none(control_store: ControlStore) -> None:
    assert control_store.retries.mark_attempt(KEY, ID_A, error="x", next_attempt_at=START) is None


def refuse_ledger_inserts(control_store: ControlStore, store_dialect: str) -> None:
    """Install a trigger that makes every ledger insert fail: a destination refusing one write, test-made."""
    statements = {
        "sqlite": [
            "CREATE TRIGGER refuse_ledger BEFORE INSERT ON failure_ledger "
            "BEGIN SELECT RAISE(ABORT, 'ledger refused'); END"
        ],
        "postgresql": [
            "CREATE FUNCTION refuse_ledger() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'ledger refused'; END $$",
            "CREATE TRIGGER refuse_ledger BEFORE INSERT ON failure_ledger "
            "FOR EACH ROW EXECUTE FUNCTION refuse_ledger()",
        ],
    }
    with control_store.database.engine.begin() as connection:
        for statement in statements[store_dialect]:
            connection.execute(text(statement))
