"""Database error classification (DES §8.1) and declared-type comparison (DES §6.9): pure tables."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import ArgumentError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from dataexport.destination.evolution import TypeFit, compare_declared
from dataexport.destination.sql.classification import (
    ErrorClass,
    classify_mysql,
    classify_postgresql,
    classify_sqlite,
    product_error,
)
from dataexport.destination.sql.context import SqlContext, classify_error
from dataexport.destination.sql.dialects import SQLITE
from dataexport.destination.sql.naming import Naming
from dataexport.errors import (
    DestinationAccessDenied,
    DestinationBusy,
    DestinationFault,
    DestinationUnavailable,
    RecordRejected,
    SkippableError,
    TerminalError,
    TransientError,
)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (5, ErrorClass.BUSY),  # database is locked
        (517, ErrorClass.BUSY),  # SQLITE_BUSY_SNAPSHOT
        (6, ErrorClass.BUSY),
        (8, ErrorClass.UNAVAILABLE),  # attempt to write a readonly database
        (1032, ErrorClass.UNAVAILABLE),  # SQLITE_READONLY_DBMOVED
        (13, ErrorClass.UNAVAILABLE),  # database or disk is full
        (10, ErrorClass.UNAVAILABLE),  # disk I/O error
        (14, ErrorClass.UNAVAILABLE),  # unable to open database file
        (19, ErrorClass.RECORD),  # constraint
        (1811, ErrorClass.RECORD),  # SQLITE_CONSTRAINT_TRIGGER: RAISE(ABORT, ...)
        (1299, ErrorClass.RECORD),  # SQLITE_CONSTRAINT_NOTNULL
        (18, ErrorClass.RECORD),  # string or blob too big
        (20, ErrorClass.RECORD),  # datatype mismatch
        (1, ErrorClass.TERMINAL),  # no such table / syntax error
        (11, ErrorClass.TERMINAL),  # corrupt
        (23, ErrorClass.ACCESS_DENIED),
        (999, ErrorClass.TERMINAL),
        (None, ErrorClass.TERMINAL),
    ],
)
def test_sqlite_codes(code: int | None, expected: ErrorClass) -> None:
    assert classify_sqlite(code) is expected


def test_a_lost_connection_is_transient_whatever_the_code() -> None:
    assert classify_sqlite(1, connection_lost=True) is ErrorClass.BUSY


@pytest.mark.parametrize(
    ("error_class", "exception", "family"),
    [
        (ErrorClass.BUSY, DestinationBusy, TransientError),
        (ErrorClass.UNAVAILABLE, DestinationUnavailable, TransientError),
        (ErrorClass.RECORD, RecordRejected, SkippableError),
        (ErrorClass.ACCESS_DENIED, DestinationAccessDenied, TerminalError),
        (ErrorClass.TERMINAL, DestinationFault, TerminalError),
    ],
)
def test_classes_map_to_the_product_exception_tree(error_class: ErrorClass, exception: type, family: type) -> None:
    error = product_error(error_class, "boom", entity="account", record_id="r1")
    assert type(error) is exception and isinstance(error, family)
    assert str(error) == "boom (entity=account, record_id=r1)"
    assert (error.entity, error.record_id, error.message) == ("account", "r1", "boom")


@pytest.mark.parametrize(
    ("existing", "required", "fit"),
    [
        ("TEXT", "TEXT", TypeFit.SAME),
        ("TEXT", "INTEGER", TypeFit.CHANGED),
        ("NUMERIC", "NUMERIC", TypeFit.SAME),
        ("NVARCHAR(100)", "NVARCHAR(160)", TypeFit.WIDEN),
        ("NVARCHAR(160)", "NVARCHAR(100)", TypeFit.SAME),  # shrunk: kept
        ("NVARCHAR(max)", "NVARCHAR(4000)", TypeFit.SAME),
        ("NVARCHAR(4000)", "NVARCHAR(max)", TypeFit.WIDEN),
        ("varchar(10)", "VARCHAR(12)", TypeFit.WIDEN),
        ("DECIMAL(38, 2)", "DECIMAL(38, 4)", TypeFit.RAISE_PRECISION),
        ("DECIMAL(38, 4)", "DECIMAL(38, 2)", TypeFit.SAME),
        ("DECIMAL(38, 2)", "NVARCHAR(100)", TypeFit.CHANGED),
        ("TIMESTAMP WITHOUT TIME ZONE", "timestamp  without time zone", TypeFit.SAME),
    ],
)
def test_declared_type_comparison(existing: str, required: str, fit: TypeFit) -> None:
    assert compare_declared(existing, required) is fit


def test_errors_raised_by_sqlalchemy_itself() -> None:
    context = SqlContext(SQLITE, Naming(), sqlite.dialect())
    assert classify_error(context, PoolTimeout("QueuePool limit reached")) is ErrorClass.BUSY
    assert classify_error(context, ArgumentError("bad statement")) is ErrorClass.TERMINAL


@pytest.mark.parametrize(
    ("sqlstate", "expected"),
    [
        ("40001", ErrorClass.BUSY),  # serialization failure
        ("40P01", ErrorClass.BUSY),  # deadlock
        ("55P03", ErrorClass.BUSY),  # lock not available
        ("57014", ErrorClass.BUSY),  # statement timeout
        ("08006", ErrorClass.BUSY),  # connection failure
        ("53100", ErrorClass.UNAVAILABLE),  # disk full
        ("53200", ErrorClass.UNAVAILABLE),  # out of memory
        ("22001", ErrorClass.RECORD),  # value too long
        ("22003", ErrorClass.RECORD),  # numeric out of range
        ("23505", ErrorClass.RECORD),  # unique violation
        ("P0001", ErrorClass.RECORD),  # a trigger's RAISE EXCEPTION
        ("42501", ErrorClass.ACCESS_DENIED),
        ("28P01", ErrorClass.ACCESS_DENIED),
        ("42P01", ErrorClass.TERMINAL),  # undefined table
        ("XX001", ErrorClass.TERMINAL),  # data corrupted
        (None, ErrorClass.TERMINAL),
    ],
)
def test_postgresql_sqlstates(sqlstate: str | None, expected: ErrorClass) -> None:
    assert classify_postgresql(sqlstate) is expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (1205, ErrorClass.BUSY),  # lock wait timeout
        (1213, ErrorClass.BUSY),  # deadlock
        (2006, ErrorClass.BUSY),  # server gone away
        (2013, ErrorClass.BUSY),  # lost connection
        (1114, ErrorClass.UNAVAILABLE),  # table full
        (1021, ErrorClass.UNAVAILABLE),  # disk full
        (1406, ErrorClass.RECORD),  # data too long
        (1264, ErrorClass.RECORD),  # out of range
        (1366, ErrorClass.RECORD),  # incorrect string value
        (1062, ErrorClass.RECORD),  # duplicate entry
        (1644, ErrorClass.RECORD),  # a trigger's SIGNAL
        (1142, ErrorClass.ACCESS_DENIED),
        (1044, ErrorClass.ACCESS_DENIED),
        (1045, ErrorClass.ACCESS_DENIED),
        (1146, ErrorClass.TERMINAL),  # no such table
        (None, ErrorClass.TERMINAL),
    ],
)
def test_mysql_error_numbers(code: int | None, expected: ErrorClass) -> None:
    assert classify_mysql(code) is expected


def test_a_lost_server_connection_is_transient_whatever_the_code() -> None:
    assert classify_postgresql("42P01", connection_lost=True) is ErrorClass.BUSY
    assert classify_mysql(1146, connection_lost=True) is ErrorClass.BUSY


@pytest.mark.parametrize(
    ("existing", "required", "fit"),
    [
        ("VARCHAR(200)", "TEXT", TypeFit.WIDEN),  # MySQL moves a long string to text
        ("TEXT", "VARCHAR(100)", TypeFit.SAME),  # text holds any string (row budget)
        ("LONGTEXT", "TEXT", TypeFit.SAME),
        ("TEXT", "INTEGER", TypeFit.CHANGED),
        ("TIMESTAMP(3) WITHOUT TIME ZONE", "TIMESTAMP(3) WITHOUT TIME ZONE", TypeFit.SAME),
        ("NUMERIC(38, 2)", "NUMERIC(38, 4)", TypeFit.RAISE_PRECISION),
    ],
)
def test_string_family_comparison(existing: str, required: str, fit: TypeFit) -> None:
    assert compare_declared(existing, required) is fit
