"""What an existing destination table looks like: its columns and their declared types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import CompileError

from dataexport.destination.sql.types import SqlType


@dataclass(frozen=True, slots=True)
class ExistingColumn:
    """A column as the database reports it; ``declared`` is its SQL type as the dialect compiles it."""

    name: str
    declared: str


@dataclass(frozen=True, slots=True)
class TableLayout:
    """The columns of an existing table, in table order."""

    table: str
    columns: tuple[ExistingColumn, ...]

    def find(self, name: str) -> ExistingColumn | None:
        """The column named ``name``, compared case-insensitively (SQLite and SQL Server fold case)."""
        wanted = name.lower()
        return next((column for column in self.columns if column.name.lower() == wanted), None)

    def with_columns(self, added: tuple[ExistingColumn, ...]) -> TableLayout:
        """The layout after ``added`` columns were appended."""
        return TableLayout(self.table, self.columns + added)


def declared_type(sql_type: SqlType, dialect: Dialect) -> str:
    """``sql_type`` compiled for ``dialect`` (``TEXT``, ``NUMERIC``, ``NVARCHAR(160)``)."""
    try:
        return str(sql_type.compile(dialect=dialect))
    except CompileError:
        return type(sql_type).__name__.upper()


def read_layout(connection: Connection, table: str, schema: str | None) -> TableLayout | None:
    """The layout of ``table``, or None when no such table exists (a view counts as absent)."""
    inspector = inspect(connection)
    if not inspector.has_table(table, schema=schema) or is_view(connection, table, schema):
        return None
    reported: list[Any] = list(inspector.get_columns(table, schema=schema))
    columns = tuple(ExistingColumn(c["name"], declared_type(c["type"], connection.dialect)) for c in reported)
    return TableLayout(table, columns)


def is_view(connection: Connection, name: str, schema: str | None) -> bool:
    """Whether ``name`` is a view."""
    views = inspect(connection).get_view_names(schema=schema)
    return name.lower() in {view.lower() for view in views}
