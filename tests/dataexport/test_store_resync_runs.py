"""``resyncfailed`` runs in the control store (DES §8.7, §2.2 ``Resync``, §8.5 retention), on every dialect."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import inspect, text
from test_store_support import START, MovableClock

from dataexport.domain.failures import ChangeType, FailureEntry
from dataexport.domain.sync import EntityPhase
from dataexport.store import ControlStore, LinkKind, RetryItem, SyncKey, SyncKind, open_store
from dataexport.store.engine import create_control_engine
from dataexport.store.errors import ResyncInProgress
from dataexport.store.migrate import alembic_config, current_revision, head_revision, upgrade_to_head
from dataexport.store.resync_runs import REACTIVATED_REASON
from dataexport.store.values import QueuedRecord, ResyncRun, ResyncState

pytest_plugins = ["test_store_support"]

PROFILE = "profile-1"
CONTACT = SyncKey(PROFILE, "contact")
ACCOUNT = SyncKey(PROFILE, "account")
LEAD = SyncKey(PROFILE, "lead")
LINKS = SyncKey(PROFILE, "accountleads_association", SyncKind.RELATIONSHIP)
ID_A = "0d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22"
ID_B = "1d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22"


def give_up(store: ControlStore, key: SyncKey, record_id: str, version: int = 7) -> None:
    """Put ``record_id`` in ``key``'s failed set the way the engine does (RetryCount = 0)."""
    store.states.ensure(key)
    item = RetryItem(record_id, ChangeType.UPDATE, version, "row too large", START, START)
    store.retries.give_up_at_once(key, item)


def all_queued(store: ControlStore, clock: MovableClock, key: SyncKey) -> dict[str, QueuedRecord]:
    saved = clock.now
    clock.now = saved + timedelta(days=365)
    try:
        return {entry.record_id: entry for entry in store.retries.due(key, limit=10_000)}
    finally:
        clock.now = saved


def fail_subject(store: ControlStore, key: SyncKey) -> None:
    state = store.states.ensure(key)
    store.states.set_phase(key, EntityPhase.FAILED, expected_revision=state.revision, reason="denied", error="denied")


