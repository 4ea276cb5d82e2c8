"""The six DES metadata tables and DeleteLog (DES §6.5, §6.7): definitions as data, creation, refresh."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    Connection,
    Identity,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.sql import TableClause

from dataexport.destination.sql.context import SqlContext
from dataexport.destination.sql.ddl import create_table, ensure_schema
from dataexport.destination.sql.writes import DeleteLogTarget, quoted, table_clause
from dataexport.domain.columns import BIGINT, BOOLEAN, DATETIME, IDENTITY, INTEGER, LogicalType, TypeKind, string
from dataexport.domain.metadata import AttributeRow, EntityMetadataRows, LabelRow, TargetRow

NAME = string(64)
LABEL = string(350)


@dataclass(frozen=True, slots=True)
class FixedColumn:
    """A column of a fixed-layout table, DES spelling."""

    name: str
    type: LogicalType
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class FixedTable:
    """A table whose layout the service defines (metadata tables, DeleteLog)."""

    name: str
    columns: tuple[FixedColumn, ...]
    primary_key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names, DES spelling."""
        return tuple(c.name for c in self.columns)


def _labels(*keys: FixedColumn) -> tuple[FixedColumn, ...]:
    tail = (
        FixedColumn("IsUserLocalizedLabel", BOOLEAN),
        FixedColumn("LocalizedLabelLanguageCode", INTEGER),
        FixedColumn("LocalizedLabel", LABEL, nullable=True),
    )
    return keys + tail


_LABEL_KEY = ("IsUserLocalizedLabel", "LocalizedLabelLanguageCode")
OPTION_SET = FixedTable(
    "OptionSetMetadata",
    _labels(FixedColumn("EntityName", NAME), FixedColumn("OptionSetName", NAME), FixedColumn("Option", INTEGER)),
    ("EntityName", "OptionSetName", "Option", *_LABEL_KEY),
)
GLOBAL_OPTION_SET = FixedTable(
    "GlobalOptionSetMetadata",
    _labels(FixedColumn("OptionSetName", NAME), FixedColumn("Option", INTEGER)),
    ("OptionSetName", "Option", *_LABEL_KEY),
)
STATE = FixedTable(
    "StateMetadata",
    _labels(FixedColumn("EntityName", NAME), FixedColumn("State", INTEGER)),
    ("EntityName", "State", *_LABEL_KEY),
)
STATUS = FixedTable(
    "StatusMetadata",
    _labels(FixedColumn("EntityName", NAME), FixedColumn("State", INTEGER), FixedColumn("Status", INTEGER)),
    ("EntityName", "State", "Status", *_LABEL_KEY),
)
TARGET = FixedTable(
    "TargetMetadata",
    (
        FixedColumn("EntityName", NAME),
        FixedColumn("AttributeName", NAME),
        FixedColumn("ReferencedEntity", NAME),
        FixedColumn("ReferencedAttribute", NAME, nullable=True),
    ),
    ("EntityName", "AttributeName", "ReferencedEntity"),
)
ATTRIBUTE = FixedTable(
    "AttributeMetadata",
    (
        FixedColumn("Id", IDENTITY),
        FixedColumn("EntityName", NAME),
        FixedColumn("AttributeName", NAME),
        FixedColumn("AttributeType", NAME),
        FixedColumn("AttributeTypeCode", INTEGER),
        FixedColumn("Version", BIGINT, nullable=True),
        FixedColumn("Timestamp", DATETIME, nullable=True),
        FixedColumn("MetadataId", NAME, nullable=True),
        FixedColumn("Precision", INTEGER, nullable=True),
    ),
    ("Id",),
)
DELETE_LOG = FixedTable(
    "DeleteLog",
    (
        FixedColumn("Id", IDENTITY),
        FixedColumn("EntityName", NAME),
        FixedColumn("RecordId", NAME),
        FixedColumn("SinkDeleteTime", DATETIME),
        FixedColumn("VersionNumber", BIGINT, nullable=True),
    ),
    ("Id",),
)
METADATA_TABLES = (OPTION_SET, GLOBAL_OPTION_SET, STATE, STATUS, TARGET, ATTRIBUTE)


def fixed_table(context: SqlContext, definition: FixedTable) -> Table:
    """The SQLAlchemy table of ``definition`` (an IDENTITY column becomes the auto-increment key)."""
    naming = context.naming
    columns = [
        Column(
            quoted(naming.column(c.name)),
            context.dialect.declare(c.type),
            *([Identity()] if c.type.kind is TypeKind.IDENTITY and context.dialect.identity_columns else []),
            nullable=c.nullable,
            primary_key=c.type.kind is TypeKind.IDENTITY,
            autoincrement=c.type.kind is TypeKind.IDENTITY,
        )
        for c in definition.columns
    ]
    identity = any(c.type.kind is TypeKind.IDENTITY for c in definition.columns)
    extra = [] if identity else [PrimaryKeyConstraint(*(quoted(naming.column(k)) for k in definition.primary_key))]
    schema = quoted(naming.schema) if naming.schema else None
    name = quoted(naming.fixed_table(definition.name))
    return Table(name, MetaData(), *columns, *extra, schema=schema, sqlite_autoincrement=identity)


def create_fixed_tables(connection: Connection, context: SqlContext, definitions: Sequence[FixedTable]) -> None:
    """Create the schema if missing and each table unless it exists (idempotent)."""
    ensure_schema(connection, context)
    for definition in definitions:
        create_table(connection, context, fixed_table(context, definition))


