"""The metadata endpoints (spec §4.1 to §4.5, §4.7) as pure functions of a catalog and a parsed request.

``render_metadata`` resolves the path below ``ROOT`` to a :class:`~.metadata_query.Target` and renders
it with the request's ``$select``/``$filter``/``$expand``. Addressing forms::

    EntityDefinitions                                  EntityDefinitions(<MetadataId>|LogicalName='x')
    EntityDefinitions(…)/Attributes[/<cast>]           EntityDefinitions(…)/Attributes(<id>|LogicalName='x')[/<cast>]
    EntityDefinitions(…)/Attributes(…)/<cast>/OptionSet|GlobalOptionSet
    EntityDefinitions(…)/OneToManyRelationships|ManyToOneRelationships|ManyToManyRelationships[(…)]
    EntityDefinitions(…)/Keys
    RelationshipDefinitions[(<id>|SchemaName='x')][/<cast>]
    GlobalOptionSetDefinitions[(<id>|Name='x')][/<cast>]

``RetrieveMetadataChanges`` lives in :mod:`~.metadata_changes` and is re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dataverse_emulator.catalog.model import Catalog, TableDef
from dataverse_emulator.errors import WebApiError, bad_request, not_found_segment
from dataverse_emulator.odata.options import KeyRef, parse_key_segment
from dataverse_emulator.odata.querystring import QueryOptions
from dataverse_emulator.webapi import metadata_items as items
from dataverse_emulator.webapi.metadata_changes import (
    MetadataChange,
    format_stamp,
    parse_stamp,
    retrieve_metadata_changes,
)
from dataverse_emulator.webapi.metadata_query import Item, Projection, Target, render_collection, render_single
from dataverse_emulator.webapi.metadata_types import (
    ATTRIBUTE,
    BOOLEAN_OPTION_SET,
    ENTITY,
    ENTITY_KEY,
    GLOBAL_OPTION_SET,
    OPTION_SET,
    RELATIONSHIP_BASE,
    attribute_cast,
    is_cast_segment,
    matches_cast,
    relationship_cast,
)

__all__ = [
    "MetadataChange",
    "format_stamp",
    "parse_stamp",
    "render_metadata",
    "render_service_document",
    "retrieve_metadata_changes",
]

_SEGMENT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_.]*)(?:\((?P<key>.*)\))?", re.DOTALL)
_GLOBAL_SETS_FILTER = "The query option '$filter' is not supported on GlobalOptionSetDefinitions."


@dataclass(frozen=True)
class Segment:
    """One path segment: ``Attributes``, ``Attributes(LogicalName='name')``, a cast."""

    text: str
    name: str
    key: KeyRef | None


@dataclass(frozen=True)
class Resolved:
    """What a path addresses: its context path (without projection) and the items there."""

    context: str
    target: Target
    single: bool


def render_metadata(
    catalog: Catalog,
    segments: Sequence[str],
    query: QueryOptions,
    root_url: str,
    metadata_version: int,
) -> dict[str, object]:
    """The JSON body for a metadata path.

    Args:
        segments: the path after ``ROOT`` split on ``/`` (empty segments are ignored).
        root_url: ``https://host/api/data/v9.2/`` (absolute, with the trailing slash).
        metadata_version: reported as ``@Microsoft.Dynamics.CRM.globalmetadataversion``.

    Returns:
        ``{"@odata.context", "@Microsoft.Dynamics.CRM.globalmetadataversion", "value": [...]}`` for a
        collection; for a single item its properties at the top level and a context ending ``/$entity``.

    Raises:
        WebApiError: 404 for an unknown table, attribute, relationship, option set or segment; 400 for an
            invalid cast, a name the addressed type does not have, a filter on a label, ``$filter`` on
            global option sets or on a single item, and the paging/ordering options.
    """
    parsed = [_segment(text) for text in segments if text]
    if not parsed:
        raise not_found_segment("")
    resolved = _resolve(catalog, parsed[0], parsed[1:], query)
    projection = Projection.of_query(query)
    context = f"{root_url}$metadata#{resolved.context}{projection.context_suffix()}"
    head: dict[str, object] = {
        "@odata.context": context + ("/$entity" if resolved.single else ""),
        "@Microsoft.Dynamics.CRM.globalmetadataversion": str(metadata_version),
    }
    if not resolved.single:
        return head | {"value": render_collection(resolved.target, projection)}
    body = render_single(resolved.target, projection)
    if body is None:
        raise not_found_segment(segments[-1])
    return head | body


def render_service_document(catalog: Catalog, root_url: str) -> dict[str, object]:
    """``GET ROOT``: every entity set of the organization plus the metadata sets, by name (§4.7)."""
    names = sorted(
        [table.entity_set_name for table in catalog.tables]
        + ["EntityDefinitions", "GlobalOptionSetDefinitions", "RelationshipDefinitions"]
    )
    return {
        "@odata.context": f"{root_url}$metadata",
        "value": [{"name": name, "kind": "EntitySet", "url": name} for name in names],
    }


def _segment(text: str) -> Segment:
    match = _SEGMENT.fullmatch(text.strip())
    if match is None:
        raise not_found_segment(text)
    key = match["key"]
    return Segment(text, match["name"], None if key is None else parse_key_segment(key))


def _resolve(catalog: Catalog, head: Segment, rest: list[Segment], query: QueryOptions) -> Resolved:
    if head.name == "EntityDefinitions":
        return _entity_definitions(catalog, head, rest)
    if head.name == "RelationshipDefinitions":
        return _relationship_definitions(catalog, head, rest)
    if head.name == "GlobalOptionSetDefinitions":
        if query.filter is not None:
            raise bad_request(_GLOBAL_SETS_FILTER)
        return _global_option_sets(catalog, head, rest)
    raise not_found_segment(head.text)


# -- EntityDefinitions ------------------------------------------------------------------------------


def _entity_definitions(catalog: Catalog, head: Segment, rest: list[Segment]) -> Resolved:
    if head.key is None:
        _no_more(rest)
        return Resolved("EntityDefinitions", Target(ENTITY, items.entities(catalog)), single=False)
    table = _table(catalog, head)
    if not rest:
        return Resolved("EntityDefinitions", Target(ENTITY, (items.entity(catalog, table),)), single=True)
    path = f"EntityDefinitions({_key_text(head)})/{rest[0].name}"
    navigation, after = rest[0], rest[1:]
    if navigation.name == "Attributes":
        return _attributes(catalog, table, navigation, after, path)
    if navigation.name in items.RELATIONSHIP_NAVIGATIONS:
        return _table_relationships(catalog, table, navigation, after, path)
    if navigation.name == "Keys" and navigation.key is None:
        _no_more(after)
        return Resolved(path, Target(ENTITY_KEY, ()), single=False)
    raise not_found_segment(navigation.text)


def _table(catalog: Catalog, segment: Segment) -> TableDef:
    key = _require_key(segment, "LogicalName")
    for table in catalog.tables:
        if key.lower() in (table.metadata_id, table.logical_name):
            return table
    raise WebApiError(404, "0x0", f"Could not find an entity with {_describe(segment)}.")


def _attributes(catalog: Catalog, table: TableDef, segment: Segment, rest: list[Segment], path: str) -> Resolved:
    cast, rest = _cast(rest)
    shape = attribute_cast(cast.text) if cast else ATTRIBUTE
    path += f"/{cast.text}" if cast else ""
    if segment.key is None:
        _no_more(rest)
        found = tuple(items.attribute(catalog, table, a) for a in table.attributes if matches_cast(a, shape))
        return Resolved(path, Target(shape, found), single=False)
    key = _require_key(segment, "LogicalName")
    key = key.lower()
    attribute = next(
        (a for a in table.attributes if key in (a.logical_name, a.metadata_id_for(table.logical_name))), None
    )
    if attribute is None:
        raise WebApiError(
            404, "0x0", f"Could not find an attribute with {_describe(segment)} on entity '{table.logical_name}'."
        )
    if cast and not matches_cast(attribute, shape):
        raise not_found_segment(cast.text)
    item = items.attribute(catalog, table, attribute)
    if rest and rest[0].name in shape.navigation and rest[0].key is None:
        _no_more(rest[1:])
        return Resolved(f"{path}/{rest[0].name}", item.navigate(rest[0].name), single=True)
    _no_more(rest)
    return Resolved(path, Target(shape, (item,)), single=True)


def _table_relationships(
    catalog: Catalog, table: TableDef, segment: Segment, rest: list[Segment], path: str
) -> Resolved:
    _no_more(rest)
    target = items.entity(catalog, table).navigate(segment.name)
    if segment.key is None:
        return Resolved(path, target, single=False)
    found = _matching(target, segment)
    if not found:
        raise WebApiError(404, "0x0", f"Could not find a relationship with {_describe(segment)}.")
    return Resolved(path, Target(target.shape, found), single=True)


# -- RelationshipDefinitions and GlobalOptionSetDefinitions -----------------------------------------


def _relationship_definitions(catalog: Catalog, head: Segment, rest: list[Segment]) -> Resolved:
    cast, rest = _cast(rest)
    _no_more(rest)
    shape = relationship_cast(cast.text) if cast else RELATIONSHIP_BASE
    path = "RelationshipDefinitions" + (f"/{cast.text}" if cast else "")
    every = Target(shape, items.relationships(catalog, shape))
    if head.key is None:
        return Resolved(path, every, single=False)
    found = _matching(every, head)
    if found:
        return Resolved(path, Target(shape, found), single=True)
    if cast and _matching(Target(RELATIONSHIP_BASE, items.relationships(catalog, RELATIONSHIP_BASE)), head):
        raise not_found_segment(cast.text)
    raise WebApiError(404, "0x0", f"Could not find a relationship with {_describe(head)}.")


def _matching(target: Target, segment: Segment) -> tuple[Item, ...]:
    key = _require_key(segment, "SchemaName")
    return tuple(i for i in target.items if key in (i.body["MetadataId"], i.body["SchemaName"]))


def _global_option_sets(catalog: Catalog, head: Segment, rest: list[Segment]) -> Resolved:
    cast, rest = _cast(rest)
    _no_more(rest)
    shapes = {"OptionSetMetadata": OPTION_SET, "BooleanOptionSetMetadata": BOOLEAN_OPTION_SET}
    shape = GLOBAL_OPTION_SET
    if cast:
        name = cast.text.removeprefix("Microsoft.Dynamics.CRM.")
        if name not in shapes:
            raise bad_request(f"The type '{cast.text}' is not a global option set metadata type.")
        shape = shapes[name]
    sets = [s for s in catalog.global_option_sets if shape is GLOBAL_OPTION_SET or items.option_set_shape(s) is shape]
    path = "GlobalOptionSetDefinitions" + (f"/{cast.text}" if cast else "")
    if head.key is None:
        return Resolved(path, Target(shape, tuple(items.option_set(s, typed=True) for s in sets)), single=False)
    key = _require_key(head, "Name")
    match = next((s for s in catalog.global_option_sets if key in (s.metadata_id, s.name)), None)
    if match is None:
        raise WebApiError(404, "0x0", f"Could not find an option set with {_describe(head)}.")
    if match not in sets:
        raise not_found_segment(cast.text if cast else head.text)
    return Resolved(path, Target(items.option_set_shape(match), (items.option_set(match, typed=True),)), single=True)


# -- segments and keys ------------------------------------------------------------------------------


def _cast(rest: list[Segment]) -> tuple[Segment | None, list[Segment]]:
    if rest and is_cast_segment(rest[0].name):
        if rest[0].key is not None:
            raise not_found_segment(rest[0].text)
        return rest[0], rest[1:]
    return None, rest


def _no_more(rest: list[Segment]) -> None:
    if rest:
        raise not_found_segment(rest[0].text)


def _require_key(segment: Segment, name: str) -> str:
    """The GUID or the ``name='…'`` value of a key segment."""
    key = segment.key
    if key is None:
        raise not_found_segment(segment.text)
    if key.guid is not None:
        return key.guid
    value = key.values.get(name)
    if len(key.values) != 1 or not isinstance(value, str):
        raise bad_request(f"The key of '{segment.text}' is not valid: use a MetadataId or {name}='…'.")
    return value


def _key_text(segment: Segment) -> str:
    key = segment.key
    if key is None:
        return ""
    if key.guid is not None:
        return key.guid
    return ",".join(f"{name}='{value}'" for name, value in key.values.items())


def _describe(segment: Segment) -> str:
    key = segment.key
    if key is None:
        return segment.text
    if key.guid is not None:
        return f"MetadataId = {key.guid}"
    return " and ".join(f"{name} = '{value}'" for name, value in key.values.items())
