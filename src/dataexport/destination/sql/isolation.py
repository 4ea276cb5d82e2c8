"""Failure isolation (DES §7.3): a batch that fails on a record is redone row by row.

The batch first runs as one transaction. If the database refuses it with a record-class error (a
constraint, a trigger's ``RAISE(ABORT, ...)``, a value too big), it is redone in one new transaction with a
savepoint per row: good rows commit together, each refused row is rolled back to its savepoint and
reported. Any other error (lock, lost connection, full or read-only database) is raised as the matching
:mod:`dataexport.errors` exception and nothing of the batch is committed. A batch a bulk path could not
encode (:class:`BatchNotEncodable`) is redone row by row too, where each row takes the row statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from dataexport.destination.base import RecordFailure, WriteResult
from dataexport.destination.sql.classification import ErrorClass
from dataexport.destination.sql.context import SqlContext, classify_error, error_message, translated
from dataexport.destination.sql.writes import BatchNotEncodable

T = TypeVar("T")
Write = Callable[[Connection, Sequence[T]], WriteResult]
Describe = Callable[[Connection, T, str], RecordFailure]


def write_isolated(
    engine: Engine,
    context: SqlContext,
    entity: str,
    items: Sequence[T],
    write: Write[T],
    describe: Describe[T],
) -> WriteResult:
    """Run ``write`` over ``items`` in one transaction, isolating refused records if needed.

    Args:
        write: applies a sequence of items on a connection (the transaction is the caller's).
        describe: builds the failure of one refused item, on the connection after its savepoint was rolled back.

    Raises:
        TransientError: lock, lost connection, full or read-only database; nothing was committed.
        TerminalError: any other non-record error.
    """
    try:
        with engine.begin() as connection:
            return write(connection, items)
    except BatchNotEncodable:
        pass
    except SQLAlchemyError as error:
        if classify_error(context, error) is not ErrorClass.RECORD:
            raise translated(context, error, entity) from error
    return _row_by_row(engine, context, entity, items, write, describe)


def _row_by_row(
    engine: Engine, context: SqlContext, entity: str, items: Sequence[T], write: Write[T], describe: Describe[T]
) -> WriteResult:
    result = WriteResult()
    try:
        with engine.begin() as connection:
            for item in items:
                result += _write_one(connection, context, item, write, describe)
    except SQLAlchemyError as error:
        # Refused again outside any one row (e.g. at commit), or a non-record error: never a record failure.
        raise translated(context, error, entity) from error
    return result


def _write_one(
    connection: Connection, context: SqlContext, item: T, write: Write[T], describe: Describe[T]
) -> WriteResult:
    savepoint = connection.begin_nested()
    try:
        outcome = write(connection, [item])
    except SQLAlchemyError as error:
        savepoint.rollback()
        if classify_error(context, error) is not ErrorClass.RECORD:
            raise
        return WriteResult(failures=(describe(connection, item, error_message(error)),))
    savepoint.commit()
    return outcome
