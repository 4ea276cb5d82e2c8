"""Rendering stored rows as Web API JSON objects (spec §2.1, §2.6, §2.7).

A :class:`RowRenderer` is built once per request for one table, a ``$select`` and the requested
annotations; it precomputes a column plan so a 5,000-row page costs one pass per row. Decimal and
Money values are emitted as raw JSON numbers (``orjson.Fragment``) so their digits survive exactly.
Annotations are emitted only when asked, each just before its property, and ``lookuplogicalname``
for every non-null lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import orjson

from dataverse_emulator.catalog.model import (
    AttributeDef,
    AttributeType,
    Catalog,
    DateTimeBehavior,
    TableDef,
)
from dataverse_emulator.errors import unknown_property
from dataverse_emulator.storage import OrgStore, StoredRow

FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname"
NAVIGATION = "Microsoft.Dynamics.CRM.associatednavigationproperty"

_DECIMAL_TYPES = frozenset({AttributeType.DECIMAL, AttributeType.MONEY})
_OPTION_TYPES = frozenset({AttributeType.PICKLIST, AttributeType.STATE, AttributeType.STATUS, AttributeType.BOOLEAN})
_GROUPED_TYPES = frozenset({AttributeType.INTEGER, AttributeType.BIGINT, AttributeType.DECIMAL})


def type_name(table: TableDef) -> str:
    return f"Microsoft.Dynamics.CRM.{table.logical_name}"


def selectable_properties(table: TableDef) -> dict[str, AttributeDef]:
    """Row property name → attribute, for every attribute that rows carry."""
    return {a.property_name: a for a in table.row_attributes()}


def resolve_select(table: TableDef, select: Sequence[str] | None) -> tuple[AttributeDef, ...]:
    """The attributes a response carries, validating ``$select`` (unknown → 400)."""
    properties = selectable_properties(table)
    if select is None:
        return tuple(properties.values())
    chosen: list[AttributeDef] = []
    for name in select:
        attribute = properties.get(name)
        if attribute is None:
            raise unknown_property(name, type_name(table))
        if attribute not in chosen:
            chosen.append(attribute)
    primary = table.attribute(table.primary_id)
    if primary is not None and primary not in chosen:
        chosen.append(primary)
    return tuple(chosen)


def format_number(value: object, decimals: int | None) -> str:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if decimals is None:
        return f"{number:,}"
    return f"{number:,.{decimals}f}"


def format_datetime(text: str, behavior: DateTimeBehavior | None) -> str:
    """``M/d/yyyy h:mm tt`` in UTC (the emulator user's time zone), or ``M/d/yyyy`` for date-only."""
    if behavior is DateTimeBehavior.DATE_ONLY or len(text) == 10:
        year, month, day = text[:10].split("-")
        return f"{int(month)}/{int(day)}/{year}"
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02d} {suffix}"


@dataclass(frozen=True)
class _Column:
    attribute: AttributeDef
    name: str
    is_decimal: bool
    is_lookup: bool
    formatter: Callable[[object, StoredRow], str | None] | None


