"""The sync subjects of a profile: its entities and its N:N relationships (DES §1.3-1.4).

A relationship is synced through its intersect entity (DES §6.6); which entity that is comes from Dataverse's
metadata, looked up among the relationships of the profile's entities.
"""

from __future__ import annotations

from dataexport.domain.profile import ExportProfile
from dataexport.domain.schema import ManyToManyRelationship
from dataexport.source.base import Source
from dataexport.source.errors import SourceRequestRefused
from dataexport.store.values import SyncKey, SyncKind

_NOT_FOUND = 404


def subjects_of(profile: ExportProfile) -> tuple[SyncKey, ...]:
    """The profile's entities, then its relationships, in profile order."""
    entities = tuple(SyncKey(profile.id, name) for name in profile.entity_names)
    relationships = tuple(SyncKey(profile.id, name, SyncKind.RELATIONSHIP) for name in profile.relationship_names)
    return entities + relationships


def find_relationship(source: Source, profile: ExportProfile, schema_name: str) -> ManyToManyRelationship:
    """The N:N relationship ``schema_name`` among those of the profile's entities (compared case-insensitively).

    Raises:
        SourceRequestRefused: no selected entity takes part in such a relationship (it was deleted).
    """
    wanted = schema_name.lower()
    for entity in profile.entity_names:
        for relationship in source.many_to_many(entity):
            if relationship.schema_name.lower() == wanted:
                return relationship
    message = f"Relationship '{schema_name}' no longer exists between the profile's entities"
    raise SourceRequestRefused(message, status=_NOT_FOUND, entity=schema_name)
