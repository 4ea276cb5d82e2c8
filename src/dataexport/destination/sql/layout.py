"""Reading what an existing table looks like: its columns and their declared types (SQLAlchemy inspection)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import CompileError

from dataexport.destination.evolution import ExistingColumn, TableLayout
from dataexport.destination.sql.types import SqlType


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
