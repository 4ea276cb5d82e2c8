"""Changes read from Dataverse, as values, and the mapping of a Web API row to column values.

:func:`row_to_values` is the one place where a raw row (dataverse-webapi.md §2.6-2.7) becomes column
values; it is pure, so the engine, the destination tests and the retry path all map rows the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import TypeVar

from dataexport.domain.columns import ColumnSpec, SourceKind, column_specs
from dataexport.domain.schema import EntitySchema
from dataexport.domain.values import CONVERTERS, to_guid
from dataexport.errors import SourceUnavailable, ValueConversionError

_ETAG = re.compile(r'^W/"(\d+)"$')
_LOOKUP_PROPERTY = re.compile(r"^_(.+)_value$")
_VERSION_PROPERTY = "versionnumber"
_ETAG_PROPERTY = "@odata.etag"


@dataclass(frozen=True, slots=True)
class Upsert:
    """A row to insert or update.

    Attributes:
        record_id: the primary id, lowercase GUID; it becomes the destination ``Id``.
        version: the Dataverse ``versionnumber``.
        values: column name (DES spelling) -> Python value (str, int, Decimal, bool, aware UTC datetime,
            lowercase GUID str, None). System columns (``Id``, sink timestamps) are not included.
        unknown_attributes: attributes the row carried that the schema does not know; the engine refreshes
            metadata and maps the row again before writing it (DES §6.9).
    """

    record_id: str
    version: int
    values: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    unknown_attributes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Delete:
    """A row to delete; ``version`` is the delete's version when known (Web API deletions carry none)."""

    record_id: str
    version: int | None = None


Change = Upsert | Delete


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """Changes of one entity in stream order (one page, or one write batch of a page)."""

    entity: str
    changes: tuple[Change, ...] = ()

    @property
    def upserts(self) -> tuple[Upsert, ...]:
        """The upserts, in stream order."""
        return tuple(change for change in self.changes if isinstance(change, Upsert))

    @property
    def deletes(self) -> tuple[Delete, ...]:
        """The deletes, in stream order."""
        return tuple(change for change in self.changes if isinstance(change, Delete))

    @property
    def unknown_attributes(self) -> frozenset[str]:
        """Every attribute some upsert of the batch carried that the schema does not know."""
        return frozenset().union(*(upsert.unknown_attributes for upsert in self.upserts))

    def runs(self) -> Iterator[tuple[Upsert, ...] | tuple[Delete, ...]]:
        """Consecutive changes of the same kind, in order; applying the runs in order keeps stream order."""
        run: list[Change] = []
        for change in self.changes:
            if run and type(run[-1]) is not type(change):
                yield _as_run(run)
                run = []
            run.append(change)
        if run:
            yield _as_run(run)

    def chunks(self, size: int) -> Iterator[ChangeBatch]:
        """The batch cut into write batches of at most ``size`` changes (DES §7.3: 1,000)."""
        for start in range(0, len(self.changes), size):
            yield ChangeBatch(self.entity, self.changes[start : start + size])


C = TypeVar("C", Upsert, Delete)


def _as_run(run: Sequence[Change]) -> tuple[Upsert, ...] | tuple[Delete, ...]:
    if isinstance(run[0], Upsert):
        return tuple(change for change in run if isinstance(change, Upsert))
    return tuple(change for change in run if isinstance(change, Delete))


def latest_per_id(changes: Sequence[C]) -> tuple[C, ...]:
    """Keep one change per record id: the one with the highest version (the later one on a tie)."""
    chosen: dict[str, C] = {}
    for change in changes:
        current = chosen.get(change.record_id)
        if current is None or (change.version or 0) >= (current.version or 0):
            chosen[change.record_id] = change
    return tuple(chosen.values())


def row_to_values(schema: EntitySchema, raw_row: Mapping[str, object]) -> Upsert:
    """Map a Web API row to an :class:`Upsert` of column values (DES §6.3).

    Lookups come from ``_x_value`` and its ``lookuplogicalname`` annotation, ``<lookup>name`` from the
    ``FormattedValue`` annotation, DateOnly ``2024-05-02`` becomes 00:00 UTC, multi-select ``"3,1"`` becomes
    ``"1,3"``. Properties of unknown attributes are reported in ``unknown_attributes``, not mapped.

    Raises:
        SourceUnavailable: the row has no primary id or no version (an invalid page, webapi §8 R13).
        ValueConversionError: a value does not fit its attribute's type (a record failure).
    """
    record_id = _record_id(schema, raw_row)
    values: dict[str, object] = {}
    for spec in column_specs(schema):
        if spec.source.kind is not SourceKind.SYSTEM:
            values[spec.name] = _column_value(schema, spec, raw_row, record_id)
    return Upsert(
        record_id=record_id,
        version=_version(schema, raw_row, record_id),
        values=MappingProxyType(values),
        unknown_attributes=find_unknown_attributes(schema, raw_row),
    )


def find_unknown_attributes(schema: EntitySchema, raw_row: Mapping[str, object]) -> frozenset[str]:
    """Logical names of row properties that no attribute of ``schema`` explains (annotations ignored)."""
    known = _known_properties(schema)
    unknown = (key for key in raw_row if "@" not in key and key not in known)
    return frozenset(_attribute_of_property(key) for key in unknown)


@lru_cache(maxsize=256)
def _known_properties(schema: EntitySchema) -> frozenset[str]:
    names = {attribute.property_name for attribute in schema.attributes}
    return frozenset(names | {attribute.logical_name for attribute in schema.attributes})


def _attribute_of_property(key: str) -> str:
    match = _LOOKUP_PROPERTY.match(key)
    return match.group(1) if match else key


def _column_value(schema: EntitySchema, spec: ColumnSpec, raw_row: Mapping[str, object], record_id: str) -> object:
    if spec.source.key is None:
        return None
    try:
        return CONVERTERS[spec.value](raw_row.get(spec.source.key))
    except ValueError as exc:
        attribute = spec.attribute or spec.name
        raise ValueConversionError(
            f"Value of '{spec.source.key}' does not fit column '{spec.name}': {exc}",
            attribute=attribute,
            entity=schema.logical_name,
            record_id=record_id,
        ) from exc


def _record_id(schema: EntitySchema, raw_row: Mapping[str, object]) -> str:
    try:
        record_id = to_guid(raw_row.get(schema.primary_id))
    except ValueError:
        record_id = None
    if record_id is None:
        message = f"Row has no valid primary id '{schema.primary_id}'"
        raise SourceUnavailable(message, entity=schema.logical_name)
    return record_id


def _version(schema: EntitySchema, raw_row: Mapping[str, object], record_id: str) -> int:
    version = raw_row.get(_VERSION_PROPERTY)
    if isinstance(version, int) and not isinstance(version, bool):
        return version
    etag = raw_row.get(_ETAG_PROPERTY)
    match = _ETAG.match(etag) if isinstance(etag, str) else None
    if match is None:
        raise SourceUnavailable(
            "Row has neither versionnumber nor a weak ETag", entity=schema.logical_name, record_id=record_id
        )
    return int(match.group(1))
