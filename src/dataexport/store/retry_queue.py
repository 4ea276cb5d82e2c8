"""The durable retry queue and the give-up path to the failed set and the ledger (DES §8.2).

Only the subject's lease holder writes its queue (retries run inside the entity's step), so the
read-decide-write of :meth:`SqlRetryQueue.enqueue` runs under one writer; each method is one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dataexport.domain.failures import ChangeType, FailureEntry
from dataexport.store.ledger import append_entry
from dataexport.store.models import FailedRecordRow, RetryQueueRow
from dataexport.store.transactions import Database, chunked
from dataexport.store.values import Cleared, FailureLog, LedgerEntry, QueuedRecord, RetryItem, SyncKey

R = TypeVar("R", RetryQueueRow, FailedRecordRow)


def is_same_change(version: int | None, change_type: ChangeType, item: RetryItem) -> bool:
    """Whether ``item`` is the change already stored (a replayed page), not a new one."""
    return version == item.version and change_type is item.change_type


def replaces(version: int | None, change_type: ChangeType, item: RetryItem) -> bool:
    """Whether ``item`` supersedes a queued change: newer, or of another kind; never the same or an older one."""
    if is_same_change(version, change_type, item):
        return False
    return version is None or item.version is None or item.version >= version


def supersedes(succeeded: int | None, stored: int | None) -> bool:
    """Whether a success at version ``succeeded`` (None: a delete) settles an entry stored at ``stored``."""
    return succeeded is None or stored is None or succeeded >= stored


def to_queued(row: RetryQueueRow) -> QueuedRecord:
    """The value of a queue row."""
    return QueuedRecord(
        key=row.key,
        record_id=row.record_id,
        change_type=row.change_type,
        version=row.version,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        notification_time=row.notification_time,
        first_failed_at=row.first_failed_at,
    )


def _by_id(session: Session, model: type[R], key: SyncKey, ids: list[str]) -> dict[str, R]:
    rows = session.scalars(select(model).where(model.is_key(key), model.record_id.in_(ids)))
    return {row.record_id: row for row in rows}


class SqlRetryQueue:
    """:class:`~dataexport.store.base.RetryQueue` over the control database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def enqueue(self, key: SyncKey, items: Sequence[RetryItem]) -> int:
        """See :meth:`dataexport.store.base.RetryQueue.enqueue`."""
        latest = {item.record_id: item for item in items}
        now = self._db.now()
        written = 0
        with self._db.write() as session:
            for chunk in chunked(list(latest.values())):
                ids = [item.record_id for item in chunk]
                queued = _by_id(session, RetryQueueRow, key, ids)
                failed = _by_id(session, FailedRecordRow, key, ids)
                for item in chunk:
                    current, member = queued.get(item.record_id), failed.get(item.record_id)
                    written += self._enqueue_one(session, key, item, current, member, now)
        return written

    @staticmethod
    def _enqueue_one(
        session: Session,
        key: SyncKey,
        item: RetryItem,
        queued: RetryQueueRow | None,
        failed: FailedRecordRow | None,
        now: datetime,
    ) -> int:
        if failed is not None:
            if is_same_change(failed.version, failed.change_type, item):
                return 0  # given up at this very change: only a new change is attempted again (§8.2 step 6)
            session.delete(failed)
        if queued is not None and not replaces(queued.version, queued.change_type, item):
            return 0
        if queued is None:
            queued = RetryQueueRow(profile_id=key.profile_id, kind=key.kind, entity=key.name, record_id=item.record_id)
            session.add(queued)
        queued.change_type, queued.version, queued.attempts = item.change_type, item.version, 1
        queued.next_attempt_at, queued.last_error = item.next_attempt_at, item.error
        queued.notification_time, queued.first_failed_at = item.notification_time, now
        return 1

    def due(self, key: SyncKey, *, limit: int = 100) -> list[QueuedRecord]:
        """See :meth:`dataexport.store.base.RetryQueue.due`."""
        query = (
            select(RetryQueueRow)
            .where(RetryQueueRow.is_key(key), RetryQueueRow.next_attempt_at <= self._db.now())
            .order_by(RetryQueueRow.next_attempt_at, RetryQueueRow.record_id)
            .limit(limit)
        )
        with self._db.read() as session:
            return [to_queued(row) for row in session.scalars(query)]

    def next_due_at(self, key: SyncKey) -> datetime | None:
        """See :meth:`dataexport.store.base.RetryQueue.next_due_at`."""
        with self._db.read() as session:
            return session.scalar(select(func.min(RetryQueueRow.next_attempt_at)).where(RetryQueueRow.is_key(key)))

    def mark_attempt(
        self, key: SyncKey, record_id: str, *, error: str, next_attempt_at: datetime
    ) -> QueuedRecord | None:
        """See :meth:`dataexport.store.base.RetryQueue.mark_attempt`."""
        with self._db.write() as session:
            row = self._locked(session, key, record_id)
            if row is None:
                return None
            row.attempts += 1
            row.last_error, row.next_attempt_at = error, next_attempt_at
            return to_queued(row)

    def give_up(
        self, key: SyncKey, record_id: str, *, error: str, attempts: int, log: FailureLog = FailureLog.FAILURE
    ) -> LedgerEntry | None:
        """See :meth:`dataexport.store.base.RetryQueue.give_up`."""
        with self._db.write() as session:
            row = self._locked(session, key, record_id)
            if row is None:
                return None
            item = RetryItem(
                row.record_id, row.change_type, row.version, error, row.notification_time, row.next_attempt_at
            )
            session.delete(row)
            return self._fail(session, key, item, attempts, log)

    def give_up_at_once(
        self, key: SyncKey, item: RetryItem, *, attempts: int = 1, log: FailureLog = FailureLog.FAILURE
    ) -> LedgerEntry:
        """See :meth:`dataexport.store.base.RetryQueue.give_up_at_once`."""
        with self._db.write() as session:
            queued = self._locked(session, key, item.record_id)
            if queued is not None:
                session.delete(queued)
            return self._fail(session, key, item, attempts, log)

    def clear_succeeded(self, key: SyncKey, versions: Mapping[str, int | None]) -> Cleared:
        """See :meth:`dataexport.store.base.RetryQueue.clear_succeeded`."""
        dequeued = unfailed = 0
        with self._db.write() as session:
            for ids in chunked(list(versions)):
                queued = _by_id(session, RetryQueueRow, key, ids)
                failed = _by_id(session, FailedRecordRow, key, ids)
                for record_id, row in queued.items():
                    if supersedes(versions[record_id], row.version):
                        session.delete(row)
                        dequeued += 1
                for record_id, member in failed.items():
                    if supersedes(versions[record_id], member.version):
                        session.delete(member)
                        unfailed += 1
        return Cleared(dequeued, unfailed)

    def queued_count(self, key: SyncKey) -> int:
        """See :meth:`dataexport.store.base.RetryQueue.queued_count`."""
        with self._db.read() as session:
            query = select(func.count()).select_from(RetryQueueRow).where(RetryQueueRow.is_key(key))
            return session.scalar(query) or 0

    @staticmethod
    def _locked(session: Session, key: SyncKey, record_id: str) -> RetryQueueRow | None:
        query = select(RetryQueueRow).where(RetryQueueRow.is_key(key), RetryQueueRow.record_id == record_id)
        return session.scalars(query.with_for_update()).one_or_none()

    def _fail(self, session: Session, key: SyncKey, item: RetryItem, attempts: int, log: FailureLog) -> LedgerEntry:
        """Put ``item`` in the failed set and append its ledger entry, in the caller's transaction."""
        now = self._db.now()
        member = session.get(FailedRecordRow, (key.profile_id, key.kind, key.name, item.record_id))
        if member is None:
            member = FailedRecordRow(
                profile_id=key.profile_id, kind=key.kind, entity=key.name, record_id=item.record_id
            )
            session.add(member)
        member.change_type, member.version, member.attempts = item.change_type, item.version, attempts
        member.failed_at, member.last_error = now, item.error
        entry = FailureEntry(key.name, item.record_id, item.notification_time, item.change_type, item.error)
        return append_entry(
            session, key.profile_id, key.kind, entry, log=log, recorded_at=now, version=item.version, attempts=attempts
        )
