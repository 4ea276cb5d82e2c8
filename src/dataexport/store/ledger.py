"""The structured failure ledger (DES §1.5, §8.3, §8.5): append-only, never edited.

Only retention (30 days) and profile deletion remove entries; a later success never does. The DES text line
is formatted by :meth:`dataexport.domain.failures.FailureEntry.format_line` from what is stored here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from dataexport.domain.failures import FailureEntry
from dataexport.store.models import LedgerRow
from dataexport.store.transactions import Database, rowcount
from dataexport.store.values import FailureLog, LedgerEntry, SyncKind


def append_entry(
    session: Session,
    profile_id: str,
    kind: SyncKind,
    entry: FailureEntry,
    *,
    log: FailureLog,
    recorded_at: datetime,
    version: int | None = None,
    attempts: int | None = None,
) -> LedgerEntry:
    """Add one entry inside the caller's transaction and return it with its id."""
    row = LedgerRow(
        profile_id=profile_id,
        kind=kind,
        entity=entry.entity,
        record_id=entry.record_id,
        version=version,
        attempts=attempts,
        notification_time=entry.notification_time,
        change_type=entry.change_type,
        reason=entry.reason,
        log=log,
        recorded_at=recorded_at,
    )
    session.add(row)
    session.flush()
    return to_entry(row)


def to_entry(row: LedgerRow) -> LedgerEntry:
    """The value of a ledger row."""
    entry = FailureEntry(row.entity, row.record_id, row.notification_time, row.change_type, row.reason)
    return LedgerEntry(row.id, row.profile_id, row.kind, entry, row.log, row.recorded_at, row.version, row.attempts)


class SqlLedger:
    """:class:`~dataexport.store.base.Ledger` over the control database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def append(
        self,
        profile_id: str,
        entries: Sequence[FailureEntry],
        *,
        kind: SyncKind = SyncKind.ENTITY,
        log: FailureLog = FailureLog.FAILURE,
    ) -> list[LedgerEntry]:
        """See :meth:`dataexport.store.base.Ledger.append`."""
        now = self._db.now()
        with self._db.write() as session:
            return [append_entry(session, profile_id, kind, entry, log=log, recorded_at=now) for entry in entries]

    def list(
        self,
        profile_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        after_id: int | None = None,
        limit: int = 1000,
    ) -> list[LedgerEntry]:
        """See :meth:`dataexport.store.base.Ledger.list`."""
        query = select(LedgerRow).where(LedgerRow.profile_id == profile_id)
        if since is not None:
            query = query.where(LedgerRow.recorded_at >= since)
        if until is not None:
            query = query.where(LedgerRow.recorded_at < until)
        if after_id is not None:
            query = query.where(LedgerRow.id > after_id)
        with self._db.read() as session:
            return [to_entry(row) for row in session.scalars(query.order_by(LedgerRow.id).limit(limit))]

    def count(self, profile_id: str, *, since: datetime | None = None) -> int:
        """See :meth:`dataexport.store.base.Ledger.count`."""
        query = select(func.count()).select_from(LedgerRow).where(LedgerRow.profile_id == profile_id)
        if since is not None:
            query = query.where(LedgerRow.recorded_at >= since)
        with self._db.read() as session:
            return session.scalar(query) or 0

    def purge(self, before: datetime) -> int:
        """See :meth:`dataexport.store.base.Ledger.purge`."""
        with self._db.write() as session:
            return rowcount(session.execute(delete(LedgerRow).where(LedgerRow.recorded_at < before)))
