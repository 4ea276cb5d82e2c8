"""DDL for entity tables: create, adopt, add missing columns, widen (DES §6.2-6.4, §6.9).

Nothing here ever drops or narrows anything; a type change is reported, not altered.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, Connection, MetaData, PrimaryKeyConstraint, Table, text
from sqlalchemy.schema import CreateTable

from dataexport.destination.base import ColumnChange, ColumnChangeKind, TableChanges, TypeChange
from dataexport.destination.evolution import Evolution, ExistingColumn, TableLayout, TypeFit, plan_evolution
from dataexport.destination.sql.context import SqlContext
from dataexport.destination.sql.layout import is_view, read_layout
from dataexport.destination.sql.writes import quoted
from dataexport.domain.columns import ID_COLUMN, ColumnSpec
from dataexport.errors import TableNotUsable


def entity_table(context: SqlContext, table: str, specs: Sequence[ColumnSpec]) -> Table:
    """The SQLAlchemy table of a new entity table: columns in order, ``pk_<table>`` on ``Id``."""
    naming = context.naming
    columns = [
        Column(quoted(naming.column(spec.name)), context.dialect.declare(spec.type), nullable=spec.nullable)
        for spec in specs
    ]
    key = PrimaryKeyConstraint(quoted(naming.column(ID_COLUMN)), name=quoted(naming.primary_key(table)))
    schema = quoted(naming.schema) if naming.schema else None
    return Table(quoted(table), MetaData(), *columns, key, schema=schema)


def ensure_table(
    connection: Connection, context: SqlContext, entity: str, table: str, specs: Sequence[ColumnSpec]
) -> tuple[TableChanges, TableLayout]:
    """Create ``table`` or evolve it towards ``specs``; returns what changed and the resulting layout.

    Raises:
        TableNotUsable: the name is a view, or the existing table has no ``Id`` column.
    """
    schema = context.naming.schema
    layout = read_layout(connection, table, schema)
    if layout is None:
        if is_view(connection, table, schema):
            raise TableNotUsable(f"'{table}' exists and is not a table", entity=entity)
        connection.execute(CreateTable(entity_table(context, table, specs), if_not_exists=True))
        return TableChanges(table, created=True), _layout_of(context, table, specs)
    if layout.find(context.naming.column(ID_COLUMN)) is None:
        raise TableNotUsable(f"Table '{table}' has no usable Id column", entity=entity)
    evolution = plan_evolution(layout, specs, context.naming.column, context.render)
    return _evolve(connection, context, layout, evolution)


def _layout_of(context: SqlContext, table: str, specs: Sequence[ColumnSpec]) -> TableLayout:
    columns = tuple(ExistingColumn(context.naming.column(s.name), context.render(s.type)) for s in specs)
    return TableLayout(table, columns)


def _evolve(
    connection: Connection, context: SqlContext, layout: TableLayout, evolution: Evolution
) -> tuple[TableChanges, TableLayout]:
    changes: list[ColumnChange] = []
    added: list[ExistingColumn] = []
    for spec in evolution.add:
        name, declared = context.naming.column(spec.name), context.render(spec.type)
        add_column(connection, context, layout.table, name, declared)
        added.append(ExistingColumn(name, declared))
        changes.append(ColumnChange(name, spec.attribute, ColumnChangeKind.ADDED, declared))
    if context.dialect.capabilities.widens_columns:
        for alter in evolution.alter:
            alter_column(connection, context, layout.table, alter.column, alter.required)
            kind = ColumnChangeKind.WIDENED if alter.fit is TypeFit.WIDEN else ColumnChangeKind.PRECISION_RAISED
            changes.append(ColumnChange(alter.column, alter.spec.attribute, kind, alter.required, alter.existing))
    type_changes = tuple(
        TypeChange(layout.table, c.column, c.spec.attribute, c.existing, c.required) for c in evolution.type_changes
    )
    return TableChanges(layout.table, False, tuple(changes), type_changes), layout.with_columns(tuple(added))


def add_column(connection: Connection, context: SqlContext, table: str, column: str, declared: str) -> None:
    """``ALTER TABLE t ADD [COLUMN] c <type> NULL`` (identifiers validated and quoted)."""
    keyword, target = context.dialect.add_column_keyword, context.qualified(table)
    connection.execute(text(f"ALTER TABLE {target} {keyword} {context.quote(column)} {declared} NULL"))


def alter_column(connection: Connection, context: SqlContext, table: str, column: str, declared: str) -> None:
    """Widen a column to ``declared`` with the dialect's ALTER statement."""
    statement = context.dialect.alter_column_sql
    if statement is None:
        return
    sql = statement.format(table=context.qualified(table), column=context.quote(column), type=declared)
    connection.execute(text(sql))
