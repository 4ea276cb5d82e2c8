"""The structured failure ledger: append-only, queried by profile and time, 30-day retention."""

from __future__ import annotations

from datetime import timedelta

from test_store_support import START, MovableClock

from dataexport.domain.failures import ChangeType, FailureEntry
from dataexport.store import ControlStore, FailureLog, RetryItem, SyncKey, SyncKind

pytest_plugins = ["test_store_support"]

PROFILE = "b7d4c3a2-0000-4000-8000-000000000001"


def entry(entity: str, reason: str, record_id: str | None = None) -> FailureEntry:
    change = ChangeType.UPDATE if record_id else ChangeType.TRIGGER_INITIAL_EXPORT
    return FailureEntry(entity, record_id, START, change, reason)


def test_entries_are_appended_in_order_with_their_fields(control_store: ControlStore) -> None:
    stored = control_store.ledger.append(
        PROFILE, [entry("lead", "CREATE TABLE permission denied\r\nin database 'rep'."), entry("lead", "second")]
    )
    assert [e.id for e in stored] == sorted(e.id for e in stored)
    assert control_store.ledger.list(PROFILE) == stored
    first = stored[0]
    assert (first.profile_id, first.kind, first.log, first.recorded_at) == (
        PROFILE, SyncKind.ENTITY, FailureLog.FAILURE, START,
    )  # fmt: skip
    assert first.entry.format_line() == (
        "Entity: lead, RecordId: N/A, NotificationTime: 3/7/2025 2:05:09 PM, ChangeType: Trigger Initial Export, "
        "FailureReason: CREATE TABLE permission denied in database 'rep'."
    )


def test_entries_are_kept_per_profile(control_store: ControlStore) -> None:
    control_store.ledger.append(PROFILE, [entry("lead", "a")])
    control_store.ledger.append(
        "other-profile", [entry("lead", "b")], kind=SyncKind.RELATIONSHIP, log=FailureLog.FORCE_REFRESH
    )
    assert [e.entry.reason for e in control_store.ledger.list(PROFILE)] == ["a"]
    [other] = control_store.ledger.list("other-profile")
    assert (other.kind, other.log) == (SyncKind.RELATIONSHIP, FailureLog.FORCE_REFRESH)


def test_query_by_time_and_page_by_id(control_store: ControlStore, store_clock: MovableClock) -> None:
    for hour in range(5):
        store_clock.now = START + timedelta(hours=hour)
        control_store.ledger.append(PROFILE, [entry("contact", f"hour {hour}", "0d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22")])
    window = control_store.ledger.list(PROFILE, since=START + timedelta(hours=1), until=START + timedelta(hours=3))
    assert [e.entry.reason for e in window] == ["hour 1", "hour 2"]
    assert control_store.ledger.count(PROFILE, since=START + timedelta(hours=3)) == 2
    page = control_store.ledger.list(PROFILE, limit=2)
    rest = control_store.ledger.list(PROFILE, after_id=page[-1].id)
    assert [e.entry.reason for e in page + rest] == [f"hour {h}" for h in range(5)]


def test_retention_deletes_entries_older_than_30_days_only(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    control_store.ledger.append(PROFILE, [entry("lead", "old")])
    store_clock.advance(timedelta(days=10).total_seconds())
    control_store.ledger.append(PROFILE, [entry("lead", "recent")])
    store_clock.advance(timedelta(days=21).total_seconds())
    assert control_store.purge_expired().ledger_entries == 1
    assert [e.entry.reason for e in control_store.ledger.list(PROFILE)] == ["recent"]


def test_retention_leaves_failed_sets_alone(control_store: ControlStore, store_clock: MovableClock) -> None:
    key = SyncKey(PROFILE, "contact")
    control_store.retries.give_up_at_once(
        key, RetryItem("0d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22", ChangeType.NEW, 1, "x", START, START)
    )
    store_clock.advance(timedelta(days=60).total_seconds())
    assert control_store.purge_expired().ledger_entries == 1
    assert control_store.failed.count(key) == 1
