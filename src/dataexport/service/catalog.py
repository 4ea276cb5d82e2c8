"""Each organization's exportable entities and M:N relationships, read from Dataverse and cached (DES §2.3, §3.3).

The selection rules and the metadata routes share one cache per organization (5 minutes by default). A
Dataverse that cannot be reached is a 503 ``OrganizationUnavailable`` (our choice, §2.3).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

from dataexport.domain.profile_rules import EntityInfo, SelectionCatalog
from dataexport.domain.schema import ManyToManyRelationship
from dataexport.errors import DataExportError
from dataexport.service.problems import organization_unavailable
from dataexport.source.base import EntitySummary, Source
from dataexport.store.values import Organization


@dataclass(frozen=True, slots=True)
class OrganizationMetadata:
    """What one read of an organization's metadata says."""

    entities: tuple[EntitySummary, ...]
    relationships: tuple[ManyToManyRelationship, ...]

    @property
    def exportable(self) -> tuple[EntitySummary, ...]:
        """Entities a profile may select, by logical name."""
        return tuple(entity for entity in self.entities if entity.is_exportable)

    def selection_catalog(self) -> SelectionCatalog:
        """The catalog the §2.3 selection rules check against."""
        entities = {
            entity.logical_name.lower(): EntityInfo(
                change_tracking=entity.change_tracking, is_intersect=entity.is_intersect
            )
            for entity in self.entities
        }
        relationships = {relationship.schema_name.lower(): relationship for relationship in self.relationships}
        return SelectionCatalog(MappingProxyType(entities), MappingProxyType(relationships))


def read_metadata(source: Source) -> OrganizationMetadata:
    """Entities, and the M:N relationships whose two entities are both exportable."""
    entities = source.entities()
    exportable = {entity.logical_name for entity in entities if entity.is_exportable}
    found: dict[str, ManyToManyRelationship] = {}
    for name in sorted(exportable):
        for relationship in source.many_to_many(name):
            if relationship.entity1 in exportable and relationship.entity2 in exportable:
                found.setdefault(relationship.schema_name, relationship)
    return OrganizationMetadata(entities, tuple(found[name] for name in sorted(found)))


class MetadataCache:
    """Per-organization metadata, read at most once per ``ttl_seconds`` (thread-safe)."""

    def __init__(
        self,
        sources: Callable[[Organization], Source],
        *,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sources = sources
        self._ttl = ttl_seconds
        self._clock = clock
        self._cached: dict[str, tuple[float, OrganizationMetadata]] = {}
        self._lock = threading.Lock()

    def get(self, organization: Organization) -> OrganizationMetadata:
        """The organization's metadata.

        Raises:
            Problem: 503 ``OrganizationUnavailable`` when Dataverse cannot be read.
        """
        now = self._clock()
        with self._lock:
            cached = self._cached.get(organization.id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            metadata = read_metadata(self._sources(organization))
        except DataExportError as error:
            raise organization_unavailable(organization.url, str(error)) from error
        with self._lock:
            self._cached[organization.id] = (now, metadata)
        return metadata
