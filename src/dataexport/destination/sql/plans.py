"""Building the :class:`~.writes.WritePlan` of an entity from its schema and its table's layout."""

from __future__ import annotations

from dataclasses import replace

from dataexport.destination.evolution import TableLayout, writable_specs
from dataexport.destination.sql.context import SqlContext
from dataexport.destination.sql.writes import PlannedColumn, WritePlan
from dataexport.domain.columns import (
    BIGINT,
    DATETIME,
    GUID,
    ID_COLUMN,
    SINK_CREATED_ON,
    SINK_MODIFIED_ON,
    VERSION_COLUMN,
    SourceKind,
    column_specs,
)
from dataexport.domain.schema import EntitySchema
from dataexport.errors import TableNotUsable


def build_write_plan(context: SqlContext, schema: EntitySchema, layout: TableLayout) -> WritePlan:
    """The plan writing ``schema``'s columns that exist in ``layout`` with a fitting type.

    Raises:
        TableNotUsable: the table lacks ``Id`` or ``versionnumber`` (the guards need both).
    """
    naming = context.naming
    id_column, version_column = layout.find(naming.column(ID_COLUMN)), layout.find(naming.column(VERSION_COLUMN))
    if id_column is None or version_column is None:
        message = f"Table '{layout.table}' needs both an Id and a versionnumber column"
        raise TableNotUsable(message, entity=schema.logical_name)
    values = [spec for spec in column_specs(schema) if spec.source.kind is not SourceKind.SYSTEM]
    writable = writable_specs(layout, values, naming.column, context.render)
    created, modified = layout.find(naming.column(SINK_CREATED_ON)), layout.find(naming.column(SINK_MODIFIED_ON))
    logical = {
        id_column.name: GUID,
        version_column.name: BIGINT,
        **{name.name: DATETIME for name in (created, modified) if name},
        **{name: spec.type for spec, name in writable},
    }
    plan = WritePlan(
        table=layout.table,
        schema=naming.schema,
        id_column=id_column.name,
        version_column=version_column.name,
        created_column=created.name if created else None,
        modified_column=modified.name if modified else None,
        columns=tuple(PlannedColumn(spec.name, name, context.dialect.encoder(spec.type)) for spec, name in writable),
        encode_time=context.dialect.encoder(DATETIME),
        upsert=context.dialect.upsert,
        id_array=context.dialect.id_array(),
        types=context.bind_types(logical),
        kinds={name: logical_type.kind for name, logical_type in logical.items()},
    )
    prepare = context.dialect.bulk_upsert
    bulk = prepare(plan) if prepare is not None and context.dialect.capabilities.bulk_copy else None
    return replace(plan, bulk=bulk) if bulk is not None else plan
