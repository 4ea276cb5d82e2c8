"""Failed sets: records given up whose latest attempt failed (DES §8.2 step 5, §4.4 ``FailedRecords``).

Members are added by :meth:`~dataexport.store.retry_queue.SqlRetryQueue.give_up` and removed when the
record syncs again (:meth:`~dataexport.store.retry_queue.SqlRetryQueue.clear_succeeded`) or changes again
(:meth:`~dataexport.store.retry_queue.SqlRetryQueue.enqueue`). Retention never touches them: they are state.
"""

from __future__ import annotations

from sqlalchemy import func, select

from dataexport.store.models import FailedRecordRow
from dataexport.store.transactions import Database
from dataexport.store.values import FailedRecord, SyncKey


def to_failed(row: FailedRecordRow) -> FailedRecord:
    """The value of a failed-set row."""
    return FailedRecord(
        row.key, row.record_id, row.change_type, row.version, row.attempts, row.failed_at, row.last_error
    )


class SqlFailedSets:
    """:class:`~dataexport.store.base.FailedSets` over the control database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def failed_ids(self, key: SyncKey) -> set[str]:
        """See :meth:`dataexport.store.base.FailedSets.failed_ids`."""
        with self._db.read() as session:
            return set(session.scalars(select(FailedRecordRow.record_id).where(FailedRecordRow.is_key(key))))

    def count(self, key: SyncKey) -> int:
        """See :meth:`dataexport.store.base.FailedSets.count`."""
        query = select(func.count()).select_from(FailedRecordRow).where(FailedRecordRow.is_key(key))
        with self._db.read() as session:
            return session.scalar(query) or 0

    def list(self, profile_id: str) -> list[FailedRecord]:
        """See :meth:`dataexport.store.base.FailedSets.list`."""
        query = (
            select(FailedRecordRow)
            .where(FailedRecordRow.profile_id == profile_id)
            .order_by(FailedRecordRow.kind, FailedRecordRow.entity, FailedRecordRow.record_id)
        )
        with self._db.read() as session:
            return [to_failed(row) for row in session.scalars(query)]