def _clause(context: SqlContext, definition: FixedTable) -> TableClause:
    names = [context.naming.column(c) for c in definition.column_names]
    return table_clause(context.naming.fixed_table(definition.name), context.naming.schema, names)


def _encode(context: SqlContext, definition: FixedTable, row: Mapping[str, object]) -> dict[str, object]:
    types = {c.name: c.type for c in definition.columns}
    return {context.naming.column(k): context.dialect.encoder(types[k])(v) for k, v in row.items()}


def delete_log_target(context: SqlContext, entity: str) -> DeleteLogTarget:
    """Where DeleteLog rows of ``entity`` go."""
    names = {c: context.naming.column(c) for c in DELETE_LOG.column_names}
    return DeleteLogTarget(_clause(context, DELETE_LOG), entity, context.dialect.encoder(DATETIME), names)


def refresh_entity_metadata(
    connection: Connection,
    context: SqlContext,
    rows: EntityMetadataRows,
    changed_columns: Collection[str],
    now: datetime,
) -> None:
    """Replace the entity's label and target rows and update its AttributeMetadata rows in place."""
    entity = rows.entity
    options = [_option_row(entity, r) for r in rows.option_sets]
    _replace(connection, context, OPTION_SET, ("EntityName", entity), options)
    for name, labels in rows.global_option_sets.items():
        _replace(connection, context, GLOBAL_OPTION_SET, ("OptionSetName", name), [_global_row(r) for r in labels])
    _replace(connection, context, STATE, ("EntityName", entity), [_state_row(entity, r) for r in rows.states])
    statuses = [_status_row(entity, r) for r in rows.statuses if r.state is not None]
    _replace(connection, context, STATUS, ("EntityName", entity), statuses)
    _replace(connection, context, TARGET, ("EntityName", entity), [_target_row(entity, r) for r in rows.targets])
    _update_attributes(connection, context, entity, rows.attributes, changed_columns, now)


def _label_values(row: LabelRow) -> dict[str, object]:
    return {
        "IsUserLocalizedLabel": row.is_user_localized,
        "LocalizedLabelLanguageCode": row.language_code,
        "LocalizedLabel": row.label,
    }


def _option_row(entity: str, row: LabelRow) -> dict[str, object]:
    return {"EntityName": entity, "OptionSetName": row.option_set, "Option": row.option, **_label_values(row)}


def _global_row(row: LabelRow) -> dict[str, object]:
    return {"OptionSetName": row.option_set, "Option": row.option, **_label_values(row)}


def _state_row(entity: str, row: LabelRow) -> dict[str, object]:
    return {"EntityName": entity, "State": row.option, **_label_values(row)}


def _status_row(entity: str, row: LabelRow) -> dict[str, object]:
    return {"EntityName": entity, "State": row.state, "Status": row.option, **_label_values(row)}


def _target_row(entity: str, row: TargetRow) -> dict[str, object]:
    return {
        "EntityName": entity,
        "AttributeName": row.attribute,
        "ReferencedEntity": row.referenced_entity,
        "ReferencedAttribute": row.referenced_attribute,
    }


def _replace(
    connection: Connection,
    context: SqlContext,
    definition: FixedTable,
    key: tuple[str, str],
    rows: Sequence[Mapping[str, object]],
) -> None:
    """Delete the rows whose ``key[0]`` column equals ``key[1]``, then insert ``rows``."""
    target = _clause(context, definition)
    connection.execute(delete(target).where(target.c[context.naming.column(key[0])] == key[1]))
    if rows:
        connection.execute(insert(target), [_encode(context, definition, row) for row in rows])


_ATTRIBUTE_FIELDS = ("AttributeType", "AttributeTypeCode", "MetadataId", "Precision")


def _attribute_fields(row: AttributeRow) -> dict[str, object]:
    values = (row.attribute_type, row.attribute_type_code, row.metadata_id, row.precision)
    return dict(zip(_ATTRIBUTE_FIELDS, values, strict=True))


def _update_attributes(
    connection: Connection,
    context: SqlContext,
    entity: str,
    rows: Sequence[AttributeRow],
    changed_columns: Collection[str],
    now: datetime,
) -> None:
    """Insert new AttributeMetadata rows (Version 1); update changed ones in place (Version + 1, same Id)."""
    target = _clause(context, ATTRIBUTE)
    column = {name: target.c[context.naming.column(name)] for name in ATTRIBUTE.column_names}
    query = select(column["Id"], column["AttributeName"], *(column[f] for f in _ATTRIBUTE_FIELDS))
    stored = {r[1]: (r[0], tuple(r[2:])) for r in connection.execute(query.where(column["EntityName"] == entity))}
    new_rows: list[dict[str, object]] = []
    for row in rows:
        fields = _attribute_fields(row)
        if row.attribute not in stored:
            base = {"EntityName": entity, "AttributeName": row.attribute, "Version": 1, "Timestamp": now}
            new_rows.append(_encode(context, ATTRIBUTE, {**base, **fields}))
            continue
        row_id, values = stored[row.attribute]
        if values != tuple(fields.values()) or row.attribute in changed_columns:
            encoded = _encode(context, ATTRIBUTE, {**fields, "Timestamp": now})
            bump = {column["Version"]: func.coalesce(column["Version"], 0) + 1}
            connection.execute(update(target).where(column["Id"] == row_id).values({**encoded, **bump}))
    if new_rows:
        connection.execute(insert(target), new_rows)
