"""Single rows and partial updates for the workload generator, with the sample-org value generators.

:class:`RowFactory` compiles each table's column plan once; the module functions :func:`make_row`
and :func:`mutate_row` are one-shot conveniences that compile on every call.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal

from dataverse_emulator.catalog.model import Catalog
from dataverse_emulator.generator.columns import Column, ColumnKind, TableColumns, compile_table
from dataverse_emulator.generator.context import PoolResolver, RowContext
from dataverse_emulator.generator.lexicon import default_lexicon
from dataverse_emulator.generator.org import DEFAULT_EPOCH, intersect_sides

LookupPool = Callable[[str], str | None]
#: Share of optional columns an update sets to null.
_NULL_SHARE = 0.1
_MAX_CHANGES = 4


def _no_rows(table: str) -> str | None:
    return None


class RowFactory:
    """Fresh rows and partial updates of one catalog's tables, in storage form."""

    def __init__(self, catalog: Catalog, *, epoch: datetime = DEFAULT_EPOCH) -> None:
        self._catalog = catalog
        self._epoch = epoch
        self._compiled: dict[str, TableColumns] = {}

    def columns(self, table: str) -> TableColumns:
        """The column plan of ``table``; raises ``KeyError`` when the catalog has no such table."""
        if table not in self._compiled:
            definition = self._catalog.table(table)
            if definition is None:
                raise KeyError(f"table={table!r} is not in the catalog")
            self._compiled[table] = compile_table(self._catalog, definition)
        return self._compiled[table]

    def make_row(
        self,
        table: str,
        rng: random.Random,
        *,
        lookup_pool: LookupPool,
        currencies: Mapping[str, Decimal] | None = None,
    ) -> dict[str, object]:
        """A new row's data (including its primary id), values drawn like the sample org's.

        Args:
            table: logical name.
            rng: the caller's seeded RNG (the only source of randomness).
            lookup_pool: returns the id of an existing row of a table, or ``None`` (lookup left null).
            currencies: ``{transactioncurrencyid: exchange rate}``; without it the currency comes from
                ``lookup_pool`` and ``exchangerate`` and the ``_base`` amounts are left null.
        """
        columns = self.columns(table)
        row_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        definition = columns.table
        if definition.is_intersect:
            return self._intersect_row(row_id, table, lookup_pool)
        ctx = self._context(table, row_id, rng, PoolResolver(lookup_pool, currencies))
        return columns.fill(ctx)

    def _intersect_row(self, row_id: str, table: str, lookup_pool: LookupPool) -> dict[str, object]:
        definition = self.columns(table).table
        data: dict[str, object] = {definition.primary_id: row_id}
        for side_table, column in intersect_sides(self._catalog, definition) or ():
            side_id = lookup_pool(side_table)
            if side_id is not None:
                data[column] = side_id
        return data

    def mutate_row(self, table: str, rng: random.Random, *, lookup_pool: LookupPool | None = None) -> dict[str, object]:
        """A partial update: 1 to 4 updatable columns with new values (``None`` sets a column to null).

        ``statecode`` and ``statuscode`` change together. Columns whose value depends on other columns
        (owner, currency and ``_base`` amounts, images, ``fullname``, composites) are never chosen;
        lookups only when ``lookup_pool`` is given. Empty for tables with nothing to update.
        """
        columns = self.columns(table)
        kinds = {ColumnKind.PLAIN, ColumnKind.STATE} | ({ColumnKind.LOOKUP} if lookup_pool else set())
        candidates = [c for c in columns.main if c.updatable and c.kind in kinds and c.fill > 0]
        if not candidates:
            return {}
        resolver = PoolResolver(lookup_pool or _no_rows, None)
        ctx = self._context(table, "", rng, resolver)
        state_pair = [c for c in candidates if c.kind is ColumnKind.STATE]
        changes: dict[str, object] = {}
        for column in rng.sample(candidates, rng.randint(1, min(_MAX_CHANGES, len(candidates)))):
            for target in state_pair if column.kind is ColumnKind.STATE else [column]:
                changes[target.name] = _new_value(target, ctx)
        return {name: value for name, value in changes.items() if value is not None or _is_optional(columns, name)}

    def _context(self, table: str, row_id: str, rng: random.Random, resolver: PoolResolver) -> RowContext:
        return RowContext(
            rng=rng,
            lexicon=default_lexicon(),
            resolver=resolver,
            table=table,
            row_id=row_id,
            created=self._epoch,
            epoch=self._epoch,
        )


def _new_value(column: Column, ctx: RowContext) -> object:
    if column.fill < 1.0 and ctx.rng.random() < _NULL_SHARE:
        return None
    return column.generate(ctx)


def _is_optional(columns: TableColumns, name: str) -> bool:
    return any(c.name == name and c.fill < 1.0 for c in columns.main)


def make_row(
    catalog: Catalog,
    table: str,
    rng: random.Random,
    *,
    lookup_pool: LookupPool,
    currencies: Mapping[str, Decimal] | None = None,
) -> dict[str, object]:
    """One-shot :meth:`RowFactory.make_row` (compiles the table's plan on every call)."""
    return RowFactory(catalog).make_row(table, rng, lookup_pool=lookup_pool, currencies=currencies)


def mutate_row(
    catalog: Catalog, table: str, rng: random.Random, *, lookup_pool: LookupPool | None = None
) -> dict[str, object]:
    """One-shot :meth:`RowFactory.mutate_row` (compiles the table's plan on every call)."""
    return RowFactory(catalog).mutate_row(table, rng, lookup_pool=lookup_pool)
