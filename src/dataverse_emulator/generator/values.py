"""Generators of independent values: numbers, options, dates, GUIDs and text, by attribute type.

Each factory looks at one attribute once and returns a generator that respects its ``MinValue``/
``MaxValue``, ``Precision``, option set and ``MaxLength``. Numbers fall in a usual range (or one a
column name hints at, like ``numberofemployees``) clipped to what the attribute allows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from dataverse_emulator.catalog.model import AttributeDef, AttributeType, Catalog, OptionSetDef, TableDef
from dataverse_emulator.generator.context import RowContext
from dataverse_emulator.generator.encode import (
    StorageValue,
    datetime_text,
    random_int,
    random_moment,
    unit_bounds,
    units_float,
    units_text,
    value_range,
)
from dataverse_emulator.generator.text import text_generator

ColumnGen = Callable[[RowContext], StorageValue | None]

_NUMBER_HINTS: dict[str, tuple[float, float]] = {
    "numberofemployees": (1, 50_000),
    "revenue": (10_000, 500_000_000),
    "probability": (0, 100),
    "percent": (0, 100),
    "duration": (0, 480),
    "latitude": (-60, 70),
    "longitude": (-180, 180),
    "timezoneruleversion": (0, 4),
    "timezonecode": (0, 300),
}


def _hint(attribute: AttributeDef) -> tuple[float, float] | None:
    name = attribute.logical_name
    return next((usual for key, usual in _NUMBER_HINTS.items() if key in name), None)


def _integer(catalog: Catalog, table: TableDef, attribute: AttributeDef) -> ColumnGen:
    usual = _hint(attribute)
    return lambda ctx: random_int(attribute, ctx.rng, usual)


def _decimal(catalog: Catalog, table: TableDef, attribute: AttributeDef) -> ColumnGen:
    low, high = unit_bounds(attribute, *value_range(attribute, _hint(attribute)))
    return lambda ctx: units_text(attribute, ctx.rng.randint(low, high))


def _double(catalog: Catalog, table: TableDef, attribute: AttributeDef) -> ColumnGen:
    low, high = unit_bounds(attribute, *value_range(attribute, _hint(attribute)))
    return lambda ctx: units_float(attribute, ctx.rng.randint(low, high))


def _boolean(catalog: Catalog, table: TableDef, attribute: AttributeDef) -> ColumnGen:
    return lambda ctx: ctx.rng.random() < 0.5


def _picklist(catalog: Catalog, table: TableDef, attribute: AttributeDef) -> ColumnGen | None:
    option_set = catalog.option_set_of(attribute)
    values = tuple(o.value for o in option_set.options) if option_set else ()
    if not values:
        return None
    return lambda ctx: ctx.rng.choice(values)


def multi_select(option_set: OptionSetDef | None) -> ColumnGen | None:
    values = tuple(sorted(o.value for o in option_set.options)) if option_set else ()
    if not values:
        return None

    def generate(ctx: RowContext) -> str:
        picked = ctx.rng.sample(values, ctx.rng.randint(1, min(3, len(values))))
        return ",".join(str(v) for v in sorted(picked))

    return generate


def _datetime(catalog: Catalog, table: TableDef, attribute: AttributeDef) -> ColumnGen:
    if any(k in attribute.logical_name for k in ("birthdate", "anniversary")):
        start, end = datetime(1950, 1, 1, tzinfo=UTC), datetime(2005, 12, 31, tzinfo=UTC)
        return lambda ctx: datetime_text(attribute, random_moment(ctx.rng, start, end))
    before, after = timedelta(days=365), timedelta(days=180)
    return lambda ctx: datetime_text(attribute, random_moment(ctx.rng, ctx.epoch - before, ctx.epoch + after))


def _guid(catalog: Catalog, table: TableDef, attribute: AttributeDef) -> ColumnGen:
    return lambda ctx: str(uuid.UUID(int=ctx.rng.getrandbits(128), version=4))


def _entity_name(catalog: Catalog, table: TableDef, attribute: AttributeDef) -> ColumnGen | None:
    if attribute.logical_name in ("activitytypecode", "objecttypecode"):
        own = table.logical_name
        return lambda ctx: own
    names = tuple(t.logical_name for t in catalog.tables if len(t.logical_name) <= (attribute.max_length or 999))
    return (lambda ctx: ctx.rng.choice(names)) if names else None


def _text(catalog: Catalog, table: TableDef, attribute: AttributeDef) -> ColumnGen:
    return text_generator(table, attribute)


PLAIN_FACTORIES: dict[AttributeType, Callable[[Catalog, TableDef, AttributeDef], ColumnGen | None]] = {
    AttributeType.STRING: _text,
    AttributeType.MEMO: _text,
    AttributeType.ENTITYNAME: _entity_name,
    AttributeType.INTEGER: _integer,
    AttributeType.BIGINT: _integer,
    AttributeType.PICKLIST: _picklist,
    AttributeType.DECIMAL: _decimal,
    AttributeType.MONEY: _decimal,
    AttributeType.DOUBLE: _double,
    AttributeType.BOOLEAN: _boolean,
    AttributeType.DATETIME: _datetime,
    AttributeType.UNIQUEIDENTIFIER: _guid,
}
