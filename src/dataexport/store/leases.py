"""Leases: one step per (profile, subject) at a time, across threads, processes and machines.

A lease is a row per subject with an owner, a random fencing token and an expiry. Taking it is one
``INSERT ... ON CONFLICT DO UPDATE ... WHERE expired OR same owner``, so two callers cannot both win on
either dialect. Writes that need the lease (checkpoints) first lock the lease row with the caller's token and
an unexpired time (:func:`hold`): a worker that stalled past its expiry, or whose lease was taken over, is
refused with :class:`~dataexport.store.base.LeaseLost` and cannot move a link. While a checkpoint holds the
row lock, a new owner's acquisition waits for it (PostgreSQL) or for the write lock (SQLite).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from dataexport.store.errors import LeaseLost
from dataexport.store.models import LeaseRow
from dataexport.store.transactions import Database
from dataexport.store.values import Lease, LeaseToken, SyncKey


def _lease_of(row: LeaseRow) -> Lease:
    return Lease(row.key, row.owner, LeaseToken(row.token), row.acquired_at, row.expires_at)


def hold(session: Session, lease: Lease, now: datetime) -> None:
    """Lock ``lease``'s row for the rest of the transaction if it is still held with its token at ``now``.

    Raises:
        LeaseLost: expired, released or taken over.
    """
    held = session.scalars(
        select(LeaseRow.token)
        .where(LeaseRow.is_key(lease.key), LeaseRow.token == lease.token, LeaseRow.expires_at > now)
        .with_for_update()
    ).one_or_none()
    if held is None:
        raise LeaseLost(
            f"Lease of {lease.owner!r} expired or was taken over",
            entity=lease.key.name,
            profile_id=lease.key.profile_id,
        )


class SqlLeases:
    """:class:`~dataexport.store.base.Leases` over the control database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def acquire(self, key: SyncKey, owner: str, ttl: timedelta) -> Lease | None:
        """See :meth:`dataexport.store.base.Leases.acquire`."""
        now = self._db.now()
        token = secrets.token_hex(16)
        insert = self._db.insert(LeaseRow).values(
            profile_id=key.profile_id,
            kind=key.kind,
            entity=key.name,
            owner=owner,
            token=token,
            acquired_at=now,
            expires_at=now + ttl,
        )
        taken = insert.on_conflict_do_update(
            index_elements=[LeaseRow.profile_id, LeaseRow.kind, LeaseRow.entity],
            set_={
                "owner": insert.excluded.owner,
                "token": insert.excluded.token,
                "acquired_at": insert.excluded.acquired_at,
                "expires_at": insert.excluded.expires_at,
            },
            where=(LeaseRow.expires_at <= now) | (LeaseRow.owner == owner),
        ).returning(LeaseRow.token)
        with self._db.write() as session:
            won = session.execute(taken).scalar_one_or_none()
        if won != token:
            return None
        return Lease(key, owner, LeaseToken(token), now, now + ttl)

    def renew(self, lease: Lease, ttl: timedelta) -> Lease:
        """See :meth:`dataexport.store.base.Leases.renew`."""
        now = self._db.now()
        with self._db.write() as session:
            hold(session, lease, now)
            session.execute(
                update(LeaseRow)
                .where(LeaseRow.is_key(lease.key), LeaseRow.token == lease.token)
                .values(expires_at=now + ttl)
            )
        return Lease(lease.key, lease.owner, lease.token, lease.acquired_at, now + ttl)

    def release(self, lease: Lease) -> None:
        """See :meth:`dataexport.store.base.Leases.release`."""
        with self._db.write() as session:
            session.execute(delete(LeaseRow).where(LeaseRow.is_key(lease.key), LeaseRow.token == lease.token))

    def current(self, key: SyncKey) -> Lease | None:
        """See :meth:`dataexport.store.base.Leases.current`."""
        now = self._db.now()
        with self._db.read() as session:
            row = session.scalars(select(LeaseRow).where(LeaseRow.is_key(key), LeaseRow.expires_at > now)).one_or_none()
            return None if row is None else _lease_of(row)