def test_start_queues_every_failed_record_due_now_and_keeps_them_in_the_failed_sets(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    give_up(control_store, CONTACT, ID_A, version=7)
    give_up(control_store, LINKS, ID_B)
    store_clock.advance(3600)

    run = control_store.resyncs.start(PROFILE, store_clock.now)

    assert (run.profile_id, run.state, run.queued_records, run.succeeded, run.failed) == (
        PROFILE,
        ResyncState.RUNNING,
        2,
        0,
        0,
    )
    assert (run.started_at, run.completed_at) == (store_clock.now, None)
    [entry] = control_store.retries.due(CONTACT)
    assert (entry.record_id, entry.version, entry.attempts, entry.next_attempt_at) == (ID_A, 7, 0, store_clock.now)
    assert control_store.failed.failed_ids(CONTACT) == {ID_A}
    assert control_store.failed.failed_ids(LINKS) == {ID_B}
    assert control_store.resyncs.queued_runs(CONTACT, [ID_A, ID_B]) == {ID_A: run.run_id}
    assert control_store.resyncs.latest(PROFILE) == run


def test_removed_subjects_and_other_profiles_are_left_out(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    give_up(control_store, CONTACT, ID_A)
    give_up(control_store, ACCOUNT, ID_B)
    give_up(control_store, SyncKey("profile-2", "contact"), ID_B)
    state = control_store.states.ensure(ACCOUNT)
    control_store.states.set_phase(ACCOUNT, EntityPhase.REMOVED, expected_revision=state.revision)

    run = control_store.resyncs.start(PROFILE, store_clock.now)

    assert run.queued_records == 1
    assert all_queued(control_store, store_clock, ACCOUNT) == {}
    assert control_store.resyncs.latest("profile-2") is None


def test_a_second_start_while_running_is_refused_and_writes_nothing(
    control_store: ControlStore, other_control_store: ControlStore, store_clock: MovableClock
) -> None:
    give_up(control_store, CONTACT, ID_A)
    first = control_store.resyncs.start(PROFILE, store_clock.now)
    store_clock.advance(1)
    with pytest.raises(ResyncInProgress, match=f"{first.run_id} is still running.*profile_id={PROFILE}"):
        other_control_store.resyncs.start(PROFILE, store_clock.now)
    assert control_store.resyncs.latest(PROFILE) == first
    assert control_store.resyncs.start("profile-2", store_clock.now).state is ResyncState.COMPLETED


def test_concurrent_starts_let_exactly_one_win(
    control_store: ControlStore, other_control_store: ControlStore, store_clock: MovableClock
) -> None:
    give_up(control_store, CONTACT, ID_A)
    barrier = threading.Barrier(2)
    runs: list[ResyncRun] = []
    refused: list[ResyncInProgress] = []

    def start(store: ControlStore) -> None:
        barrier.wait()
        try:
            runs.append(store.resyncs.start(PROFILE, store_clock.now))
        except ResyncInProgress as error:
            refused.append(error)

    threads = [threading.Thread(target=start, args=(store,)) for store in (control_store, other_control_store)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert (len(runs), len(refused)) == (1, 1)
    assert all_queued(control_store, store_clock, CONTACT)[ID_A].attempts == 0


def test_with_no_failed_record_the_run_completes_at_once(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    run = control_store.resyncs.start(PROFILE, store_clock.now)
    assert (run.state, run.queued_records, run.completed_at) == (ResyncState.COMPLETED, 0, store_clock.now)
    store_clock.advance(1)
    assert control_store.resyncs.start(PROFILE, store_clock.now).run_id != run.run_id  # not running: may start again


def test_outcomes_add_up_and_the_run_completes_when_its_last_entry_left(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    give_up(control_store, CONTACT, ID_A)
    give_up(control_store, CONTACT, ID_B)
    run = control_store.resyncs.start(PROFILE, store_clock.now)
    control_store.retries.clear_succeeded(CONTACT, {ID_A: 9})
    control_store.resyncs.record_outcome(run.run_id, 1, 0)
    store_clock.advance(5)
    running = control_store.resyncs.complete_if_done(run.run_id, store_clock.now)
    assert running is not None and (running.state, running.succeeded) == (ResyncState.RUNNING, 1)

    control_store.retries.give_up(CONTACT, ID_B, error="still too large", attempts=3)
    control_store.resyncs.record_outcome(run.run_id, 0, 1)
    store_clock.advance(5)
    done = control_store.resyncs.complete_if_done(run.run_id, store_clock.now)
    assert done is not None
    assert (done.state, done.succeeded, done.failed, done.completed_at) == (
        ResyncState.COMPLETED,
        1,
        1,
        store_clock.now,
    )
    store_clock.advance(5)
    assert control_store.resyncs.complete_if_done(run.run_id, store_clock.now) == done  # idempotent
    assert control_store.resyncs.complete_if_done("no-such-run", store_clock.now) is None


def test_failed_subjects_resume_where_their_links_say(control_store: ControlStore, store_clock: MovableClock) -> None:
    control_store.states.ensure(CONTACT)
    lease = control_store.leases.acquire(CONTACT, "w", timedelta(seconds=60))
    assert lease is not None
    state = control_store.states.set_phase(CONTACT, EntityPhase.INITIAL_SYNC, expected_revision=1)
    control_store.states.complete_initial_sync(
        lease, delta_link="https://org/delta", counters=state.counters, expected_revision=state.revision,
        poll_started_at=START,
    )  # fmt: skip
    control_store.leases.release(lease)
    fail_subject(control_store, CONTACT)
    fail_subject(control_store, ACCOUNT)  # failed before its initial sync completed
    store_clock.advance(60)

    moved = control_store.resyncs.reactivate_failed(PROFILE)

    assert set(moved) == {CONTACT, ACCOUNT}
    contact, account = control_store.states.load(CONTACT), control_store.states.load(ACCOUNT)
    assert contact is not None and account is not None
    assert (contact.phase, contact.link, contact.link_kind) == (EntityPhase.DELTA, "https://org/delta", LinkKind.DELTA)
    assert (account.phase, account.state_reason) == (EntityPhase.INITIAL_SYNC, REACTIVATED_REASON)
    assert account.initial_sync_started_at == store_clock.now
    assert control_store.resyncs.reactivate_failed(PROFILE) == []


def test_start_re_attempts_failed_subjects_and_their_records(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    give_up(control_store, LEAD, ID_A)
    fail_subject(control_store, LEAD)
    run = control_store.resyncs.start(PROFILE, store_clock.now)
    lead = control_store.states.load(LEAD)
    assert lead is not None and lead.phase is EntityPhase.INITIAL_SYNC
    assert (run.state, run.queued_records) == (ResyncState.RUNNING, 1)


def test_a_run_whose_subject_failed_again_is_completed_and_another_may_start(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    give_up(control_store, CONTACT, ID_A)
    stuck = control_store.resyncs.start(PROFILE, store_clock.now)
    fail_subject(control_store, CONTACT)  # its entry can no longer settle
    store_clock.advance(10)
    fresh = control_store.resyncs.start(PROFILE, store_clock.now)
    assert fresh.run_id != stuck.run_id
    old = control_store.resyncs.complete_if_done(stuck.run_id, store_clock.now)
    assert old is not None and (old.state, old.completed_at) == (ResyncState.COMPLETED, store_clock.now)
    assert fresh.queued_records == 0  # the record already waits in the queue (for the older run)


def test_a_run_and_its_queue_survive_a_restart(
    control_db_url: str, control_store: ControlStore, store_clock: MovableClock
) -> None:
    give_up(control_store, CONTACT, ID_A)
    run = control_store.resyncs.start(PROFILE, store_clock.now)
    control_store.close()
    with open_store(control_db_url, clock=store_clock) as restarted:
        assert restarted.resyncs.latest(PROFILE) == run
        assert restarted.resyncs.queued_runs(CONTACT, [ID_A]) == {ID_A: run.run_id}
        with pytest.raises(ResyncInProgress):
            restarted.resyncs.start(PROFILE, store_clock.now)


def test_upgrade_from_0001_keeps_queued_entries(control_db_url: str) -> None:
    engine = create_control_engine(control_db_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0001")
            connection.execute(
                text(
                    "INSERT INTO retry_queue (profile_id, kind, entity, record_id, change_type, version, attempts,"
                    " next_attempt_at, last_error, notification_time, first_failed_at) VALUES ('p', 'entity',"
                    " 'contact', :id, 'Update', 3, 2, :at, 'too large', :at, :at)"
                ),
                {"id": ID_A, "at": START},
            )
        upgrade_to_head(engine)
        assert current_revision(engine) == head_revision()
        assert "resync_runs" in inspect(engine).get_table_names()
        with engine.connect() as connection:
            row = connection.execute(text("SELECT attempts, resync_run_id FROM retry_queue")).one()
        assert tuple(row) == (2, None)
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0001")
        assert "resync_runs" not in inspect(engine).get_table_names()
        assert "resync_run_id" not in {column["name"] for column in inspect(engine).get_columns("retry_queue")}
    finally:
        engine.dispose()


def test_retention_is_a_setting_and_spares_failed_sets_and_runs(control_db_url: str, store_clock: MovableClock) -> None:
    with open_store(control_db_url, clock=store_clock, ledger_retention=timedelta(days=2)) as store:
        give_up(store, CONTACT, ID_A)
        run = store.resyncs.start(PROFILE, store_clock.now)
        store_clock.advance(timedelta(days=1).total_seconds())
        store.ledger.append(PROFILE, [FailureEntry("contact", None, store_clock.now, ChangeType.UPDATE, "outage")])
        store_clock.advance(timedelta(days=1, seconds=1).total_seconds())

        purged = store.purge_expired()

        assert purged.ledger_entries == 1
        assert [entry.entry.reason for entry in store.ledger.list(PROFILE)] == ["outage"]
        assert store.failed.failed_ids(CONTACT) == {ID_A}
        assert store.resyncs.latest(PROFILE) == run


def test_the_default_retention_is_30_days(control_store: ControlStore, store_clock: MovableClock) -> None:
    give_up(control_store, CONTACT, ID_A)
    store_clock.advance(timedelta(days=30).total_seconds())
    assert control_store.purge_expired().ledger_entries == 0
    store_clock.advance(1)
    assert control_store.purge_expired().ledger_entries == 1
    assert control_store.failed.failed_ids(CONTACT) == {ID_A}
