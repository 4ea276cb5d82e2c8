"""Classification of database errors into what the engine does about them (DES §8.1), as lookup tables.

A pure decision: :func:`classify_sqlite` maps a SQLite result code to an :class:`ErrorClass`;
:func:`product_error` turns the class into the matching :mod:`dataexport.errors` exception. PostgreSQL
(:data:`POSTGRESQL_STATES`, :data:`POSTGRESQL_CLASSES`) and MySQL/MariaDB (:data:`MYSQL_CODES`) have their
own tables next to :data:`SQLITE_CODES`.
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


#: PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html); exact codes first.
POSTGRESQL_STATES: Mapping[str, ErrorClass] = {
    "40001": ErrorClass.BUSY,  # serialization_failure
    "40P01": ErrorClass.BUSY,  # deadlock_detected
    "55P03": ErrorClass.BUSY,  # lock_not_available
    "57014": ErrorClass.BUSY,  # query_canceled (statement or lock timeout)
    "57P01": ErrorClass.BUSY,  # admin_shutdown
    "57P02": ErrorClass.BUSY,  # crash_shutdown
    "57P03": ErrorClass.UNAVAILABLE,  # cannot_connect_now (starting up)
    "25006": ErrorClass.UNAVAILABLE,  # read_only_sql_transaction (hot standby)
    "42501": ErrorClass.ACCESS_DENIED,  # insufficient_privilege
    "28000": ErrorClass.ACCESS_DENIED,  # invalid_authorization_specification
    "28P01": ErrorClass.ACCESS_DENIED,  # invalid_password
    "P0001": ErrorClass.RECORD,  # raise_exception: a trigger refused the row
}
#: PostgreSQL SQLSTATE classes (first two characters), when the exact code is not listed.
POSTGRESQL_CLASSES: Mapping[str, ErrorClass] = {
    "08": ErrorClass.BUSY,  # connection exception
    "22": ErrorClass.RECORD,  # data exception (value too long, out of range, bad encoding)
    "23": ErrorClass.RECORD,  # integrity constraint violation
    "40": ErrorClass.BUSY,  # transaction rollback
    "53": ErrorClass.UNAVAILABLE,  # insufficient resources (disk full, out of memory, too many connections)
    "54": ErrorClass.RECORD,  # program limit exceeded (row or index entry too big)
    "57": ErrorClass.UNAVAILABLE,  # operator intervention
    "58": ErrorClass.UNAVAILABLE,  # system error (I/O)
}


def classify_postgresql(sqlstate: str | None, *, connection_lost: bool = False) -> ErrorClass:
    """The class of a PostgreSQL error given its SQLSTATE (a lost connection is BUSY)."""
    if connection_lost:
        return ErrorClass.BUSY
    if not sqlstate:
        return ErrorClass.TERMINAL
    exact = POSTGRESQL_STATES.get(sqlstate)
    return exact if exact is not None else POSTGRESQL_CLASSES.get(sqlstate[:2], ErrorClass.TERMINAL)


#: MySQL/MariaDB error numbers (server and client).
MYSQL_CODES: Mapping[int, ErrorClass] = {
    1205: ErrorClass.BUSY,  # ER_LOCK_WAIT_TIMEOUT
    1213: ErrorClass.BUSY,  # ER_LOCK_DEADLOCK
    1040: ErrorClass.BUSY,  # ER_CON_COUNT_ERROR: too many connections
    2002: ErrorClass.BUSY,  # CR_CONNECTION_ERROR
    2003: ErrorClass.BUSY,  # CR_CONN_HOST_ERROR
    2006: ErrorClass.BUSY,  # CR_SERVER_GONE_ERROR
    2013: ErrorClass.BUSY,  # CR_SERVER_LOST
    1114: ErrorClass.UNAVAILABLE,  # ER_RECORD_FILE_FULL: the table is full
    1021: ErrorClass.UNAVAILABLE,  # ER_DISK_FULL
    1290: ErrorClass.UNAVAILABLE,  # ER_OPTION_PREVENTS_STATEMENT (read-only server)
    1792: ErrorClass.UNAVAILABLE,  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    1406: ErrorClass.RECORD,  # ER_DATA_TOO_LONG
    1264: ErrorClass.RECORD,  # ER_WARN_DATA_OUT_OF_RANGE
    1366: ErrorClass.RECORD,  # ER_TRUNCATED_WRONG_VALUE_FOR_FIELD (bad string or number)
    1062: ErrorClass.RECORD,  # ER_DUP_ENTRY
    1048: ErrorClass.RECORD,  # ER_BAD_NULL_ERROR
    1292: ErrorClass.RECORD,  # ER_TRUNCATED_WRONG_VALUE (bad datetime)
    1644: ErrorClass.RECORD,  # ER_SIGNAL_EXCEPTION: a trigger refused the row
    1142: ErrorClass.ACCESS_DENIED,  # ER_TABLEACCESS_DENIED_ERROR
    1044: ErrorClass.ACCESS_DENIED,  # ER_DBACCESS_DENIED_ERROR
    1045: ErrorClass.ACCESS_DENIED,  # ER_ACCESS_DENIED_ERROR
    1227: ErrorClass.ACCESS_DENIED,  # ER_SPECIFIC_ACCESS_DENIED_ERROR
}


def classify_mysql(code: int | None, *, connection_lost: bool = False) -> ErrorClass:
    """The class of a MySQL/MariaDB error given its error number (a lost connection is BUSY)."""
    if connection_lost:
        return ErrorClass.BUSY
    if code is None:
        return ErrorClass.TERMINAL
    return MYSQL_CODES.get(code, ErrorClass.TERMINAL)


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
