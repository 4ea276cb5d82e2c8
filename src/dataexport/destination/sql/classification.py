"""Classification of database errors into what the engine does about them (DES §8.1), as lookup tables.

A pure decision: :func:`classify_sqlite` maps a SQLite result code to an :class:`ErrorClass`;
:func:`product_error` turns the class into the matching :mod:`dataexport.errors` exception. Other dialects
add their own table (SQLSTATE -> class) next to :data:`SQLITE_CODES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from dataexport.errors import (
    DataExportError,
    DestinationAccessDenied,
    DestinationBusy,
    DestinationFault,
    DestinationUnavailable,
    RecordRejected,
)


class ErrorClass(StrEnum):
    """What a database error means for the batch."""

    BUSY = "busy"  # transient: roll back, retry with backoff
    UNAVAILABLE = "unavailable"  # transient: destination cannot take writes now
    RECORD = "record"  # the record itself is refused: isolate it, retry queue, ledger
    ACCESS_DENIED = "access_denied"  # terminal: login or DDL refused
    TERMINAL = "terminal"  # terminal: bug or damaged database


# Primary result codes (https://sqlite.org/rescode.html); extended codes are reduced with ``code & 0xFF``.
SQLITE_CODES: Mapping[int, ErrorClass] = {
    1: ErrorClass.TERMINAL,  # SQLITE_ERROR: SQL error or missing object
    2: ErrorClass.TERMINAL,  # SQLITE_INTERNAL
    3: ErrorClass.UNAVAILABLE,  # SQLITE_PERM: access permission denied
    4: ErrorClass.BUSY,  # SQLITE_ABORT: operation aborted (e.g. by a rollback)
    5: ErrorClass.BUSY,  # SQLITE_BUSY: database is locked
    6: ErrorClass.BUSY,  # SQLITE_LOCKED: a table is locked
    7: ErrorClass.BUSY,  # SQLITE_NOMEM
    8: ErrorClass.UNAVAILABLE,  # SQLITE_READONLY: attempt to write a readonly database
    9: ErrorClass.BUSY,  # SQLITE_INTERRUPT
    10: ErrorClass.UNAVAILABLE,  # SQLITE_IOERR: disk I/O error
    11: ErrorClass.TERMINAL,  # SQLITE_CORRUPT
    13: ErrorClass.UNAVAILABLE,  # SQLITE_FULL: database or disk is full
    14: ErrorClass.UNAVAILABLE,  # SQLITE_CANTOPEN
    15: ErrorClass.BUSY,  # SQLITE_PROTOCOL: locking protocol error
    17: ErrorClass.BUSY,  # SQLITE_SCHEMA: the schema changed under the statement
    18: ErrorClass.RECORD,  # SQLITE_TOOBIG: string or blob too big
    19: ErrorClass.RECORD,  # SQLITE_CONSTRAINT: NOT NULL, CHECK, trigger RAISE(ABORT/FAIL)
    20: ErrorClass.RECORD,  # SQLITE_MISMATCH: data type mismatch
    21: ErrorClass.TERMINAL,  # SQLITE_MISUSE
    22: ErrorClass.UNAVAILABLE,  # SQLITE_NOLFS: large file support missing
    23: ErrorClass.ACCESS_DENIED,  # SQLITE_AUTH: authorization denied
    25: ErrorClass.TERMINAL,  # SQLITE_RANGE: bind parameter out of range
    26: ErrorClass.TERMINAL,  # SQLITE_NOTADB
}


def classify_sqlite(code: int | None, *, connection_lost: bool = False) -> ErrorClass:
    """The class of a SQLite error given its (possibly extended) result code.

    A connection the pool had to invalidate is BUSY (transient) whatever the code; an error without a
    code (raised by the driver itself) is TERMINAL.
    """
    if connection_lost:
        return ErrorClass.BUSY
    if code is None:
        return ErrorClass.TERMINAL
    return SQLITE_CODES.get(code & 0xFF, ErrorClass.TERMINAL)


_EXCEPTIONS: Mapping[ErrorClass, type[DataExportError]] = {
    ErrorClass.BUSY: DestinationBusy,
    ErrorClass.UNAVAILABLE: DestinationUnavailable,
    ErrorClass.RECORD: RecordRejected,
    ErrorClass.ACCESS_DENIED: DestinationAccessDenied,
    ErrorClass.TERMINAL: DestinationFault,
}


def product_error(
    error_class: ErrorClass, message: str, *, entity: str | None = None, record_id: str | None = None
) -> DataExportError:
    """The :mod:`dataexport.errors` exception for ``error_class``."""
    return _EXCEPTIONS[error_class](message, entity=entity, record_id=record_id)
