"""Control database URL -> SQLAlchemy Engine, with the connection settings each dialect needs.

SQLite: WAL (readers never wait for the writer), ``busy_timeout`` (a writer waits for the lock instead of
failing), ``foreign_keys=ON``. pysqlite's own transaction handling is switched off and ``BEGIN IMMEDIATE``
is emitted instead, so a write transaction takes the write lock at its start: two processes serialize on
it rather than failing with ``SQLITE_BUSY`` when a read lock is upgraded. Read-only work uses
:data:`READ_ONLY` to begin deferred. PostgreSQL goes through psycopg 3 (``postgresql+psycopg``).
"""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta
from pathlib import Path
from typing import Final

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

#: Execution options of a read-only unit of work (SQLite begins it DEFERRED instead of IMMEDIATE).
READ_ONLY: Final = {"sqlite_begin": "DEFERRED"}
DEFAULT_BUSY_TIMEOUT = timedelta(seconds=30)

_DRIVERS: Final = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg", "sqlite": "sqlite"}
_BEGIN_MODES: Final = frozenset({"DEFERRED", "IMMEDIATE"})
_WAL_RETRY_PAUSE = 0.02


def control_url(url: str) -> URL:
    """Parse ``url`` and pick the driver: ``postgresql://`` -> psycopg 3; an explicit ``+driver`` is kept.

    Raises:
        ValueError: the URL is not SQLite or PostgreSQL, the two control databases supported (DES §1.6).
    """
    parsed = make_url(url)
    if "+" in parsed.drivername:
        backend = parsed.drivername.split("+", 1)[0]
        if backend not in ("postgresql", "sqlite"):
            raise ValueError(f"Control database {parsed.drivername!r} is not supported: use sqlite or postgresql")
        return parsed
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValueError(f"Control database {parsed.drivername!r} is not supported: use sqlite or postgresql")
    return parsed.set(drivername=driver)


def create_control_engine(url: str, *, busy_timeout: timedelta = DEFAULT_BUSY_TIMEOUT) -> Engine:
    """An Engine for the control database at ``url``; no connection is opened yet.

    A SQLite file's parent folder is created. ``sqlite://`` (in memory) shares one connection.
    """
    parsed = control_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, busy_timeout)
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_engine(url: URL, busy_timeout: timedelta) -> Engine:
    database = url.database or ":memory:"
    in_memory = database == ":memory:" or database.startswith("file::memory:")
    if in_memory:
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
    timeout_ms = int(busy_timeout.total_seconds() * 1000)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # None = pysqlite issues no BEGIN of its own; the "begin" listener below does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
        if not in_memory:
            _enable_wal(cursor, busy_timeout)
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode not in _BEGIN_MODES:
            raise ValueError(f"sqlite_begin={mode!r}: use DEFERRED or IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _enable_wal(cursor: DBAPICursor, busy_timeout: timedelta) -> None:
    """Put the file in WAL mode (persistent: only a new file needs it), waiting out concurrent first opens.

    Switching the journal mode needs an exclusive lock and SQLite may refuse it at once, without its busy
    handler, while another connection opens the same new file; so the switch is retried until
    ``busy_timeout``.
    """
    deadline = time.monotonic() + busy_timeout.total_seconds()
    while True:
        cursor.execute("PRAGMA journal_mode")
        row = cursor.fetchone()
        if row is not None and str(row[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(_WAL_RETRY_PAUSE)