class RowRenderer:
    """Renders rows of one table for one request."""

    def __init__(
        self,
        store: OrgStore,
        table: TableDef,
        attributes: Sequence[AttributeDef],
        wants: Callable[[str], bool],
    ) -> None:
        self._store = store
        self._catalog: Catalog = store.catalog
        self._table = table
        self._formatted = wants(FORMATTED)
        self._lookup_names = wants(LOOKUP_NAME)
        self._navigation = wants(NAVIGATION)
        self._columns = [self._plan(a) for a in attributes]
        self._names: dict[tuple[str, str], str | None] = {}
        self._currency_symbols: dict[str, str] | None = None

    def _plan(self, attribute: AttributeDef) -> _Column:
        formatter = self._formatter_for(attribute) if self._formatted else None
        return _Column(
            attribute=attribute,
            name=attribute.property_name,
            is_decimal=attribute.type in _DECIMAL_TYPES,
            is_lookup=attribute.is_lookup,
            formatter=formatter,
        )

    def _formatter_for(self, attribute: AttributeDef) -> Callable[[object, StoredRow], str | None] | None:
        kind = attribute.type
        if kind in _OPTION_TYPES:
            options = self._catalog.option_set_of(attribute)
            if options is None:
                return None
            return lambda value, _row: options.label_of(value)  # type: ignore[arg-type]
        if attribute.is_multiselect:
            choices = self._catalog.option_set_of(attribute)
            if choices is None:
                return None
            return lambda value, _row: "; ".join(choices.label_of(int(v)) or v for v in str(value).split(",") if v)
        if kind is AttributeType.MONEY:
            decimals = attribute.precision if attribute.precision is not None else 2
            return lambda value, row: self._currency_symbol(row) + format_number(value, decimals)
        if kind in _GROUPED_TYPES:
            scale = attribute.precision if kind is AttributeType.DECIMAL else None
            return lambda value, _row: format_number(value, scale)
        if kind is AttributeType.DOUBLE:
            return lambda value, _row: format_number(value, attribute.precision)
        if kind is AttributeType.DATETIME:
            behavior = attribute.datetime_behavior
            return lambda value, _row: format_datetime(str(value), behavior)
        return None

    def _currency_symbol(self, row: StoredRow) -> str:
        if self._currency_symbols is None:
            self._currency_symbols = {
                r.id: str(r.data.get("currencysymbol", "$")) for r in self._store.scan("transactioncurrency")
            }
        currency = row.data.get("transactioncurrencyid")
        if isinstance(currency, list):
            return self._currency_symbols.get(str(currency[1]), "$")
        return "$"

    def _prefetch_names(self, rows: Iterable[StoredRow]) -> None:
        """Load the primary names of every lookup target in the page, one query per target table."""
        wanted: dict[str, set[str]] = {}
        for row in rows:
            for column in self._columns:
                if column.is_lookup:
                    value = row.data.get(column.attribute.logical_name)
                    if isinstance(value, list) and (value[0], value[1]) not in self._names:
                        wanted.setdefault(str(value[0]), set()).add(str(value[1]))
        for target, ids in wanted.items():
            target_table = self._catalog.table(target)
            name_attribute = target_table.primary_name if target_table else None
            found = self._store.get_many(target, ids) if name_attribute else {}
            for record_id in ids:
                target_row = found.get(record_id)
                name = target_row.data.get(name_attribute) if target_row and name_attribute else None
                self._names[(target, record_id)] = None if name is None else str(name)

    def _navigation_of(self, attribute: AttributeDef, target: str) -> str:
        for relationship in self._catalog.one_to_many:
            if (
                relationship.referencing_entity == self._table.logical_name
                and relationship.referencing_attribute == attribute.logical_name
                and relationship.referenced_entity == target
            ):
                return relationship.referencing_navigation
        return attribute.logical_name

    def render(self, rows: Sequence[StoredRow]) -> list[dict[str, object]]:
        if self._formatted and any(c.is_lookup for c in self._columns):
            self._prefetch_names(rows)
        return [self.render_one(row) for row in rows]

    def render_one(self, row: StoredRow) -> dict[str, object]:
        out: dict[str, object] = {"@odata.etag": f'W/"{row.version}"'}
        data = row.data
        for column in self._columns:
            logical = column.attribute.logical_name
            value = row.version if logical == "versionnumber" else data.get(logical)
            if value is None:
                out[column.name] = None
                continue
            if column.is_lookup:
                self._annotate_lookup(out, column, value)
                continue
            if column.formatter is not None:
                formatted = column.formatter(value, row)
                if formatted is not None:
                    out[f"{column.name}@{FORMATTED}"] = formatted
            out[column.name] = orjson.Fragment(str(value)) if column.is_decimal else value
        return out

    def _annotate_lookup(self, out: dict[str, object], column: _Column, value: object) -> None:
        target, record_id = (str(part) for part in value)  # type: ignore[attr-defined]
        if self._formatted:
            name = self._names.get((target, record_id))
            if name is not None:
                out[f"{column.name}@{FORMATTED}"] = name
        if self._navigation:
            out[f"{column.name}@{NAVIGATION}"] = self._navigation_of(column.attribute, target)
        if self._lookup_names:
            out[f"{column.name}@{LOOKUP_NAME}"] = target
        out[column.name] = record_id
