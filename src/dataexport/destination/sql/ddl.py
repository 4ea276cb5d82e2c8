"""DDL for entity tables: create, adopt, add missing columns, widen (DES §6.2-6.4, §6.9).

Nothing here ever drops or narrows anything; a type change is reported, not altered.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, Connection, MetaData, PrimaryKeyConstraint, Table, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateTable

from dataexport.destination.base import ColumnChange, ColumnChangeKind, TableChanges, TypeChange
from dataexport.destination.evolution import Evolution, ExistingColumn, TableLayout, TypeFit, plan_evolution
from dataexport.destination.sql.context import SqlContext
from dataexport.destination.sql.layout import is_view, read_layout
from dataexport.destination.sql.writes import quoted
from dataexport.domain.columns import ID_COLUMN, ColumnSpec, LogicalType, TypeKind
from dataexport.errors import TableNotUsable


def entity_table(context: SqlContext, table: str, specs: Sequence[ColumnSpec]) -> Table:
    """The SQLAlchemy table of a new entity table: columns in order, the named key on ``Id``."""
    naming, dialect = context.naming, context.dialect
    columns = [
        Column(quoted(naming.column(spec.name)), dialect.declare(logical), nullable=spec.nullable)
        for spec, logical in zip(specs, budgeted_types(context, specs), strict=True)
    ]
    if dialect.primary_key_name is not None:
        key_name = dialect.primary_key_name(naming.schema, table)
    else:
        key_name = naming.primary_key(table)
    # Clustered on SQL Server as DES created it; the keyword is ignored by every other dialect.
    key = PrimaryKeyConstraint(quoted(naming.column(ID_COLUMN)), name=quoted(key_name), mssql_clustered=True)
    schema = quoted(naming.schema) if naming.schema else None
    return Table(quoted(table), MetaData(), *columns, key, schema=schema)


def budgeted_types(context: SqlContext, specs: Sequence[ColumnSpec], used_bytes: int = 0) -> list[LogicalType]:
    """The logical types of ``specs``, strings moved to TEXT once the row's varchar bytes pass the budget.

    Only where the dialect has a row budget (MySQL/MariaDB, DES §6.3 note 1); elsewhere the types as given.
    """
    budget = context.dialect.varchar_row_budget
    if budget is None:
        return [spec.type for spec in specs]
    types: list[LogicalType] = []
    for spec in specs:
        logical = spec.type
        if logical.kind is TypeKind.STRING and "VARCHAR" in context.render(logical).upper():
            cost = (logical.length or 0) * context.dialect.bytes_per_char
            if used_bytes + cost > budget:
                logical = LogicalType(TypeKind.STRING)  # no length: the dialect's unbounded string (``text``)
            else:
                used_bytes += cost
        types.append(logical)
    return types


def varchar_bytes(context: SqlContext, layout: TableLayout) -> int:
    """The declared varchar bytes of an existing table (for the row budget of added columns)."""
    total = 0
    for column in layout.columns:
        declared = column.declared.upper()
        if declared.startswith("VARCHAR(") and declared[8:].split(")")[0].isdigit():
            total += int(declared[8:].split(")")[0]) * context.dialect.bytes_per_char
    return total


def ensure_schema(connection: Connection, context: SqlContext) -> None:
    """Create the profile schema if the dialect creates schemas and it is missing (idempotent)."""
    statement, schema = context.dialect.create_schema_sql, context.naming.schema
    if statement is None or not schema or inspect(connection).has_schema(schema):
        return
    savepoint = connection.begin_nested()
    try:
        connection.execute(text(statement.format(name=context.quote(schema), raw=schema)))
    except IntegrityError:
        # Another writer created it between our check and our CREATE (PostgreSQL reports a unique violation
        # on its catalog even with IF NOT EXISTS): the schema is there, which is all we need.
        savepoint.rollback()
        return
    savepoint.commit()


def ensure_table(
    connection: Connection, context: SqlContext, entity: str, table: str, specs: Sequence[ColumnSpec]
) -> tuple[TableChanges, TableLayout]:
    """Create ``table`` or evolve it towards ``specs``; returns what changed and the resulting layout.

    Raises:
        TableNotUsable: the name is a view, or the existing table has no ``Id`` column.
    """
    schema = context.naming.schema
    ensure_schema(connection, context)
    layout = read_layout(connection, table, schema)
    if layout is None:
        if is_view(connection, table, schema):
            raise TableNotUsable(f"'{table}' exists and is not a table", entity=entity)
        create_table(connection, context, entity_table(context, table, specs))
        return TableChanges(table, created=True), planned_layout(context, table, specs)
    if layout.find(context.naming.column(ID_COLUMN)) is None:
        raise TableNotUsable(f"Table '{table}' has no usable Id column", entity=entity)
    evolution = plan_evolution(layout, specs, context.naming.column, context.render)
    return _evolve(connection, context, layout, evolution)


def create_table(connection: Connection, context: SqlContext, table: Table) -> None:
    """``CREATE TABLE`` unless the table exists (``IF NOT EXISTS`` where the engine has it)."""
    if not context.dialect.capabilities.transactional_ddl:
        connection.execute(CreateTable(table, if_not_exists=True))  # MySQL: DDL commits, no savepoint
        return
    if inspect(connection).has_table(table.name, schema=table.schema):
        return
    savepoint = connection.begin_nested()
    try:
        connection.execute(CreateTable(table, if_not_exists=context.dialect.create_if_not_exists))
    except IntegrityError:
        # A concurrent writer created it after our check (PostgreSQL reports a catalog unique violation).
        savepoint.rollback()
        if not inspect(connection).has_table(table.name, schema=table.schema):
            raise
        return
    savepoint.commit()


def planned_layout(context: SqlContext, table: str, specs: Sequence[ColumnSpec]) -> TableLayout:
    """The layout a new table for ``specs`` gets (names and declared types, row budget applied)."""
    logical_types = budgeted_types(context, specs)
    columns = tuple(
        ExistingColumn(context.naming.column(s.name), context.render(t))
        for s, t in zip(specs, logical_types, strict=True)
    )
    return TableLayout(table, columns)


def _evolve(
    connection: Connection, context: SqlContext, layout: TableLayout, evolution: Evolution
) -> tuple[TableChanges, TableLayout]:
    changes: list[ColumnChange] = []
    added: list[ExistingColumn] = []
    logical_types = budgeted_types(context, evolution.add, varchar_bytes(context, layout))
    for spec, logical in zip(evolution.add, logical_types, strict=True):
        name, declared = context.naming.column(spec.name), context.render(logical)
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
