"""Streaming generation of a whole sample organization (spec §9.2).

Rows come out table by table: security and reference tables first, then the other tables in catalog
order, intersect tables last. Nothing is kept per row: lookups name "row k of table t" through the
:class:`~.plan.OrgPlan`, so memory does not grow with ``scale``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dataverse_emulator.catalog.model import AttributeDef, AttributeType, Catalog, OptionSetType, TableDef
from dataverse_emulator.generator.columns import TableColumns, compile_table, is_generated
from dataverse_emulator.generator.context import RowContext
from dataverse_emulator.generator.encode import encode_fixed
from dataverse_emulator.generator.fixed_rows import FixedRow, fixed_rows, owner_names
from dataverse_emulator.generator.identities import SampleIdentities, SampleLink, derive_seed
from dataverse_emulator.generator.lexicon import Lexicon, default_lexicon
from dataverse_emulator.generator.plan import IDENTITY_LINKS, IDENTITY_TABLES, OWNER_TABLE, OrgPlan, plan_org

DEFAULT_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
#: Generated rows were created during the year before the epoch; fixed rows a little earlier.
_HISTORY = timedelta(days=365)
_SETUP = timedelta(days=400)


@dataclass(frozen=True, slots=True)
class GeneratedRow:
    """One row in storage form: ``data`` is keyed by logical name, nulls omitted, ``data[primary id] == id``."""

    table: str
    id: str
    data: dict[str, object]
    created: datetime


def generate_org(
    catalog: Catalog,
    *,
    scale: int,
    seed: int,
    identities: SampleIdentities,
    counts: Mapping[str, int] | None = None,
    epoch: datetime = DEFAULT_EPOCH,
) -> Iterator[GeneratedRow]:
    """Yield every row of a sample organization; same arguments, same rows (byte for byte).

    Args:
        catalog: the organization's tables; tables it lacks are not generated.
        scale: number of accounts; other tables follow ``plan.PER_ACCOUNT``.
        seed: generation seed.
        identities: the fixed users, roles, teams and currencies (``sample_identities`` with the same seed).
        counts: row counts overriding the ratios (fixed identity rows are always kept).
        epoch: the as-of instant; ``created`` and DateTime values are offsets from it.
    """
    plan = plan_org(catalog, scale=scale, seed=seed, identities=identities, counts=counts)
    generator = _OrgGenerator(catalog, plan, identities, seed, epoch)
    for table in _generation_order(catalog):
        yield from generator.rows(table)


def _generation_order(catalog: Catalog) -> list[TableDef]:
    first = [t for name in (*IDENTITY_TABLES, OWNER_TABLE) if (t := catalog.table(name)) is not None]
    rest = [t for t in catalog.tables if t not in first]
    return first + [t for t in rest if not t.is_intersect] + [t for t in rest if t.is_intersect]


class _OrgGenerator:
    def __init__(
        self, catalog: Catalog, plan: OrgPlan, identities: SampleIdentities, seed: int, epoch: datetime
    ) -> None:
        self._catalog = catalog
        self._plan = plan
        self._identities = identities
        self._seed = seed
        self._epoch = epoch
        self._lexicon: Lexicon = default_lexicon()
        self._fixed = fixed_rows(identities)

    def rows(self, table: TableDef) -> Iterator[GeneratedRow]:
        name = table.logical_name
        rng = random.Random(derive_seed(self._seed, "rows", name))
        if name in IDENTITY_LINKS:
            links = [link for link in self._identities.links if link.intersect == name]
            yield from self._link_rows(table, links)
        elif table.is_intersect:
            yield from self._pair_rows(table, rng)
        elif name == OWNER_TABLE:
            yield from self._owner_rows(table, rng)
        else:
            yield from self._entity_rows(table, rng)

    def _created(self, index: int, count: int, rng: random.Random) -> datetime:
        slot = _HISTORY.total_seconds() / max(count, 1)
        return self._epoch - _HISTORY + timedelta(seconds=int(slot * (index + rng.random())))

    def _context(self, table: TableDef, row_id: str, created: datetime, rng: random.Random) -> RowContext:
        return RowContext(
            rng=rng,
            lexicon=self._lexicon,
            resolver=self._plan,
            table=table.logical_name,
            row_id=row_id,
            created=created,
            epoch=self._epoch,
        )

    def _entity_rows(self, table: TableDef, rng: random.Random) -> Iterator[GeneratedRow]:
        name = table.logical_name
        columns = compile_table(self._catalog, table)
        fixed = self._fixed.get(name, ())
        count = self._plan.count(name)
        for index in range(count):
            row_id = self._plan.id_at(name, index)
            if index < len(fixed):
                created = self._epoch - _SETUP + timedelta(seconds=index)
            else:
                created = self._created(index, count, rng)
            data = columns.fill(self._context(table, row_id, created, rng))
            if index < len(fixed):
                _overlay(self._catalog, columns, data, fixed[index])
            yield GeneratedRow(name, row_id, data, created)

    def _owner_rows(self, table: TableDef, rng: random.Random) -> Iterator[GeneratedRow]:
        columns = compile_table(self._catalog, table)
        names = owner_names(self._identities)
        users = self._plan.count("systemuser")
        created = self._epoch - _SETUP
        for index in range(self._plan.count(OWNER_TABLE)):
            row_id = self._plan.id_at(OWNER_TABLE, index)
            data = columns.fill(self._context(table, row_id, created, rng))
            values: dict[str, object] = {"owneridtype": "systemuser" if index < users else "team"}
            if row_id in names:
                values |= {"name": names[row_id], "yominame": names[row_id]}
            _overlay(self._catalog, columns, data, FixedRow(row_id, values))
            yield GeneratedRow(OWNER_TABLE, row_id, data, created)

    def _link_rows(self, table: TableDef, links: list[SampleLink]) -> Iterator[GeneratedRow]:
        created = self._epoch - _SETUP
        columns = _side_columns(self._catalog, table)
        for link in links:
            data = _link_data(table, columns, link.id, link.left, link.right)
            yield GeneratedRow(table.logical_name, link.id, data, created)

    def _pair_rows(self, table: TableDef, rng: random.Random) -> Iterator[GeneratedRow]:
        """Distinct pairs: row ``i`` links left ``i mod A`` with right ``(i mod A + i div A + offset) mod B``."""
        sides = intersect_sides(self._catalog, table)
        if sides is None:
            return
        (left, _), (right, _) = sides
        lefts, rights = self._plan.count(left), self._plan.count(right)
        count = min(self._plan.count(table.logical_name), lefts * rights)
        offset = rng.randrange(rights) if rights else 0
        columns = dict(sides)
        for index in range(count):
            a = index % lefts
            b = (a + index // lefts + offset) % rights
            row_id = self._plan.id_at(table.logical_name, index)
            pair = ((left, self._plan.id_at(left, a)), (right, self._plan.id_at(right, b)))
            data = _link_data(table, columns, row_id, *pair)
            yield GeneratedRow(table.logical_name, row_id, data, self._created(index, count, rng))


def intersect_sides(catalog: Catalog, table: TableDef) -> tuple[tuple[str, str], tuple[str, str]] | None:
    """``((table1, id column1), (table2, id column2))`` of an intersect table, from its N:N relationship."""
    for relationship in catalog.many_to_many:
        if relationship.intersect_entity == table.logical_name:
            return (
                (relationship.entity1, relationship.entity1_attribute),
                (relationship.entity2, relationship.entity2_attribute),
            )
    keys = [
        (a.logical_name[:-2], a.logical_name)
        for a in table.attributes
        if a.type is AttributeType.UNIQUEIDENTIFIER
        and not a.is_primary_id
        and catalog.table(a.logical_name[:-2]) is not None
    ]
    return (keys[0], keys[1]) if len(keys) == 2 else None


def _side_columns(catalog: Catalog, table: TableDef) -> dict[str, str]:
    sides = intersect_sides(catalog, table)
    return dict(sides) if sides is not None else {}


def _link_data(
    table: TableDef, columns: dict[str, str], row_id: str, left: tuple[str, str], right: tuple[str, str]
) -> dict[str, object]:
    """An intersect row: its own id and the two related ids under the catalog's column names."""
    data: dict[str, object] = {table.primary_id: row_id}
    for side_table, side_id in (left, right):
        data[columns.get(side_table, f"{side_table}id")] = side_id
    return data


def _overlay(catalog: Catalog, columns: TableColumns, data: dict[str, object], row: FixedRow) -> None:
    """Lay a fixed row's values over generated ``data``, skipping what the catalog cannot hold."""
    table = columns.table
    for name, value in row.values.items():
        attribute = table.attribute(name)
        if attribute is None or not is_generated(table, attribute):
            continue
        if value is None:
            data.pop(name, None)
            continue
        encoded = encode_fixed(attribute, value)
        if encoded is not None and _is_allowed(catalog, attribute, encoded):
            data[name] = encoded
    state = data.get("statecode")
    if "statecode" in row.values and isinstance(state, int) and state in columns.status_for_state:
        status = next((a for a in table.attributes if a.type is AttributeType.STATUS), None)
        if status is not None:
            data[status.logical_name] = columns.status_for_state[state]


def _is_allowed(catalog: Catalog, attribute: AttributeDef, value: object) -> bool:
    option_set = catalog.option_set_of(attribute)
    if option_set is None or option_set.type is OptionSetType.BOOLEAN or attribute.is_multiselect:
        return True
    return any(o.value == value for o in option_set.options)
