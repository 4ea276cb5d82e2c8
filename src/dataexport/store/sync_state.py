"""Per-subject sync state: phase, saved links, counters, timestamps (DES §1.4, §4.4, §7.4).

Guarded writes load the state row locked (``SELECT ... FOR UPDATE`` on PostgreSQL, the write lock on
SQLite), check the caller's lease (when given) and ``expected_revision``, then change it and bump the
revision in the same transaction. So a worker that lost its lease, or that acts on a state someone else
changed since (an API call removing the entity), can never move a link.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from dataexport.domain.sync import EntityPhase, can_transition
from dataexport.errors import InvalidTransition
from dataexport.store.errors import StateConflict
from dataexport.store.leases import hold
from dataexport.store.models import EntityStateRow, FailedRecordRow, SeenIdRow
from dataexport.store.transactions import Database
from dataexport.store.values import Counters, EntityState, Lease, LinkKind, SyncKey

_CHECKPOINT_PHASES = frozenset({EntityPhase.INITIAL_SYNC, EntityPhase.DELTA})


def _counters(row: EntityStateRow) -> Counters:
    return Counters(row.received, row.synced, row.upserted, row.deleted, row.failed, row.pages)


def _add_counters(row: EntityStateRow, delta: Counters) -> None:
    row.received += delta.received
    row.synced += delta.synced
    row.upserted += delta.upserted
    row.deleted += delta.deleted
    row.failed += delta.failed
    row.pages += delta.pages


def _reset_counters(row: EntityStateRow) -> None:
    row.received = row.synced = row.upserted = row.deleted = row.failed = row.pages = 0


def to_state(row: EntityStateRow, failed_records: int) -> EntityState:
    """The value of a state row."""
    return EntityState(
        key=row.key,
        phase=row.phase,
        revision=row.revision,
        counters=_counters(row),
        failed_records=failed_records,
        state_reason=row.state_reason,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        link=row.link,
        link_kind=row.link_kind,
        last_delta_link=row.last_delta_link,
        page_size=row.page_size,
        metadata_stamp=row.metadata_stamp,
        initial_sync_started_at=row.initial_sync_started_at,
        initial_sync_completed_at=row.initial_sync_completed_at,
        last_poll_started_at=row.last_poll_started_at,
        last_synced_at=row.last_synced_at,
        last_change_at=row.last_change_at,
        modified_at=row.modified_at,
    )


def _failed_count(session: Session, key: SyncKey) -> int:
    return session.scalar(select(func.count()).select_from(FailedRecordRow).where(FailedRecordRow.is_key(key))) or 0


def _conflict(key: SyncKey, message: str) -> StateConflict:
    return StateConflict(message, entity=key.name, profile_id=key.profile_id)


def _refuse(key: SyncKey, message: str) -> InvalidTransition:
    return InvalidTransition(message, entity=key.name, profile_id=key.profile_id)


class SqlSyncStates:
    """:class:`~dataexport.store.base.SyncStates` over the control database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def ensure(self, key: SyncKey) -> EntityState:
        """See :meth:`dataexport.store.base.SyncStates.ensure`."""
        now = self._db.now()
        create = self._db.insert(EntityStateRow).values(
            profile_id=key.profile_id,
            kind=key.kind,
            entity=key.name,
            phase=EntityPhase.NOT_STARTED,
            received=0,
            synced=0,
            upserted=0,
            deleted=0,
            failed=0,
            pages=0,
            revision=1,
            created_at=now,
            modified_at=now,
        )
        with self._db.write() as session:
            session.execute(create.on_conflict_do_nothing())
            row = session.scalars(select(EntityStateRow).where(EntityStateRow.is_key(key))).one()
            return to_state(row, _failed_count(session, key))

    def load(self, key: SyncKey) -> EntityState | None:
        """See :meth:`dataexport.store.base.SyncStates.load`."""
        with self._db.read() as session:
            row = session.scalars(select(EntityStateRow).where(EntityStateRow.is_key(key))).one_or_none()
            return None if row is None else to_state(row, _failed_count(session, key))

    def list(self, profile_id: str) -> list[EntityState]:
        """See :meth:`dataexport.store.base.SyncStates.list`."""
        counts = (
            select(FailedRecordRow.kind, FailedRecordRow.entity, func.count().label("n"))
            .where(FailedRecordRow.profile_id == profile_id)
            .group_by(FailedRecordRow.kind, FailedRecordRow.entity)
        )
        with self._db.read() as session:
            failed = {(kind, entity): n for kind, entity, n in session.execute(counts)}
            rows = session.scalars(
                select(EntityStateRow)
                .where(EntityStateRow.profile_id == profile_id)
                .order_by(EntityStateRow.kind, EntityStateRow.entity)
            )
            return [to_state(row, failed.get((row.kind, row.entity), 0)) for row in rows]

    def save_page_checkpoint(
        self,
        lease: Lease,
        *,
        link: str,
        link_kind: LinkKind,
        counters: Counters,
        expected_revision: int,
        poll_started_at: datetime | None = None,
    ) -> EntityState:
        """See :meth:`dataexport.store.base.SyncStates.save_page_checkpoint`."""
        if link_kind is LinkKind.DELTA and poll_started_at is None:
            raise ValueError("A delta link ends a poll: pass poll_started_at")
        now = self._db.now()
        with self._db.write() as session:
            row = self._guarded(session, lease.key, expected_revision, lease, now)
            if row.phase not in _CHECKPOINT_PHASES:
                raise _refuse(lease.key, f"No checkpoint can be saved in phase {row.phase.value}")
            if link_kind is LinkKind.DELTA and row.phase is EntityPhase.INITIAL_SYNC:
                raise _refuse(lease.key, "A baseline ends with complete_initial_sync, not a delta checkpoint")
            row.link, row.link_kind = link, link_kind
            if link_kind is LinkKind.DELTA:
                row.last_delta_link = link
                row.last_poll_started_at, row.last_synced_at = poll_started_at, now
            self._count_page(row, counters, now)
            return to_state(row, _failed_count(session, lease.key))

    def complete_initial_sync(
        self,
        lease: Lease,
        *,
        delta_link: str,
        counters: Counters,
        expected_revision: int,
        poll_started_at: datetime,
    ) -> EntityState:
        """See :meth:`dataexport.store.base.SyncStates.complete_initial_sync`."""
        now = self._db.now()
        with self._db.write() as session:
            row = self._guarded(session, lease.key, expected_revision, lease, now)
            if row.phase is not EntityPhase.INITIAL_SYNC:
                raise _refuse(lease.key, f"No initial sync to complete in phase {row.phase.value}")
            row.phase, row.state_reason = EntityPhase.DELTA, None
            row.link, row.link_kind, row.last_delta_link = delta_link, LinkKind.DELTA, delta_link
            row.initial_sync_completed_at = now
            row.last_poll_started_at, row.last_synced_at = poll_started_at, now
            self._count_page(row, counters, now)
            session.execute(delete(SeenIdRow).where(SeenIdRow.is_key(lease.key)))
            return to_state(row, _failed_count(session, lease.key))

    def set_phase(
        self,
        key: SyncKey,
        phase: EntityPhase,
        *,
        expected_revision: int,
        reason: str | None = None,
        error: str | None = None,
        lease: Lease | None = None,
    ) -> EntityState:
        """See :meth:`dataexport.store.base.SyncStates.set_phase`."""
        now = self._db.now()
        with self._db.write() as session:
            row = self._guarded(session, key, expected_revision, lease, now)
            self._move(row, phase, now)
            row.state_reason = reason
            if error is not None:
                row.last_error, row.last_error_at = error, now
            if phase is EntityPhase.REMOVED:
                row.link = row.link_kind = row.last_delta_link = None
            self._bump(row, now)
            return to_state(row, _failed_count(session, key))

    def reset_for_rebaseline(
        self,
        key: SyncKey,
        *,
        reason: str,
        expected_revision: int,
        reset_counters: bool = False,
        lease: Lease | None = None,
    ) -> EntityState:
        """See :meth:`dataexport.store.base.SyncStates.reset_for_rebaseline`."""
        now = self._db.now()
        with self._db.write() as session:
            row = self._guarded(session, key, expected_revision, lease, now)
            self._move(row, EntityPhase.INITIAL_SYNC, now)
            row.state_reason = reason
            row.link = row.link_kind = row.last_delta_link = None
            row.initial_sync_started_at = now
            if reset_counters:
                _reset_counters(row)
            session.execute(delete(SeenIdRow).where(SeenIdRow.is_key(key)))
            self._bump(row, now)
            return to_state(row, _failed_count(session, key))

    def record_error(self, key: SyncKey, message: str | None) -> None:
        """See :meth:`dataexport.store.base.SyncStates.record_error`."""
        self._annotate(key, last_error=message, last_error_at=None if message is None else self._db.now())

    def set_page_size(self, key: SyncKey, page_size: int | None) -> None:
        """See :meth:`dataexport.store.base.SyncStates.set_page_size`."""
        self._annotate(key, page_size=page_size)

    def set_metadata_stamp(self, key: SyncKey, stamp: str | None) -> None:
        """See :meth:`dataexport.store.base.SyncStates.set_metadata_stamp`."""
        self._annotate(key, metadata_stamp=stamp)

    def _annotate(self, key: SyncKey, **values: object) -> None:
        with self._db.write() as session:
            session.execute(update(EntityStateRow).where(EntityStateRow.is_key(key)).values(**values))

    def _guarded(
        self, session: Session, key: SyncKey, expected_revision: int, lease: Lease | None, now: datetime
    ) -> EntityStateRow:
        """The state row, locked, once the lease (if any) and the revision are verified."""
        if lease is not None:
            if lease.key != key:
                raise ValueError(f"Lease of {lease.key} cannot write the state of {key}")
            hold(session, lease, now)
        row = session.scalars(select(EntityStateRow).where(EntityStateRow.is_key(key)).with_for_update()).one_or_none()
        if row is None:
            raise _conflict(key, "No sync state: it was never created or the profile was deleted")
        if row.revision != expected_revision:
            raise _conflict(key, f"Sync state is at revision {row.revision}, not {expected_revision}: reload it")
        return row

    @staticmethod
    def _move(row: EntityStateRow, phase: EntityPhase, now: datetime) -> None:
        if not can_transition(row.phase, phase):
            raise _refuse(row.key, f"Phase {row.phase.value} cannot move to {phase.value}")
        if row.phase is EntityPhase.REMOVED and phase is not EntityPhase.REMOVED:
            _reset_counters(row)  # counters count since the subject was last added (DES §4.4)
        if phase is EntityPhase.INITIAL_SYNC and row.phase is not EntityPhase.INITIAL_SYNC:
            row.initial_sync_started_at = now
        row.phase = phase

    def _count_page(self, row: EntityStateRow, counters: Counters, now: datetime) -> None:
        _add_counters(row, counters)
        if counters.received:
            row.last_change_at = now
        row.last_error = row.last_error_at = None
        self._bump(row, now)

    @staticmethod
    def _bump(row: EntityStateRow, now: datetime) -> None:
        row.revision += 1
        row.modified_at = now
