"""Per-table column plans: which columns a generated row carries and how each value is drawn.

:func:`compile_table` looks at the catalog once per table and returns a :class:`TableColumns` whose
:meth:`~TableColumns.fill` builds a row's data in storage form (see ``encode``). Columns are skipped
when the storage layer stamps them (``versionnumber``, ``createdon``, ``modifiedon``), when rows do not
carry them (``is_row_property``), and for plain ``VirtualType`` columns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from dataverse_emulator.catalog.model import IMAGE_COMPANIONS, AttributeDef, AttributeType, Catalog, TableDef
from dataverse_emulator.generator import coupled, values
from dataverse_emulator.generator.context import RowContext
from dataverse_emulator.generator.encode import StorageValue
from dataverse_emulator.generator.text import derived_text_generator

ColumnGen = Callable[[RowContext], StorageValue | None]

#: Stamped by the storage layer, never generated.
STAMPED = frozenset({"versionnumber", "createdon", "modifiedon"})
#: Columns every row has a value for (when a value can be found).
_ALWAYS = frozenset(
    {
        "statecode",
        "statuscode",
        "ownerid",
        "owninguser",
        "owningteam",
        "owningbusinessunit",
        "createdby",
        "modifiedby",
        "transactioncurrencyid",
        "exchangerate",
        "azureactivedirectoryobjectid",
        "firstname",
        "lastname",
        "emailaddress1",
    }
)
#: Columns only fixed rows set (an ``applicationid`` would turn a user into an application user).
_NEVER = frozenset({"applicationid"})
_REQUIRED_LEVELS = frozenset({"SystemRequired", "ApplicationRequired"})


class ColumnKind(Enum):
    """What a column's value depends on; the update generator only touches independent kinds."""

    PLAIN = "plain"
    LOOKUP = "lookup"
    OWNER = "owner"
    STATE = "state"
    CURRENCY = "currency"
    IMAGE = "image"
    DERIVED = "derived"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: ColumnKind
    fill: float
    generate: ColumnGen
    updatable: bool


@dataclass(frozen=True)
class TableColumns:
    """The generation plan of one table."""

    table: TableDef
    main: tuple[Column, ...]
    derived: tuple[Column, ...]
    #: The status to pair with a forced state (for fixed rows): ``{state: first status of that state}``.
    status_for_state: dict[int, int]

    def fill(self, ctx: RowContext) -> dict[str, object]:
        """Draw the row's values into ``ctx.data`` (null values omitted) and return it."""
        data = ctx.data
        data[self.table.primary_id] = ctx.row_id
        rng = ctx.rng
        for column in self.main:
            if column.fill < 1.0 and rng.random() >= column.fill:
                continue
            value = column.generate(ctx)
            if value is not None:
                data[column.name] = value
        for column in self.derived:
            value = column.generate(ctx)
            if value is not None:
                data[column.name] = value
        return data


def is_generated(table: TableDef, attribute: AttributeDef) -> bool:
    """Whether generated rows may carry a value for ``attribute`` (the primary id aside)."""
    if not attribute.is_row_property or attribute.is_primary_id or attribute.logical_name in STAMPED:
        return False
    if attribute.logical_name == table.primary_id:
        return False
    return not (attribute.type is AttributeType.VIRTUAL and not attribute.is_multiselect)


def fill_share(table: TableDef, attribute: AttributeDef) -> float:
    """How often an optional column has a value: stable per column, between 0.3 and 0.7."""
    name = attribute.logical_name
    if name in _NEVER:
        return 0.0
    if name in _ALWAYS or attribute.is_primary_name or attribute.required_level in _REQUIRED_LEVELS:
        return 1.0
    digest = hashlib.blake2b(f"{table.logical_name}.{name}".encode(), digest_size=4).digest()
    return 0.3 + 0.4 * int.from_bytes(digest, "big") / 2**32


def compile_table(catalog: Catalog, table: TableDef) -> TableColumns:
    """Build the generation plan of ``table``."""
    main: list[Column] = []
    derived: list[Column] = []
    for attribute in table.attributes:
        if not is_generated(table, attribute):
            continue
        late = _derived_generator(table, attribute)
        if late is not None:
            derived.append(Column(attribute.logical_name, ColumnKind.DERIVED, 1.0, late, False))
            continue
        made = _generator(catalog, table, attribute)
        if made is not None:
            kind, generate = made
            fill = 1.0 if kind in (ColumnKind.IMAGE, ColumnKind.STATE) else fill_share(table, attribute)
            updatable = attribute.is_valid_for_update
            main.append(Column(attribute.logical_name, kind, fill, generate, updatable))
    return TableColumns(table, tuple(main), tuple(derived), coupled.status_for_state(catalog, table))


def _derived_generator(table: TableDef, attribute: AttributeDef) -> ColumnGen | None:
    if attribute.type is AttributeType.MONEY:
        source = coupled.base_source(table, attribute)
        return coupled.base_amount_generator(attribute, source) if source is not None else None
    if attribute.type in (AttributeType.STRING, AttributeType.MEMO):
        return derived_text_generator(table, attribute)
    return None


def _generator(catalog: Catalog, table: TableDef, attribute: AttributeDef) -> tuple[ColumnKind, ColumnGen] | None:
    name, kind = attribute.logical_name, attribute.type
    if name in IMAGE_COMPANIONS:
        return ColumnKind.IMAGE, coupled.image_companion(table, attribute)
    if attribute.is_multiselect:
        return _plain(values.multi_select(catalog.option_set_of(attribute)))
    if name == "transactioncurrencyid":
        return ColumnKind.CURRENCY, coupled.currency_lookup
    if attribute.is_lookup:
        owner = kind is AttributeType.OWNER or name in coupled.OWNER_FAMILY
        return (ColumnKind.OWNER if owner else ColumnKind.LOOKUP), coupled.lookup(attribute)
    if kind in (AttributeType.STATE, AttributeType.STATUS):
        chooser = coupled.state_chooser(catalog, table)
        index = 0 if kind is AttributeType.STATE else 1
        return ColumnKind.STATE, lambda ctx: ctx.state_status(chooser)[index]
    if name == "exchangerate" and kind in (AttributeType.DECIMAL, AttributeType.MONEY):
        return ColumnKind.CURRENCY, coupled.exchange_rate(attribute)
    factory = values.PLAIN_FACTORIES.get(kind)
    return _plain(factory(catalog, table, attribute)) if factory is not None else None


def _plain(generate: ColumnGen | None) -> tuple[ColumnKind, ColumnGen] | None:
    return None if generate is None else (ColumnKind.PLAIN, generate)
