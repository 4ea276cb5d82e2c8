"""``RetrieveMetadataChanges`` (spec §4.6): query metadata, and only what changed since a stamp.

A stamp is ``"<metadata version>!<MM/dd/yyyy HH:mm:ss>"`` (UTC). The version counts schema changes made
through the admin surface, each recorded as a :class:`MetadataChange`; a client that passes the
``ServerVersionStamp`` of an earlier answer as ``ClientVersionStamp`` gets only the tables and attributes
changed after it, and the MetadataIds of removed ones in ``DeletedMetadata``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from dataverse_emulator.catalog.model import AttributeDef, Catalog, TableDef, metadata_id
from dataverse_emulator.errors import WebApiError, bad_request
from dataverse_emulator.webapi.metadata_criteria import (
    ATTRIBUTE_PROPERTIES,
    ENTITY_PROPERTIES,
    Condition,
    compile_criteria,
    projection,
)
from dataverse_emulator.webapi.metadata_items import entity as entity_item
from dataverse_emulator.webapi.metadata_json import JsonObject, attribute_json, entity_json, option_set_json
from dataverse_emulator.webapi.metadata_query import Projection, render_collection

_STAMP = re.compile(r"(?P<version>\d{1,18})!(?P<at>\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2})")
_STAMP_FORMAT = "%m/%d/%Y %H:%M:%S"
EXPIRED_STAMP = "0x80044352"
_FILTER_PREFIX = "Microsoft.Dynamics.CRM.DeletedMetadataFilters"
#: ``DeletedMetadataFilters`` flags; ``Default`` is ``Entity``. Only tables and attributes are deleted here.
_DELETED_FLAGS = {"default": 1, "entity": 1, "attribute": 2, "relationship": 4, "label": 8, "optionset": 16, "all": 31}
_RELATIONSHIP_PROPERTIES = ("OneToManyRelationships", "ManyToOneRelationships", "ManyToManyRelationships", "Keys")


@dataclass(frozen=True)
class MetadataChange:
    """One schema change: ``attribute`` is ``None`` for a table-level change; ``deleted`` for a removal."""

    version: int
    table: str
    attribute: str | None
    deleted: bool


def format_stamp(version: int, at: datetime) -> str:
    """``"8812!05/02/2024 08:20:00"``: the version and ``at`` in UTC."""
    return f"{version}!{at.astimezone(UTC).strftime(_STAMP_FORMAT)}"


def parse_stamp(text: str) -> int:
    """The metadata version of a stamp (surrounding quotes allowed).

    Raises:
        WebApiError: 400 ``0x0`` when ``text`` is not a stamp this emulator could have issued.
    """
    match = _STAMP.fullmatch(text.strip().strip("'"))
    if match is not None:
        try:
            datetime.strptime(match["at"], _STAMP_FORMAT)
            return int(match["version"])
        except ValueError:
            pass
    raise bad_request(
        f"The version stamp '{text}' is not valid: pass the ServerVersionStamp of an earlier response "
        "('<version>!MM/dd/yyyy HH:mm:ss')."
    )


def retrieve_metadata_changes(
    catalog: Catalog,
    query_json: str,
    *,
    client_stamp: str | None,
    server_stamp: str,
    changes: Sequence[MetadataChange],
    deleted_filter: str | None,
) -> dict[str, object]:
    """The ``RetrieveMetadataChangesResponse`` body without ``@odata.context``.

    Args:
        query_json: the ``Query`` parameter, an ``EntityQueryExpression`` in JSON.
        client_stamp: ``ClientVersionStamp``; when given, only tables and attributes changed after it.
        server_stamp: the current stamp, returned as ``ServerVersionStamp``.
        changes: every recorded schema change (any order).
        deleted_filter: ``DeletedMetadataFilters`` (``All``, ``Entity,Attribute``, the qualified
            ``Microsoft.Dynamics.CRM.DeletedMetadataFilters'All'`` form or a number); ``None`` = ``Default``.

    Raises:
        WebApiError: 400 for a malformed query, an unsupported condition or property, a bad stamp or
            filter; 400 ``0x80044352`` for a client stamp newer than the server's.
    """
    query = _load(query_json)
    attribute_query = _object(query.get("AttributeQuery"), "AttributeQuery")
    keep_entity = compile_criteria(query.get("Criteria"), ENTITY_PROPERTIES)
    keep_attribute = compile_criteria(attribute_query.get("Criteria"), ATTRIBUTE_PROPERTIES)
    entity_names = projection(query.get("Properties"), ENTITY_PROPERTIES | {"Attributes", *_RELATIONSHIP_PROPERTIES})
    attribute_names = projection(attribute_query.get("Properties"), ATTRIBUTE_PROPERTIES | {"OptionSet"})
    flags = _deleted_flags(deleted_filter)
    since = None if client_stamp is None else parse_stamp(client_stamp)
    if since is not None and since > parse_stamp(server_stamp):
        raise WebApiError(
            400, EXPIRED_STAMP, f"The version stamp '{client_stamp}' was not issued by this organization."
        )
    touched = _touched(changes, since)
    found: list[JsonObject] = []
    for table in catalog.tables:
        body = entity_json(table)
        if keep_entity(body) and (since is None or table.logical_name in touched):
            changed = None if since is None else touched[table.logical_name]
            found.append(_entity(catalog, table, body, entity_names, attribute_names, (keep_attribute, changed)))
    return {
        "ServerVersionStamp": server_stamp,
        "DeletedMetadata": _deleted(catalog, changes, since, flags),
        "EntityMetadata": found,
    }


def _load(query_json: str) -> JsonObject:
    try:
        query = json.loads(query_json)
    except ValueError as error:
        raise bad_request(f"The parameter 'Query' is not valid JSON: {error}.") from None
    return _object(query, "Query")


def _object(value: object, name: str) -> JsonObject:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request(f"The '{name}' of the metadata query must be a JSON object.")
    return value


def _entity(
    catalog: Catalog,
    table: TableDef,
    body: JsonObject,
    names: frozenset[str] | None,
    attribute_names: frozenset[str] | None,
    attribute_rule: tuple[Condition, frozenset[str] | None],
) -> JsonObject:
    result = {key: value for key, value in body.items() if names is None or key in names or key == "MetadataId"}
    if names is None or "Attributes" in names:
        keep, changed = attribute_rule
        result["Attributes"] = [
            _attribute(catalog, table, attribute, attribute_names)
            for attribute in table.attributes
            if (changed is None or attribute.logical_name in changed) and keep(attribute_json(table, attribute))
        ]
    item = entity_item(catalog, table)
    for navigation in _RELATIONSHIP_PROPERTIES:
        if names is None or navigation in names:
            result[navigation] = render_collection(item.navigate(navigation), Projection())
    return result


def _attribute(catalog: Catalog, table: TableDef, attribute: AttributeDef, names: frozenset[str] | None) -> JsonObject:
    body = attribute_json(table, attribute)
    wanted = {"@odata.type", "MetadataId"}
    result = {key: value for key, value in body.items() if names is None or key in names or key in wanted}
    option_set = catalog.option_set_of(attribute)
    if option_set is not None and (names is None or "OptionSet" in names):
        result["OptionSet"] = option_set_json(option_set)
    return result


def _touched(changes: Sequence[MetadataChange], since: int | None) -> dict[str, frozenset[str] | None]:
    """Tables changed after ``since`` → the changed attributes, or ``None`` when the whole table changed."""
    touched: dict[str, set[str] | None] = {}
    for change in changes:
        if since is None or change.version <= since:
            continue
        if change.attribute is None:
            touched[change.table] = None
            continue
        attributes = touched.setdefault(change.table, set())
        if attributes is not None:
            attributes.add(change.attribute)
    return {table: None if names is None else frozenset(names) for table, names in touched.items()}


def _deleted(catalog: Catalog, changes: Sequence[MetadataChange], since: int | None, flags: int) -> JsonObject:
    entities: list[str] = []
    attributes: list[str] = []
    if since is not None:
        for change in sorted(changes, key=lambda c: c.version):
            if change.version <= since or not change.deleted:
                continue
            table = catalog.table(change.table)
            if change.attribute is None:
                if table is None and flags & _DELETED_FLAGS["entity"]:
                    entities.append(metadata_id(change.table))
            elif flags & _DELETED_FLAGS["attribute"] and (table is None or table.attribute(change.attribute) is None):
                attributes.append(metadata_id(change.table, change.attribute))
    found = {"Entity": list(dict.fromkeys(entities)), "Attribute": list(dict.fromkeys(attributes))}
    keys = [key for key, ids in found.items() if ids]
    return {"Count": len(keys), "IsReadOnly": False, "Keys": keys, "Values": [found[key] for key in keys]}


def _deleted_flags(text: str | None) -> int:
    if text is None:
        return _DELETED_FLAGS["default"]
    value = text.strip().removeprefix(_FILTER_PREFIX).strip("'\"")
    if value.isdigit():
        return int(value)
    flags = 0
    for name in value.split(","):
        flag = _DELETED_FLAGS.get(name.strip().lower())
        if flag is None:
            raise bad_request(f"The DeletedMetadataFilters value '{text}' is not valid.")
        flags |= flag
    return flags
