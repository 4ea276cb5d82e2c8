"""The record algorithm (DES §8.2): retry queue, re-reads by id, give-up with one ledger entry and one DES
line, the failed set, and the next change of the record syncing it; the stream never waits."""

from __future__ import annotations

from datetime import timedelta

from test_engine_support import CONTACT, Harness, contact_row, guid, make_profile

from dataexport.domain.failures import ChangeType
from dataexport.domain.sync import EntityPhase

pytest_plugins = ["test_engine_support"]

LINE = (
    "Entity: contact, RecordId: 00000000-0000-0000-0000-000000000002, NotificationTime: 3/7/2025 2:05:09 PM, "
    "ChangeType: New, FailureReason: value too long for column"
)


def test_a_refused_record_is_retried_at_the_interval_then_given_up_once_while_the_stream_goes_on(
    harness: Harness,
) -> None:
    harness.profile = make_profile(retry_count=2, retry_interval=60)
    key = harness.key()
    harness.memory.reject(guid(2), "value too long for column")
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11), contact_row(2, 12), contact_row(3, 13)])
    harness.source.script_record(CONTACT, guid(2), contact_row(2, 12))
    runner = harness.runner()
    start = harness.clock.now

    runner.run_once()  # attempt 1 fails: queued, first retry due after RetryInterval
    assert harness.state().phase is EntityPhase.DELTA
    assert set(harness.names()) == {guid(1), guid(3)}
    assert harness.store.retries.next_due_at(key) == start + timedelta(seconds=60)

    harness.clock.advance(30)  # not due yet; later pages keep syncing
    final = harness.source.script_delta(final, [contact_row(4, 14)])
    runner.run_once()
    assert guid(4) in harness.names()
    assert harness.store.retries.due(key) == []

    harness.clock.advance(30)  # attempt 2 (retry 1), re-read by id, fails again
    final = harness.source.script_delta(final, [contact_row(5, 15)])
    runner.run_once()
    assert guid(5) in harness.names()
    assert harness.store.retries.next_due_at(key) == harness.clock.now + timedelta(seconds=60)
    assert harness.store.ledger.count(harness.profile.id) == 0

    harness.clock.advance(60)  # attempt 3 (retry 2 = RetryCount): given up
    runner.run_once()
    assert harness.store.retries.queued_count(key) == 0
    assert harness.store.failed.failed_ids(key) == {guid(2)}
    assert harness.state().failed_records == 1
    entries = harness.store.ledger.list(harness.profile.id)
    assert [(e.entry.record_id, e.entry.change_type, e.attempts) for e in entries] == [(guid(2), ChangeType.NEW, 3)]
    assert harness.failure_lines() == [LINE]

    harness.clock.advance(3600)  # given up: no further attempt until the record changes
    runner.run_once()
    assert harness.store.ledger.count(harness.profile.id) == 1
    assert len(harness.failure_lines()) == 1

    harness.memory.accept(guid(2))  # the administrator fixed the cause; the record changes again
    harness.source.script_delta(final, [contact_row(2, 40, "Fixed")])
    runner.run_once()
    assert harness.names()[guid(2)] == "Fixed"
    assert harness.store.failed.failed_ids(key) == set()
    assert harness.state().failed_records == 0
    assert harness.store.ledger.count(harness.profile.id) == 1  # append-only


def test_a_retry_that_succeeds_clears_the_queue_and_a_record_deleted_meanwhile_takes_the_delete_path(
    harness: Harness,
) -> None:
    key = harness.key()
    harness.memory.reject(guid(1))
    harness.memory.reject(guid(2))
    harness.source.script_baseline(CONTACT, [contact_row(1, 11), contact_row(2, 12)])
    runner = harness.runner()
    runner.run_once()
    assert harness.store.retries.queued_count(key) == 2

    harness.memory.accept(guid(1))
    harness.memory.accept(guid(2))
    harness.source.script_record(CONTACT, guid(1), contact_row(1, 19, "Current"))
    harness.source.script_record(CONTACT, guid(2), None)  # deleted in Dataverse since
    harness.clock.advance(60)
    runner.run_once()
    assert harness.names() == {guid(1): "Current"}
    assert harness.store.retries.queued_count(key) == 0
    assert [row.record_id for row in harness.memory.delete_log] == [guid(2)]
    assert guid(2) in harness.store.tombstones.load(key, [guid(2)])
    assert harness.failure_lines() == []


def test_retry_count_zero_gives_up_at_once_and_a_replayed_page_adds_no_second_entry(harness: Harness) -> None:
    harness.profile = make_profile(retry_count=0)
    harness.memory.reject(guid(1), "constraint")
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    runner = harness.runner()
    runner.run_once()
    assert harness.store.failed.failed_ids(harness.key()) == {guid(1)}
    assert len(harness.failure_lines()) == 1
    harness.source.script_delta(final, [contact_row(1, 11)])  # the same change again (a replay)
    runner.run_once()
    assert len(harness.failure_lines()) == 1
    assert harness.store.retries.queued_count(harness.key()) == 0


def test_rows_whose_values_do_not_fit_are_record_failures(harness: Harness) -> None:
    harness.profile = make_profile(retry_count=0)
    harness.source.script_baseline(CONTACT, [contact_row(1, 11), contact_row(2, 12, creditlimit="not money")])
    summary = harness.runner().run_once()
    assert summary.ok
    assert set(harness.names()) == {guid(1)}
    lines = harness.failure_lines()
    assert len(lines) == 1 and f"RecordId: {guid(2)}" in lines[0] and "ChangeType: New" in lines[0]


def test_retry_interval_zero_retries_within_the_same_step(harness: Harness) -> None:
    harness.profile = make_profile(retry_count=1, retry_interval=0)
    harness.memory.reject(guid(1))
    harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    harness.source.script_record(CONTACT, guid(1), contact_row(1, 11))
    runner = harness.runner()
    runner.run_once()  # attempt 1 fails; the retry in the same step's retry phase is attempt 2
    assert harness.store.failed.failed_ids(harness.key()) == {guid(1)}
    assert len(harness.failure_lines()) == 1


def test_a_conversion_error_on_the_re_read_counts_as_an_attempt(harness: Harness) -> None:
    harness.profile = make_profile(retry_count=1, retry_interval=1)
    harness.memory.reject(guid(1))
    harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    harness.source.script_record(CONTACT, guid(1), contact_row(1, 12, creditlimit="bad"))
    runner = harness.runner()
    runner.run_once()
    harness.clock.advance(1)
    runner.run_once()
    lines = harness.failure_lines()
    assert len(lines) == 1 and "creditlimit" in lines[0]
