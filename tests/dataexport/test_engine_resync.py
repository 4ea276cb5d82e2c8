"""``resyncfailed`` end to end in the engine (DES §8.7, §8.2, §8.4 ``data/``): a scripted organization, a memory
destination and a real SQLite control store; the failed records are re-read, written, counted for the run."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from test_engine_support import CONTACT, PROFILE_ID, Harness, contact_row, guid, make_profile

from dataexport.blobs.local import LocalFailureFiles
from dataexport.blobs.signing import UrlSigner
from dataexport.domain.profile import ActivationMode, ProfileState
from dataexport.domain.sync import EntityPhase
from dataexport.engine import (
    EngineSettings,
    ProfileRunner,
    ResyncNotActive,
    start_resync,
)
from dataexport.service.status import ResyncStatus
from dataexport.source.errors import ChangeTrackingDisabled
from dataexport.store import open_store
from dataexport.store.errors import ResyncInProgress
from dataexport.store.values import FailureLog, ResyncState

pytest_plugins = ["test_engine_support"]


def failure_store(root: Path) -> LocalFailureFiles:
    """The local failure store with its ``data/`` folder (DES §8.4)."""
    return LocalFailureFiles(root, UrlSigner(b"resync-test-signing-key-32-bytes"), "http://127.0.0.1:8080")


def active(harness: Harness, *, retry_count: int, retry_interval: int = 60) -> None:
    """Make the harness profile an Active/Full one with these retry rules."""
    profile = make_profile(retry_count=retry_count, retry_interval=retry_interval)
    harness.profile = profile.model_copy(update={"state": ProfileState.ACTIVE, "activation_mode": ActivationMode.FULL})


def runner(harness: Harness, settings: EngineSettings | None = None) -> ProfileRunner:
    return ProfileRunner(
        harness.profile,
        source=harness.source,
        destination=harness.destination,
        store=harness.store,
        failure_store=failure_store(harness.tmp_path / "failures"),
        settings=settings or harness.settings,
        clock=harness.clock,
        sleep=harness.sleeps.append,
    )


def lines(harness: Harness, log: FailureLog) -> list[str]:
    root = harness.tmp_path / "failures" / PROFILE_ID / log.value
    return [line for path in sorted(root.rglob("*.log")) for line in path.read_text(encoding="utf-8").splitlines()]


def data_files(harness: Harness) -> list[Path]:
    root = harness.tmp_path / "failures" / PROFILE_ID / "data"
    return sorted(root.rglob("*.json")) if root.exists() else []


def latest_status(harness: Harness) -> ResyncStatus | None:
    """The profile's last run as the API's ``Status.Resync`` shows it."""
    run = harness.store.resyncs.latest(PROFILE_ID)
    return None if run is None else ResyncStatus.of(run)


def give_up_contact_2(harness: Harness, sync: ProfileRunner) -> None:
    """Baseline contacts 1 and 2; contact 2 is refused and given up at once (the profile has RetryCount 0)."""
    harness.memory.reject(guid(2), "value too long for column")
    harness.source.script_baseline(CONTACT, [contact_row(1, 11), contact_row(2, 12, creditlimit=12.5)])
    sync.run_once()
    assert harness.store.failed.failed_ids(harness.key()) == {guid(2)}


def test_a_fixed_record_is_re_read_synced_and_leaves_the_failed_set(harness: Harness) -> None:
    active(harness, retry_count=0)
    sync = runner(harness)
    give_up_contact_2(harness, sync)
    harness.memory.accept(guid(2))  # the administrator fixed the cause; the record did not change since
    harness.source.script_record(CONTACT, guid(2), contact_row(2, 13, "Current"))
    harness.clock.advance(600)

    run = start_resync(harness.store, harness.profile, harness.clock.now)
    assert (run.state, run.queued_records) == (ResyncState.RUNNING, 1)
    assert harness.state().failed_records == 1  # stays in the failed set until it syncs

    sync.run_once()

    assert harness.names()[guid(2)] == "Current"  # re-read by id: the current version was written
    assert harness.store.failed.failed_ids(harness.key()) == set()
    assert harness.state().failed_records == 0
    status = latest_status(harness)
    assert status is not None
    assert status.model_dump(by_alias=True, mode="json") == {
        "RunId": run.run_id,
        "State": "Completed",
        "QueuedRecords": 1,
        "Succeeded": 1,
        "Failed": 0,
        "StartedOn": "2025-03-07T14:15:09Z",
        "CompletedOn": "2025-03-07T14:15:09Z",
    }
    assert lines(harness, FailureLog.FORCE_REFRESH) == []
    assert len(lines(harness, FailureLog.FAILURE)) == 1


def test_a_record_still_failing_gets_retry_count_retries_and_a_force_refresh_line(harness: Harness) -> None:
    active(harness, retry_count=0)
    sync = runner(harness)
    give_up_contact_2(harness, sync)
    harness.profile = harness.profile.model_copy(update={"retry_count": 2, "retry_interval": 60})
    sync = runner(harness)
    harness.source.script_record(CONTACT, guid(2), contact_row(2, 12))
    run = start_resync(harness.store, harness.profile, harness.clock.now)

    for _attempt in range(2):  # attempt 1 and retry 1 fail; the record waits RetryInterval in between
        sync.run_once()
        assert harness.store.retries.next_due_at(harness.key()) == harness.clock.now + timedelta(seconds=60)
        assert lines(harness, FailureLog.FORCE_REFRESH) == []
        harness.clock.advance(60)
    sync.run_once()  # retry 2 = RetryCount: given up again

    assert harness.store.retries.queued_count(harness.key()) == 0
    assert harness.store.failed.failed_ids(harness.key()) == {guid(2)}
    assert harness.state().failed_records == 1
    [line] = lines(harness, FailureLog.FORCE_REFRESH)
    assert f"RecordId: {guid(2)}" in line and "FailureReason: value too long for column" in line
    assert len(lines(harness, FailureLog.FAILURE)) == 1  # only the original give-up
    forced = [entry for entry in harness.store.ledger.list(PROFILE_ID) if entry.log is FailureLog.FORCE_REFRESH]
    assert [entry.attempts for entry in forced] == [3]
    status = latest_status(harness)
    assert status is not None and (status.state, status.succeeded, status.failed) == (ResyncState.COMPLETED, 0, 1)
    assert status.run_id == run.run_id


def test_a_record_deleted_meanwhile_takes_the_delete_path(harness: Harness) -> None:
    active(harness, retry_count=0)
    sync = runner(harness)
    give_up_contact_2(harness, sync)
    harness.memory.accept(guid(2))
    harness.source.script_record(CONTACT, guid(2), None)  # 404 on the re-read
    start_resync(harness.store, harness.profile, harness.clock.now)
    sync.run_once()
    assert harness.store.failed.failed_ids(harness.key()) == set()
    assert guid(2) in harness.store.tombstones.load(harness.key(), [guid(2)])
    status = latest_status(harness)
    assert status is not None and (status.state, status.succeeded) == (ResyncState.COMPLETED, 1)


def test_a_newer_change_from_the_stream_settles_the_entry_and_counts_as_succeeded(harness: Harness) -> None:
    active(harness, retry_count=0)
    sync = runner(harness, replace(harness.settings, retries_per_step=0))  # only the stream may settle it
    harness.memory.reject(guid(2))
    final = harness.source.script_baseline(CONTACT, [contact_row(2, 12)])
    sync.run_once()
    start_resync(harness.store, harness.profile, harness.clock.now)
    harness.memory.accept(guid(2))
    harness.source.script_delta(final, [contact_row(2, 20, "Newer")])
    sync.run_once()
    assert harness.names()[guid(2)] == "Newer"
    status = latest_status(harness)
    assert status is not None and (status.state, status.succeeded, status.failed) == (ResyncState.COMPLETED, 1, 0)


def test_a_second_start_while_running_is_refused(harness: Harness) -> None:
    active(harness, retry_count=0)
    give_up_contact_2(harness, runner(harness))
    first = start_resync(harness.store, harness.profile, harness.clock.now)
    with pytest.raises(ResyncInProgress, match="still running"):
        start_resync(harness.store, harness.profile, harness.clock.now)
    status = latest_status(harness)
    assert status is not None and (status.run_id, status.state) == (first.run_id, ResyncState.RUNNING)


@pytest.mark.parametrize("state", [ProfileState.DRAFT, ProfileState.INACTIVE, ProfileState.FAILED])
def test_a_profile_that_is_not_active_is_refused(harness: Harness, state: ProfileState) -> None:
    harness.profile = make_profile(retry_count=0)
    give_up_contact_2(harness, runner(harness))
    harness.profile = harness.profile.model_copy(update={"state": state})
    with pytest.raises(ResyncNotActive, match=f"Profile is {state.value}, not Active: activate it"):
        start_resync(harness.store, harness.profile, harness.clock.now)
    assert latest_status(harness) is None
    assert harness.store.retries.queued_count(harness.key()) == 0


def test_with_no_failed_record_the_run_completes_at_once(harness: Harness) -> None:
    active(harness, retry_count=0)
    harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    runner(harness).run_once()
    run = start_resync(harness.store, harness.profile, harness.clock.now)
    assert (run.state, run.queued_records, run.completed_at) == (ResyncState.COMPLETED, 0, harness.clock.now)


def test_a_failed_entity_is_re_attempted_from_its_saved_link(harness: Harness) -> None:
    active(harness, retry_count=0)
    sync = runner(harness)
    final = harness.source.script_baseline(CONTACT, [contact_row(1, 11)])
    sync.run_once()
    following = harness.source.script_delta(final, [contact_row(2, 12)])
    disabled = ChangeTrackingDisabled("Change tracking is not enabled", status=400, entity=CONTACT)
    harness.source.inject(CONTACT, disabled, at=final)
    sync.run_once()
    assert harness.state().phase is EntityPhase.FAILED
    sync.run_once()
    assert guid(2) not in harness.names()  # parked until an administrator acts

    run = start_resync(harness.store, harness.profile, harness.clock.now)
    assert run.state is ResyncState.COMPLETED  # no failed record: only the entity was re-attempted
    assert harness.state().phase is EntityPhase.DELTA
    summary = sync.run_once()
    assert summary.ok
    assert guid(2) in harness.names()
    assert harness.state().link == following.url


def test_a_restart_mid_run_keeps_the_run_and_its_queue(harness: Harness) -> None:
    active(harness, retry_count=0)
    harness.memory.reject(guid(1))
    harness.memory.reject(guid(2))
    harness.source.script_baseline(CONTACT, [contact_row(1, 11), contact_row(2, 12)])
    runner(harness).run_once()
    harness.memory.accept(guid(1))
    harness.memory.accept(guid(2))
    harness.source.script_record(CONTACT, guid(1), contact_row(1, 11))
    harness.source.script_record(CONTACT, guid(2), contact_row(2, 12))
    run = start_resync(harness.store, harness.profile, harness.clock.now)
    runner(harness, replace(harness.settings, retries_per_step=1)).run_once()  # one of two, then "crash"
    harness.store.close()

    harness.store = open_store(f"sqlite:///{harness.tmp_path / 'control.db'}", clock=harness.clock)
    status = latest_status(harness)
    assert status is not None and (status.run_id, status.state, status.succeeded) == (run.run_id, "Running", 1)
    assert harness.store.retries.queued_count(harness.key()) == 1
    runner(harness).run_once()
    status = latest_status(harness)
    assert status is not None and (status.state, status.succeeded, status.failed) == (ResyncState.COMPLETED, 2, 0)
    assert set(harness.names()) == {guid(1), guid(2)}
    assert harness.state().failed_records == 0


def test_a_given_up_record_is_written_as_read_under_data(harness: Harness) -> None:
    active(harness, retry_count=0)
    give_up_contact_2(harness, runner(harness))
    [path] = data_files(harness)
    assert path.relative_to(harness.tmp_path / "failures" / PROFILE_ID).as_posix() == (
        f"data/2025/03/07/14/contact_{guid(2)}_20250307T140509Z.json"
    )
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "contactid": guid(2),
        "creditlimit": "12.5",
        "description": None,
        "fullname": "Contact 2",
        "versionnumber": 12,
    }


def test_a_record_given_up_after_retries_is_written_as_last_read(harness: Harness) -> None:
    active(harness, retry_count=1, retry_interval=60)
    sync = runner(harness)
    harness.memory.reject(guid(2))
    harness.source.script_baseline(CONTACT, [contact_row(2, 12)])
    harness.source.script_record(CONTACT, guid(2), contact_row(2, 14, "Re-read"))
    sync.run_once()
    assert data_files(harness) == []  # still waiting in the queue
    harness.clock.advance(60)
    sync.run_once()
    [path] = data_files(harness)
    assert json.loads(path.read_text(encoding="utf-8"))["fullname"] == "Re-read"


def test_the_data_folder_can_be_switched_off(harness: Harness) -> None:
    active(harness, retry_count=0)
    give_up_contact_2(harness, runner(harness, replace(harness.settings, write_record_data=False)))
    assert data_files(harness) == []
    assert len(lines(harness, FailureLog.FAILURE)) == 1
