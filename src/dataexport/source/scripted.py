"""``ScriptedSource``: the :class:`~dataexport.source.base.Source` Protocol from data, for engine tests.

Pages are scripted per link (raw Web API rows and deletes, mapped with the same domain rules as the real
source) and errors are scripted per entity, so engine tests are deterministic and need no emulator::

    source = ScriptedSource([account_schema])
    delta = source.script_baseline("account", [row_a, row_b], [row_c])  # two pages, then a deltaLink
    source.script_delta(delta, [Delete(id_a)])                           # the next poll
    source.inject("account", SourceUnavailable("503"), times=2)          # the next two reads fail

Unscripted links behave like a quiet organization: a baseline is empty, a delta link returns no changes
and itself, an unknown nextLink is rejected (:class:`~dataexport.source.errors.LinkRejected`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from dataexport.domain.changes import Delete, Upsert, row_to_values
from dataexport.domain.schema import EntitySchema, ManyToManyRelationship
from dataexport.source.base import (
    MAX_PAGE_SIZE,
    Caller,
    EntitySummary,
    Entry,
    Link,
    LinkKind,
    MetadataChanges,
    OrgIdentity,
    Page,
    RawRow,
    Source,
    map_page,
)
from dataexport.source.errors import DeltaTokenExpired, LinkRejected, SourceRequestRefused

DEFAULT_ORGANIZATION = OrgIdentity(
    organization_id="00000000-0000-4000-8000-000000000001", friendly_name="Scripted", unique_name="scripted", geo="NA"
)
_BASE = "https://scripted.invalid/"


def scripted_row(primary_id: str, record_id: str, version: int, **values: object) -> dict[str, object]:
    """A raw Web API row: the primary key, ``@odata.etag``, ``versionnumber`` and ``values``."""
    return {"@odata.etag": f'W/"{version}"', primary_id: record_id, "versionnumber": version, **values}


@dataclass(frozen=True, slots=True)
class _Fault:
    error: Exception
    remaining: int
    at: str | None


class ScriptedSource:
    """A scripted organization. Thread-safe. Every :meth:`read_page` is recorded in :attr:`reads`."""

    def __init__(
        self,
        schemas: Iterable[EntitySchema] = (),
        *,
        organization: OrgIdentity = DEFAULT_ORGANIZATION,
        relationships: Iterable[ManyToManyRelationship] = (),
    ) -> None:
        self._schemas = {schema.logical_name: schema for schema in schemas}
        self._organization = organization
        self._relationships = tuple(relationships)
        self._pages: dict[str, tuple[tuple[Entry, ...], Link | None]] = {}
        self._records: dict[tuple[str, str], RawRow | None] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._sizes: dict[str, int] = {}
        self._metadata_version = 1
        self._metadata_changed: list[tuple[int, str]] = []
        self._reads: list[tuple[str, str | None]] = []
        self._sequence = 0
        self._lock = threading.Lock()

    # ----- scripting -------------------------------------------------------------------------------

    def script_baseline(self, entity: str, *pages: Sequence[Entry]) -> Link:
        """The pages of ``entity``'s baseline (read with ``link=None``); returns its final deltaLink."""
        return self.script_sequence(None, entity, *pages)

    def script_delta(self, delta_link: Link, *pages: Sequence[Entry]) -> Link:
        """The pages a poll of ``delta_link`` returns; returns the new deltaLink that ends them."""
        entity = delta_link.url.removeprefix(_BASE).split("/", 1)[0]
        return self.script_sequence(delta_link.url, entity, *pages)

    def script_sequence(self, start: str | None, entity: str, *pages: Sequence[Entry]) -> Link:
        """Pages read from ``start`` (None: the baseline) following each other; returns the final deltaLink."""
        with self._lock:
            self._sequence += 1
            prefix = f"{_BASE}{entity}/{self._sequence}"
            links = [Link.next(f"{prefix}/page/{n}") for n in range(2, len(pages) + 1)]
            final = Link.delta(f"{prefix}/delta")
            keys = [start if start is not None else self._baseline_key(entity), *(link.url for link in links)]
            for key, entries, following in zip(keys, pages or [()], [*links, final], strict=False):
                self._pages[key] = (tuple(_frozen(entry) for entry in entries), following)
            return final

    def inject(self, entity: str, error: Exception, *, times: int = 1, at: Link | None = None) -> None:
        """The next ``times`` reads of ``entity`` (only of link ``at`` when given) raise ``error``."""
        with self._lock:
            self._faults.setdefault(entity, []).append(_Fault(error, times, at.url if at else None))

    def expire(self, delta_link: Link, entity: str) -> None:
        """Reads of ``delta_link`` raise :class:`DeltaTokenExpired` from now on."""
        self.inject(entity, DeltaTokenExpired("The delta token expired", entity=entity), times=1 << 30, at=delta_link)

    def script_record(self, entity: str, record_id: str, row: RawRow | None) -> None:
        """What :meth:`read_record` answers for the id (None: the record was deleted)."""
        with self._lock:
            self._records[(entity, record_id)] = row

    def change_schema(self, schema: EntitySchema) -> None:
        """Replace an entity's metadata; :meth:`metadata_changes` reports it."""
        with self._lock:
            self._schemas[schema.logical_name] = schema
            self._metadata_version += 1
            self._metadata_changed.append((self._metadata_version, schema.logical_name))

    @property
    def reads(self) -> tuple[tuple[str, str | None], ...]:
        """Every :meth:`read_page` call so far: (entity, link URL or None for a baseline start)."""
        with self._lock:
            return tuple(self._reads)

    # ----- the Protocol ----------------------------------------------------------------------------

    def check_connection(self) -> None:
        """Always succeeds (script a failing source with a real organization's errors instead)."""

    def organization(self) -> OrgIdentity:
        return self._organization

    def who_am_i(self) -> Caller:
        return Caller("00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b", self._org_id)

    def entities(self) -> tuple[EntitySummary, ...]:
        with self._lock:
            schemas = sorted(self._schemas.values(), key=lambda schema: schema.logical_name)
        return tuple(
            EntitySummary(s.logical_name, s.entity_set_name, s.primary_id, s.change_tracking, s.is_intersect)
            for s in schemas
        )

    def entity_schema(self, logical_name: str) -> EntitySchema:
        with self._lock:
            schema = self._schemas.get(logical_name)
        if schema is None:
            raise SourceRequestRefused("Could not find the entity", status=404, code="0x0", entity=logical_name)
        return schema

    def many_to_many(self, logical_name: str) -> tuple[ManyToManyRelationship, ...]:
        found = (r for r in self._relationships if logical_name in r.entities)
        return tuple(sorted(found, key=lambda relationship: relationship.schema_name))

    def metadata_changes(self, since: str | None) -> MetadataChanges:
        with self._lock:
            stamp = str(self._metadata_version)
            if since is None or not since.isdigit():
                return MetadataChanges(stamp, everything=True)
            changed = frozenset(entity for version, entity in self._metadata_changed if version > int(since))
        return MetadataChanges(stamp, changed)

    def read_page(self, schema: EntitySchema, link: Link | None = None) -> Page:
        entity = schema.logical_name
        key = link.url if link is not None else self._baseline_key(entity)
        with self._lock:
            self._reads.append((entity, link.url if link is not None else None))
            self._raise_fault(entity, key)
            scripted = self._pages.get(key)
            size = self._sizes.get(entity, MAX_PAGE_SIZE)
        if scripted is None:
            scripted = self._unscripted(entity, link)
        entries, following = scripted
        return map_page(schema, entries, following, size)

    def read_record(self, schema: EntitySchema, record_id: str) -> Upsert | None:
        with self._lock:
            row = self._records.get((schema.logical_name, record_id))
        return None if row is None else row_to_values(schema, row)

    def page_size(self, entity: str) -> int:
        with self._lock:
            return self._sizes.get(entity, MAX_PAGE_SIZE)

    def set_page_size(self, entity: str, size: int) -> None:
        with self._lock:
            self._sizes[entity] = max(1, min(MAX_PAGE_SIZE, size))

    def close(self) -> None:
        """Nothing to release."""

    # ----- plumbing --------------------------------------------------------------------------------

    @property
    def _org_id(self) -> str:
        return self._organization.organization_id

    @staticmethod
    def _baseline_key(entity: str) -> str:
        return f"{_BASE}{entity}/baseline"

    def _raise_fault(self, entity: str, key: str) -> None:
        """Raise the first matching scripted fault of ``entity`` (lock held)."""
        faults = self._faults.get(entity, [])
        for index, fault in enumerate(faults):
            if fault.at is None or fault.at == key:
                if fault.remaining <= 1:
                    del faults[index]
                else:
                    faults[index] = _Fault(fault.error, fault.remaining - 1, fault.at)
                raise fault.error

    @staticmethod
    def _unscripted(entity: str, link: Link | None) -> tuple[tuple[Entry, ...], Link | None]:
        if link is None:
            return (), Link.delta(f"{_BASE}{entity}/0/delta")
        if link.kind is LinkKind.DELTA:
            return (), link
        raise LinkRejected("The nextLink is not part of the script", entity=entity)


def _frozen(entry: Entry) -> Entry:
    """Rows become read-only, as the real source's are."""
    return entry if isinstance(entry, Delete | MappingProxyType) else MappingProxyType(dict(entry))


def rows_by_id(page: Page) -> Mapping[str, Upsert]:
    """The page's upserts by record id (a convenience for assertions)."""
    return {upsert.record_id: upsert for upsert in page.upserts}


if TYPE_CHECKING:
    _IMPLEMENTS: type[Source] = ScriptedSource
