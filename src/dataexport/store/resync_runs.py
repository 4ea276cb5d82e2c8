"""``resyncfailed`` runs (DES §8.7, §2.2 ``Resync``): start one, count its outcomes, complete it.

Starting a run is one transaction: it refuses while another run of the profile is running (a partial unique
index backs the check, so two concurrent starts cannot both win), moves every ``Failed`` subject of the
profile back to ``InitialSync`` or ``Delta``, and puts every failed record of the profile's live subjects in
the retry queue, due now, with no attempt counted yet and the run's id. The ids stay in their failed sets
until they sync. The engine's retries then count each entry's outcome for the run, and the run completes
when none of its entries remains in a subject that can still make progress (not ``Failed``, not ``Removed``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Select, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dataexport.domain.sync import EntityPhase, can_transition
from dataexport.store.errors import ResyncInProgress
from dataexport.store.models import EntityStateRow, FailedRecordRow, ResyncRunRow, RetryQueueRow
from dataexport.store.transactions import Database, chunked
from dataexport.store.values import ResyncRun, ResyncState, SyncKey

#: ``StateReason`` of a subject whose read restarts because a ``Failed`` subject was re-attempted.
REACTIVATED_REASON = "Re-attempted after failure"
#: Phases in which a subject's step makes no progress, so its queued entries cannot settle.
_STUCK = (EntityPhase.FAILED, EntityPhase.REMOVED)


def to_run(row: ResyncRunRow) -> ResyncRun:
    """The value of a run row."""
    return ResyncRun(
        row.run_id,
        row.profile_id,
        row.state,
        row.queued_records,
        row.succeeded,
        row.failed,
        row.started_at,
        row.completed_at,
    )


def phase_after_failure(row: EntityStateRow) -> EntityPhase:
    """Where a ``Failed`` subject resumes: ``Delta`` once a delta link is saved, else its (re-)read."""
    return EntityPhase.DELTA if row.last_delta_link is not None else EntityPhase.INITIAL_SYNC


def reactivate_rows(session: Session, profile_id: str, now: datetime) -> list[SyncKey]:
    """Move every ``Failed`` subject of the profile to the phase it resumes in, in the caller's transaction.

    Links and counters are kept, so the next step resumes from the saved link; the revision is bumped, so a
    worker acting on the old state reloads it.
    """
    query = select(EntityStateRow).where(
        EntityStateRow.profile_id == profile_id, EntityStateRow.phase == EntityPhase.FAILED
    )
    moved: list[SyncKey] = []
    for row in session.scalars(query.with_for_update()):
        phase = phase_after_failure(row)
        if not can_transition(row.phase, phase):
            continue
        if phase is EntityPhase.INITIAL_SYNC:
            row.initial_sync_started_at = now
        row.phase = phase
        row.state_reason = REACTIVATED_REASON if phase is EntityPhase.INITIAL_SYNC else None
        row.revision += 1
        row.modified_at = now
        moved.append(row.key)
    return moved


def _queue_failed(session: Session, profile_id: str, run_id: str, now: datetime) -> int:
    """Queue the profile's failed records (of subjects not ``Removed``) for ``run_id``; returns how many.

    A record already queued (a newer change being retried) is left to that entry.
    """
    live = (
        select(FailedRecordRow)
        .join(
            EntityStateRow,
            (EntityStateRow.profile_id == FailedRecordRow.profile_id)
            & (EntityStateRow.kind == FailedRecordRow.kind)
            & (EntityStateRow.entity == FailedRecordRow.entity),
        )
        .where(FailedRecordRow.profile_id == profile_id, EntityStateRow.phase != EntityPhase.REMOVED)
    )
    queued = {
        (row.kind, row.entity, row.record_id)
        for row in session.execute(
            select(RetryQueueRow.kind, RetryQueueRow.entity, RetryQueueRow.record_id).where(
                RetryQueueRow.profile_id == profile_id
            )
        )
    }
    count = 0
    for member in session.scalars(live):
        if (member.kind, member.entity, member.record_id) in queued:
            continue
        session.add(_entry(member, run_id, now))
        count += 1
    return count


def _entry(member: FailedRecordRow, run_id: str, now: datetime) -> RetryQueueRow:
    """A retry-queue entry for a failed-set member: due now, no attempt counted yet (a fresh count)."""
    return RetryQueueRow(
        profile_id=member.profile_id,
        kind=member.kind,
        entity=member.entity,
        record_id=member.record_id,
        change_type=member.change_type,
        version=member.version,
        attempts=0,
        next_attempt_at=now,
        last_error=member.last_error,
        notification_time=now,
        first_failed_at=member.failed_at,
        resync_run_id=run_id,
    )


def _has_live_entries(session: Session, run_id: str) -> bool:
    """Whether an entry of the run waits in a subject whose steps still run."""
    live = (
        select(RetryQueueRow.record_id)
        .join(
            EntityStateRow,
            (EntityStateRow.profile_id == RetryQueueRow.profile_id)
            & (EntityStateRow.kind == RetryQueueRow.kind)
            & (EntityStateRow.entity == RetryQueueRow.entity),
        )
        .where(RetryQueueRow.resync_run_id == run_id, EntityStateRow.phase.not_in(_STUCK))
    )
    return bool(session.scalar(select(exists(live))))


def _complete_if_done(session: Session, run: ResyncRunRow, now: datetime) -> None:
    if run.state is ResyncState.RUNNING and not _has_live_entries(session, run.run_id):
        run.state, run.completed_at = ResyncState.COMPLETED, now


class SqlResyncRuns:
    """:class:`~dataexport.store.base.ResyncRuns` over the control database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def start(self, profile_id: str, now: datetime) -> ResyncRun:
        """See :meth:`dataexport.store.base.ResyncRuns.start`."""
        with self._db.write() as session:
            for running in session.scalars(self._running(profile_id).with_for_update()):
                _complete_if_done(session, running, now)  # a run left behind by a crash or a failed subject
                if running.state is ResyncState.RUNNING:
                    raise _in_progress(profile_id, running.run_id)
            run = ResyncRunRow(
                run_id=str(uuid.uuid4()),
                profile_id=profile_id,
                state=ResyncState.RUNNING,
                queued_records=0,
                succeeded=0,
                failed=0,
                started_at=now,
            )
            session.add(run)
            try:
                session.flush()
            except IntegrityError as error:  # another start committed first
                raise _in_progress(profile_id, None) from error
            reactivate_rows(session, profile_id, now)
            run.queued_records = _queue_failed(session, profile_id, run.run_id, now)
            session.flush()
            _complete_if_done(session, run, now)
            return to_run(run)

    def latest(self, profile_id: str) -> ResyncRun | None:
        """See :meth:`dataexport.store.base.ResyncRuns.latest`."""
        query = (
            select(ResyncRunRow)
            .where(ResyncRunRow.profile_id == profile_id)
            .order_by(ResyncRunRow.started_at.desc(), ResyncRunRow.run_id.desc())
            .limit(1)
        )
        with self._db.read() as session:
            row = session.scalars(query).one_or_none()
            return None if row is None else to_run(row)

    def queued_runs(self, key: SyncKey, record_ids: Iterable[str]) -> dict[str, str]:
        """See :meth:`dataexport.store.base.ResyncRuns.queued_runs`."""
        found: dict[str, str] = {}
        with self._db.read() as session:
            for ids in chunked(dict.fromkeys(record_ids)):
                query = select(RetryQueueRow.record_id, RetryQueueRow.resync_run_id).where(
                    RetryQueueRow.is_key(key),
                    RetryQueueRow.record_id.in_(ids),
                    RetryQueueRow.resync_run_id.is_not(None),
                )
                found.update({record_id: run_id for record_id, run_id in session.execute(query) if run_id})
        return found

    def record_outcome(self, run_id: str, succeeded: int, failed: int) -> None:
        """See :meth:`dataexport.store.base.ResyncRuns.record_outcome`."""
        if not (succeeded or failed):
            return
        statement = (
            update(ResyncRunRow)
            .where(ResyncRunRow.run_id == run_id)
            .values(succeeded=ResyncRunRow.succeeded + succeeded, failed=ResyncRunRow.failed + failed)
        )
        with self._db.write() as session:
            session.execute(statement)

    def complete_if_done(self, run_id: str, now: datetime) -> ResyncRun | None:
        """See :meth:`dataexport.store.base.ResyncRuns.complete_if_done`."""
        with self._db.write() as session:
            run = session.get(ResyncRunRow, run_id, with_for_update=True)
            if run is None:
                return None
            _complete_if_done(session, run, now)
            return to_run(run)

    def reactivate_failed(self, profile_id: str) -> list[SyncKey]:
        """See :meth:`dataexport.store.base.ResyncRuns.reactivate_failed`."""
        now = self._db.now()
        with self._db.write() as session:
            return reactivate_rows(session, profile_id, now)

    @staticmethod
    def _running(profile_id: str) -> Select[ResyncRunRow]:
        return select(ResyncRunRow).where(
            ResyncRunRow.profile_id == profile_id, ResyncRunRow.state == ResyncState.RUNNING
        )


def _in_progress(profile_id: str, run_id: str | None) -> ResyncInProgress:
    run = f" {run_id}" if run_id else ""
    return ResyncInProgress(
        f"A resyncfailed run{run} is still running: wait until Status.Resync.State is Completed, then call again",
        profile_id=profile_id,
    )
