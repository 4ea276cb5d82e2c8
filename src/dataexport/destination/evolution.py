"""Pure planning of schema changes for an existing table (DES §6.9), shared by every destination.

Declared types are compared as the dialect compiles them: the same base type with a larger length is a
widening, with a larger scale a precision raise; a smaller one is kept as is; another base type is a
type change, which is reported and never altered. SQLite declares no lengths, so there only type
changes and added columns occur.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from dataexport.domain.columns import ColumnSpec, LogicalType

_DECLARED = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 ]*?)\s*(?:\(\s*(\w+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")
_MAX = 1 << 62


@dataclass(frozen=True, slots=True)
class ExistingColumn:
    """A column as the destination reports it; ``declared`` is its type as the destination spells it."""

    name: str
    declared: str


@dataclass(frozen=True, slots=True)
class TableLayout:
    """The columns of an existing table, in table order."""

    table: str
    columns: tuple[ExistingColumn, ...]

    def find(self, name: str) -> ExistingColumn | None:
        """The column named ``name``, compared case-insensitively (SQLite and SQL Server fold case)."""
        wanted = name.lower()
        return next((column for column in self.columns if column.name.lower() == wanted), None)

    def with_columns(self, added: tuple[ExistingColumn, ...]) -> TableLayout:
        """The layout after ``added`` columns were appended."""
        return TableLayout(self.table, self.columns + added)


class TypeFit(StrEnum):
    """How an existing column's declared type relates to the one an attribute now needs."""

    SAME = "same"  # also a column longer or more precise than needed: kept as is
    WIDEN = "widen"
    RAISE_PRECISION = "raise_precision"
    CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class _Declared:
    base: str
    length: int | None
    scale: int | None


def _parse(declared: str) -> _Declared:
    match = _DECLARED.match(declared)
    if match is None:
        return _Declared(declared.strip().upper(), None, None)
    base, first, second = match.groups()
    length = None if first is None else (_MAX if first.upper() == "MAX" else int(first) if first.isdigit() else None)
    return _Declared(" ".join(base.upper().split()), length, int(second) if second else None)


#: String types from narrow to wide (MySQL moves a long string to ``text``): a wider one holds a narrower one.
_STRING_RANKS = {"VARCHAR": 0, "NVARCHAR": 0, "TEXT": 1, "MEDIUMTEXT": 2, "LONGTEXT": 3}


def compare_declared(existing: str, required: str) -> TypeFit:
    """Compare an existing column's declared type with the required one."""
    old, new = _parse(existing), _parse(required)
    if old.base != new.base:
        return _compare_strings(old, new)
    if old.scale is not None and new.scale is not None and new.scale > old.scale:
        return TypeFit.RAISE_PRECISION
    if new.scale is None and old.length is not None and new.length is not None and new.length > old.length:
        return TypeFit.WIDEN
    return TypeFit.SAME


def _compare_strings(old: _Declared, new: _Declared) -> TypeFit:
    """Two different string types: widen towards the wider one, keep a wider one, else a type change."""
    old_rank, new_rank = _STRING_RANKS.get(old.base), _STRING_RANKS.get(new.base)
    if old_rank is None or new_rank is None or old_rank == new_rank:
        return TypeFit.CHANGED
    return TypeFit.WIDEN if new_rank > old_rank else TypeFit.SAME


@dataclass(frozen=True, slots=True)
class PlannedAlter:
    """A column to widen or raise: the spec, the existing declared type and the required one."""

    spec: ColumnSpec
    column: str
    fit: TypeFit
    existing: str
    required: str


@dataclass(frozen=True, slots=True)
class Evolution:
    """The changes an existing table needs: columns to add (in order), alters, reported type changes."""

    add: tuple[ColumnSpec, ...]
    alter: tuple[PlannedAlter, ...]
    type_changes: tuple[PlannedAlter, ...]


def plan_evolution(
    layout: TableLayout,
    specs: Sequence[ColumnSpec],
    column_name: Callable[[str], str],
    render: Callable[[LogicalType], str],
) -> Evolution:
    """Plan the evolution of ``layout`` towards ``specs`` (destination names from ``column_name``)."""
    add: list[ColumnSpec] = []
    alter: list[PlannedAlter] = []
    changed: list[PlannedAlter] = []
    for spec in specs:
        existing = layout.find(column_name(spec.name))
        if existing is None:
            add.append(spec)
            continue
        required = render(spec.type)
        fit = compare_declared(existing.declared, required)
        planned = PlannedAlter(spec, existing.name, fit, existing.declared, required)
        if fit is TypeFit.CHANGED:
            changed.append(planned)
        elif fit is not TypeFit.SAME:
            alter.append(planned)
    return Evolution(tuple(add), tuple(alter), tuple(changed))


def writable_specs(
    layout: TableLayout,
    specs: Sequence[ColumnSpec],
    column_name: Callable[[str], str],
    render: Callable[[LogicalType], str],
) -> tuple[tuple[ColumnSpec, str], ...]:
    """The specs a write may fill, with their existing column name: present and of a fitting type."""
    chosen: list[tuple[ColumnSpec, str]] = []
    for spec in specs:
        existing = layout.find(column_name(spec.name))
        if existing is not None and compare_declared(existing.declared, render(spec.type)) is not TypeFit.CHANGED:
            chosen.append((spec, existing.name))
    return tuple(chosen)
