"""Units of work on the control database, shared by every repository of the store.

:meth:`Database.write` is one transaction that commits on exit and rolls back on an exception; on SQLite it
holds the write lock from its start (see :mod:`.engine`). :meth:`Database.read` is a read-only transaction.
Database errors are translated into :mod:`.errors` at this one boundary.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import islice
from typing import TypeVar

from sqlalchemy import CursorResult, Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from dataexport.store.engine import READ_ONLY
from dataexport.store.errors import ControlDatabaseBusy, ControlDatabaseFault
from dataexport.store.values import Clock

#: Ids per IN (...) list or multi-row INSERT: far below SQLite's and PostgreSQL's bound-parameter limits.
CHUNK_SIZE = 500

T = TypeVar("T")


def chunked(items: Iterable[T], size: int = CHUNK_SIZE) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, in order."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def rowcount(result: object) -> int:
    """Rows matched by the DML statement that produced ``result``."""
    return result.rowcount if isinstance(result, CursorResult) else 0


class Database:
    """The engine, the clock and the session factories of one control store."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._writer = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
        self._reader = sessionmaker(bind=engine.execution_options(**READ_ONLY), expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """The dialect name: ``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def now(self) -> datetime:
        """The injected clock's current time (aware UTC)."""
        return self.clock()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One read-write transaction: committed when the block exits, rolled back if it raises.

        Raises:
            ControlDatabaseBusy: lock wait timed out or the connection dropped; nothing was committed.
            ControlDatabaseFault: any other database error.
        """
        with translated(self.dialect), self._writer.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """One read-only transaction; on SQLite it begins DEFERRED, so in WAL mode it never waits for a writer.

        Raises:
            ControlDatabaseBusy, ControlDatabaseFault: as :meth:`write`.
        """
        with translated(self.dialect), self._reader.begin() as session:
            yield session

    def insert(self, table: type[object]) -> sqlite.Insert | postgresql.Insert:
        """An INSERT with ``ON CONFLICT`` support for this dialect (both share the same API)."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def dispose(self) -> None:
        """Close every pooled connection. Idempotent."""
        self.engine.dispose()


#: Words of a SQLite OperationalError that mean "try again"; its other OperationalErrors are bugs (no such table).
_SQLITE_BUSY_WORDS = ("locked", "busy")


def is_transient(error: DBAPIError, dialect: str) -> bool:
    """Whether retrying the same transaction may succeed: lock waits, deadlocks, dropped connections."""
    if error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    if dialect == "sqlite":
        message = str(error.orig).lower()
        return any(word in message for word in _SQLITE_BUSY_WORDS)
    return True  # psycopg: connection failures, deadlocks, serialization and lock-timeout errors


@contextmanager
def translated(dialect: str) -> Iterator[None]:
    """Re-raise database errors as :class:`ControlDatabaseBusy` or :class:`ControlDatabaseFault`."""
    try:
        yield
    except DBAPIError as error:
        message = str(error.orig).splitlines()[0] if error.orig is not None else type(error).__name__
        if is_transient(error, dialect):
            raise ControlDatabaseBusy(f"Control database busy or unreachable: {message}") from error
        raise ControlDatabaseFault(f"Control database error: {message}") from error
    except StatementError as error:  # a value the statement could not bind: a bug in the caller
        raise ControlDatabaseFault(f"Control database statement refused a value: {error.orig}") from error
