"""The connection-independent facts every SQL module needs: dialect entry, naming, SQLAlchemy dialect."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from dataexport.destination.sql.classification import ErrorClass, product_error
from dataexport.destination.sql.dialects import SqlDialect
from dataexport.destination.sql.layout import declared_type
from dataexport.destination.sql.naming import Naming
from dataexport.destination.sql.types import SqlType
from dataexport.domain.columns import LogicalType
from dataexport.errors import DataExportError


@dataclass(frozen=True, slots=True)
class SqlContext:
    """One profile's destination on one engine."""

    dialect: SqlDialect
    naming: Naming
    sql_dialect: Dialect

    def render(self, logical: LogicalType) -> str:
        """The declared SQL type of ``logical`` as this engine compiles it."""
        return declared_type(self.dialect.declare(logical), self.sql_dialect)

    def quote(self, name: str) -> str:
        """``name`` quoted, always."""
        return str(self.sql_dialect.identifier_preparer.quote_identifier(name))

    def bind_types(self, columns: Mapping[str, LogicalType]) -> dict[str, SqlType]:
        """The SQL types bound values of ``columns`` need (empty unless the dialect casts binds)."""
        if not self.dialect.typed_binds:
            return {}
        return {name: self.dialect.declare(logical) for name, logical in columns.items()}

    def qualified(self, table: str) -> str:
        """The quoted, schema-qualified table name."""
        schema = self.naming.schema
        return f"{self.quote(schema)}.{self.quote(table)}" if schema else self.quote(table)


def error_message(error: SQLAlchemyError) -> str:
    """The driver's own message (without SQLAlchemy's statement dump)."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        diag = getattr(error.orig, "diag", None)  # psycopg: the primary message without CONTEXT lines
        primary = getattr(diag, "message_primary", None)
        if isinstance(primary, str) and primary:
            return primary
        args = error.orig.args
        if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):  # PyMySQL: (errno, message)
            return args[1]
        return str(error.orig)
    return str(error)


def classify_error(context: SqlContext, error: SQLAlchemyError) -> ErrorClass:
    """The class of any SQLAlchemy error: driver errors by the dialect's table, a pool timeout is BUSY,
    anything else (a bug in a statement) is TERMINAL."""
    if isinstance(error, DBAPIError):
        return context.dialect.classify(error)
    return ErrorClass.BUSY if isinstance(error, PoolTimeout) else ErrorClass.TERMINAL


def translated(context: SqlContext, error: SQLAlchemyError, entity: str | None) -> DataExportError:
    """The product error for ``error`` where no single record is at stake (record class -> terminal)."""
    error_class = classify_error(context, error)
    if error_class is ErrorClass.RECORD:
        error_class = ErrorClass.TERMINAL
    return product_error(error_class, error_message(error), entity=entity)


@contextmanager
def translated_errors(context: SqlContext, entity: str | None = None) -> Iterator[None]:
    """Re-raise database errors as :mod:`dataexport.errors` exceptions (outside record isolation).

    A record-class error here is not about a record (DDL, metadata rows): it is raised as terminal.
    """
    try:
        yield
    except SQLAlchemyError as error:
        raise translated(context, error, entity) from error
