"""Creating the SQLAlchemy engine of a destination, with SQLite's connection settings.

PostgreSQL engines track the bulk path's session staging tables (:func:`~.bulk.track_staging_tables`).
SQLite connections get WAL journaling, a busy timeout, foreign keys off and ``synchronous=NORMAL``; the
driver's own transaction handling is switched off and every transaction starts with ``BEGIN IMMEDIATE``,
so savepoints work, DDL is transactional, and a writer takes the write lock before its first read (no
read-to-write upgrade failures under concurrency). Connections from :func:`reading` start a plain
``BEGIN`` instead: with WAL, readers never wait for the writer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from dataexport.destination.sql.bulk import track_staging_tables
from dataexport.destination.sql.urls import destination_url

DEFAULT_BUSY_TIMEOUT_MS = 5000
#: Execution option of connections that only read: SQLite then starts a deferred (shared) transaction.
READ_ONLY_OPTION = "dataexport_read_only"
_PRAGMA_NAME = re.compile(r"^[a-z_]+$")
_PRAGMA_VALUE = re.compile(r"^[A-Za-z0-9_]+$")


def create_destination_engine(
    url: str | URL,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    sqlite_pragmas: Mapping[str, int | str] | None = None,
) -> Engine:
    """An engine for ``url``; SQLite engines get the settings above.

    Args:
        url: a connection string in any form of DES §1.7 (see :func:`~.urls.destination_url`), or a URL.
        busy_timeout_ms: how long a SQLite writer waits for the lock before ``database is locked``.
        sqlite_pragmas: extra pragmas run on every new SQLite connection, after ours. A test seam too:
            ``{"max_page_count": n}`` simulates a full disk, ``{"query_only": 1}`` a read-only database.
    """
    engine = create_engine(destination_url(url) if isinstance(url, str) else url)
    if engine.dialect.name == "postgresql":
        track_staging_tables(engine)
    if engine.dialect.name == "sqlite":
        pragmas = {
            "busy_timeout": busy_timeout_ms,
            "journal_mode": "WAL",
            "foreign_keys": "OFF",
            "synchronous": "NORMAL",
            **(sqlite_pragmas or {}),
        }
        _install_sqlite_behaviour(engine, [_pragma(name, value) for name, value in pragmas.items()])
    return engine


def _pragma(name: str, value: int | str) -> str:
    if not _PRAGMA_NAME.match(name) or not _PRAGMA_VALUE.match(str(value)):
        raise ValueError(f"Invalid SQLite pragma {name}={value!r}")
    return f"PRAGMA {name} = {value}"


def _install_sqlite_behaviour(engine: Engine, statements: list[str]) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        try:
            for statement in statements:
                cursor.execute(statement)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        reading = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only: it never takes SQLite's write lock, so it does not wait for writers."""
    with engine.connect() as connection:
        yield connection.execution_options(**{READ_ONLY_OPTION: True})


def resolve_sqlite_url(url: str, data_dir: Path) -> str:
    """Resolve a relative SQLite path (``sqlite:///rep.db``) against the data directory (DES §1.7).

    Absolute paths (``sqlite:////var/lib/rep.db``), in-memory databases and other engines are returned as is.
    """
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    if Path(database).is_absolute() or database.startswith("file:"):
        return url
    return parsed.set(database=str((data_dir / database).resolve())).render_as_string(hide_password=False)
