"""The Dataverse budget of an organization identity, shared by every worker through the control database.

DES §7.7 and DESIGN §4: requests and server time are counted per identity in a sliding window (default
6,000 requests and 1,200 s per 5 minutes), kept as per-second buckets; a 429 sets ``paused_until`` so that
every worker of the identity, in any process, waits out the ``Retry-After``. A reservation locks the
identity's row, so concurrent reservers are serialized and the budget is never overdrawn. The store only
decides: the caller sleeps for the returned delay.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from dataexport.store.models import ThrottleBucketRow, ThrottleIdentityRow
from dataexport.store.transactions import Database
from dataexport.store.values import ThrottleLimits

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NO_WAIT = timedelta(0)
#: Bucket of reported server time; sums over a window do not depend on it.
SERVER_TIME_BUCKET = timedelta(seconds=1)


def bucket_of(moment: datetime, bucket: timedelta) -> datetime:
    """The start of the bucket ``moment`` falls in."""
    return _EPOCH + ((moment - _EPOCH) // bucket) * bucket


def window_floor(now: datetime, limits: ThrottleLimits) -> datetime:
    """Buckets starting at or before this time are out of the window ending ``now``.

    A bucket counts until its *end* leaves the window, so the budget is never exceeded in any true window.
    """
    return now - limits.window - limits.bucket


class SqlThrottleBudget:
    """:class:`~dataexport.store.base.ThrottleBudget` over the control database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def reserve(self, identity: str, limits: ThrottleLimits) -> timedelta:
        """See :meth:`dataexport.store.base.ThrottleBudget.reserve`."""
        now = self._db.now()
        with self._db.write() as session:
            paused_until = self._lock(session, identity, now)
            if paused_until is not None and paused_until > now:
                return paused_until - now
            floor = window_floor(now, limits)
            mine = ThrottleBucketRow.identity == identity
            session.execute(delete(ThrottleBucketRow).where(mine, ThrottleBucketRow.bucket_start <= floor))
            requests, seconds, oldest = session.execute(
                select(
                    func.coalesce(func.sum(ThrottleBucketRow.requests), 0),
                    func.coalesce(func.sum(ThrottleBucketRow.server_seconds), 0.0),
                    func.min(ThrottleBucketRow.bucket_start),
                ).where(mine)
            ).one()
            if oldest is not None and (requests >= limits.requests or seconds >= limits.server_seconds):
                return oldest - floor  # until the oldest bucket has left the window
            self._add(session, identity, bucket_of(now, limits.bucket), requests=1, seconds=0.0)
            return _NO_WAIT

    def add_server_time(self, identity: str, seconds: float) -> None:
        """See :meth:`dataexport.store.base.ThrottleBudget.add_server_time`."""
        now = self._db.now()
        with self._db.write() as session:
            self._lock(session, identity, now)
            self._add(session, identity, bucket_of(now, SERVER_TIME_BUCKET), requests=0, seconds=seconds)

    def pause(self, identity: str, until: datetime) -> None:
        """See :meth:`dataexport.store.base.ThrottleBudget.pause`."""
        now = self._db.now()
        insert = self._db.insert(ThrottleIdentityRow).values(identity=identity, paused_until=until, modified_at=now)
        stored = ThrottleIdentityRow.paused_until
        later = case((stored.is_(None), insert.excluded.paused_until), (stored < until, until), else_=stored)
        with self._db.write() as session:
            session.execute(
                insert.on_conflict_do_update(
                    index_elements=[ThrottleIdentityRow.identity], set_={"paused_until": later, "modified_at": now}
                )
            )

    def paused_until(self, identity: str) -> datetime | None:
        """See :meth:`dataexport.store.base.ThrottleBudget.paused_until`."""
        now = self._db.now()
        with self._db.read() as session:
            until = session.scalar(
                select(ThrottleIdentityRow.paused_until).where(ThrottleIdentityRow.identity == identity)
            )
        return until if until is not None and until > now else None

    def _lock(self, session: Session, identity: str, now: datetime) -> datetime | None:
        """Create the identity's row if needed and lock it; returns its ``paused_until``."""
        create = self._db.insert(ThrottleIdentityRow).values(identity=identity, paused_until=None, modified_at=now)
        session.execute(create.on_conflict_do_nothing())
        query = select(ThrottleIdentityRow.paused_until).where(ThrottleIdentityRow.identity == identity)
        return session.execute(query.with_for_update()).scalar_one()

    def _add(self, session: Session, identity: str, bucket_start: datetime, *, requests: int, seconds: float) -> None:
        insert = self._db.insert(ThrottleBucketRow).values(
            identity=identity, bucket_start=bucket_start, requests=requests, server_seconds=seconds
        )
        session.execute(
            insert.on_conflict_do_update(
                index_elements=[ThrottleBucketRow.identity, ThrottleBucketRow.bucket_start],
                set_={
                    "requests": ThrottleBucketRow.requests + insert.excluded.requests,
                    "server_seconds": ThrottleBucketRow.server_seconds + insert.excluded.server_seconds,
                },
            )
        )
