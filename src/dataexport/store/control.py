"""The composition of the control store: open (and migrate) a database, get one repository per concern."""

from __future__ import annotations

from datetime import timedelta
from types import TracebackType

from dataexport.domain.guards import TOMBSTONE_RETENTION
from dataexport.store.engine import DEFAULT_BUSY_TIMEOUT, create_control_engine
from dataexport.store.failed_set import SqlFailedSets
from dataexport.store.leases import SqlLeases
from dataexport.store.ledger import SqlLedger
from dataexport.store.migrate import upgrade_to_head
from dataexport.store.organizations import SqlOrganizations
from dataexport.store.profiles import SqlProfiles
from dataexport.store.resync_runs import SqlResyncRuns
from dataexport.store.retry_queue import SqlRetryQueue
from dataexport.store.seen_set import SqlSeenSets
from dataexport.store.sync_state import SqlSyncStates
from dataexport.store.throttle import SqlThrottleBudget
from dataexport.store.tombstones import SqlTombstones
from dataexport.store.transactions import Database, translated
from dataexport.store.values import Clock, Purged, system_clock

#: Ledger rows older than this are deleted by the daily retention run (DES §8.5).
LEDGER_RETENTION = timedelta(days=30)


class ControlStore:
    """An open control database (:class:`~dataexport.store.base.Store`), plus profiles and organizations."""

    def __init__(self, database: Database, *, ledger_retention: timedelta = LEDGER_RETENTION) -> None:
        self.database = database
        self.ledger_retention = ledger_retention
        self.states = SqlSyncStates(database)
        self.leases = SqlLeases(database)
        self.tombstones = SqlTombstones(database)
        self.retries = SqlRetryQueue(database)
        self.failed = SqlFailedSets(database)
        self.ledger = SqlLedger(database)
        self.seen = SqlSeenSets(database)
        self.throttle = SqlThrottleBudget(database)
        self.resyncs = SqlResyncRuns(database)
        self.organizations = SqlOrganizations(database)
        self.profiles = SqlProfiles(database)

    def purge_expired(self) -> Purged:
        """See :meth:`dataexport.store.base.Store.purge_expired`."""
        now = self.database.now()
        return Purged(
            tombstones=self.tombstones.purge(now - TOMBSTONE_RETENTION),
            ledger_entries=self.ledger.purge(now - self.ledger_retention),
        )

    def close(self) -> None:
        """See :meth:`dataexport.store.base.Store.close`."""
        self.database.dispose()

    def __enter__(self) -> ControlStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def open_store(
    url: str,
    *,
    clock: Clock = system_clock,
    busy_timeout: timedelta = DEFAULT_BUSY_TIMEOUT,
    ledger_retention: timedelta = LEDGER_RETENTION,
) -> ControlStore:
    """Open the control database at ``url`` and migrate it to the newest schema.

    ``ledger_retention`` is how long failure-ledger entries are kept (DES §8.5: 30 days).
    Idempotent and safe when several processes start at once (the upgrade holds a database lock).
    ``postgresql://`` URLs use psycopg 3; SQLite files (and their folder) are created if missing.

    Raises:
        ValueError: ``url`` is not a SQLite or PostgreSQL URL.
        ControlDatabaseBusy: the database is unreachable or locked past ``busy_timeout``.
        ControlDatabaseFault: a migration failed; nothing of it was committed.
    """
    engine = create_control_engine(url, busy_timeout=busy_timeout)
    try:
        with translated(engine.dialect.name):
            upgrade_to_head(engine)
    except BaseException:
        engine.dispose()
        raise
    return ControlStore(Database(engine, clock), ledger_retention=ledger_retention)
