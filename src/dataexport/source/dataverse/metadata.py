"""Entity metadata requests and their parsing into domain values (webapi §4.1-4.4).

One definition request (common attribute properties through ``$expand=Attributes``), then one request per
attribute-type cast the entity uses, for the type-specific properties: ``MaxLength``, ``Precision``,
``DateTimeBehavior``, lookup ``Targets`` and option sets with every localized label
(``$expand=OptionSet,GlobalOptionSet``). Kinds are decided on ``AttributeTypeName`` (multi-select picklists
report ``AttributeType`` ``Virtual``). Parsing is pure; a document of the wrong shape raises
:class:`~.responses.BodyError`, which the retry loop treats like a 5xx.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from dataexport.domain.schema import (
    LOOKUP_KINDS,
    Attribute,
    AttributeKind,
    DateTimeBehavior,
    EntitySchema,
    Label,
    Labels,
    ManyToManyRelationship,
    Option,
    OptionSet,
)
from dataexport.errors import InvalidIdentifier
from dataexport.source.dataverse.responses import BodyError

_LOGICAL_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_CAST_PREFIX = "Microsoft.Dynamics.CRM."
ENTITY_PROPERTIES = ("LogicalName", "EntitySetName", "PrimaryIdAttribute", "IsIntersect", "ChangeTrackingEnabled")
ATTRIBUTE_PROPERTIES = ("LogicalName", "AttributeType", "AttributeTypeName", "AttributeOf", "IsValidForRead")
RELATIONSHIP_PROPERTIES = (
    "SchemaName",
    "IntersectEntityName",
    "Entity1LogicalName",
    "Entity1IntersectAttribute",
    "Entity2LogicalName",
    "Entity2IntersectAttribute",
)

Document = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Cast:
    """An attribute-type cast: the kinds it covers, the properties it selects and what it expands."""

    kinds: frozenset[AttributeKind]
    name: str
    select: tuple[str, ...] = ()
    expand: str | None = None


def _cast(name: str, *kinds: AttributeKind, select: tuple[str, ...] = (), expand: str | None = None) -> Cast:
    return Cast(frozenset(kinds), name, select, expand)


_OPTION_SETS = "OptionSet,GlobalOptionSet"
CASTS: tuple[Cast, ...] = (
    _cast("StringAttributeMetadata", AttributeKind.STRING, select=("MaxLength",)),
    _cast("MemoAttributeMetadata", AttributeKind.MEMO, select=("MaxLength",)),
    _cast("DecimalAttributeMetadata", AttributeKind.DECIMAL, select=("Precision",)),
    _cast("DoubleAttributeMetadata", AttributeKind.DOUBLE, select=("Precision",)),
    _cast("MoneyAttributeMetadata", AttributeKind.MONEY, select=("Precision",)),
    _cast("DateTimeAttributeMetadata", AttributeKind.DATETIME, select=("DateTimeBehavior",)),
    _cast("LookupAttributeMetadata", *LOOKUP_KINDS, select=("Targets",)),
    _cast("PicklistAttributeMetadata", AttributeKind.PICKLIST, expand=_OPTION_SETS),
    _cast("MultiSelectPicklistAttributeMetadata", AttributeKind.MULTI_SELECT_PICKLIST, expand=_OPTION_SETS),
    _cast("StateAttributeMetadata", AttributeKind.STATE, expand="OptionSet"),
    _cast("StatusAttributeMetadata", AttributeKind.STATUS, expand="OptionSet"),
)


def checked_logical_name(name: str) -> str:
    """``name`` if it is a lower-case logical name (it goes into URLs and quoted literals).

    Raises:
        InvalidIdentifier: anything else.
    """
    if not _LOGICAL_NAME.match(name):
        raise InvalidIdentifier(f"Logical name '{name}' is invalid: use lower-case letters, digits and '_'")
    return name


def entity_url(root: str, logical_name: str) -> str:
    """The definition with its attributes' common properties."""
    attributes = f"Attributes($select={','.join(ATTRIBUTE_PROPERTIES)})"
    return f"{_entity_path(root, logical_name)}?$select={','.join(ENTITY_PROPERTIES)}&$expand={attributes}"


def cast_url(root: str, logical_name: str, cast: Cast) -> str:
    """The entity's attributes of one type, with that type's properties."""
    url = f"{_entity_path(root, logical_name)}/Attributes/{_CAST_PREFIX}{cast.name}"
    url += f"?$select={','.join(('LogicalName', *cast.select))}"
    return url + (f"&$expand={cast.expand}" if cast.expand else "")


def many_to_many_url(root: str, logical_name: str) -> str:
    """The N:N relationships the entity takes part in."""
    return f"{_entity_path(root, logical_name)}/ManyToManyRelationships?$select={','.join(RELATIONSHIP_PROPERTIES)}"


def intersect_url(root: str, intersect_entity: str) -> str:
    """The N:N relationship whose intersect entity is ``intersect_entity``."""
    condition = quote(f"IntersectEntityName eq '{checked_logical_name(intersect_entity)}'", safe="'")
    return (
        f"{root}RelationshipDefinitions/{_CAST_PREFIX}ManyToManyRelationshipMetadata"
        f"?$select={','.join(RELATIONSHIP_PROPERTIES)}&$filter={condition}"
    )


def _entity_path(root: str, logical_name: str) -> str:
    return f"{root}EntityDefinitions(LogicalName='{checked_logical_name(logical_name)}')"


def casts_for(kinds: Iterable[AttributeKind]) -> tuple[Cast, ...]:
    """The casts needed for an entity having attributes of ``kinds``."""
    present = frozenset(kinds)
    return tuple(cast for cast in CASTS if cast.kinds & present)


def parse_definition(document: object) -> tuple[Document, tuple[Document, ...]]:
    """The entity definition and its attribute items.

    Raises:
        BodyError: not an entity definition.
    """
    definition = _object(document, "the entity definition")
    attributes = definition.get("Attributes")
    if not isinstance(attributes, list):
        raise BodyError("invalid_page", "the entity definition has no 'Attributes' array")
    return definition, tuple(_object(item, "an attribute") for item in attributes)


def parse_collection(document: object) -> tuple[Document, ...]:
    """The items of a ``{"value": [...]}`` collection.

    Raises:
        BodyError: not a collection of objects.
    """
    value = _object(document, "the collection").get("value")
    if not isinstance(value, list):
        raise BodyError("invalid_page", "the collection has no 'value' array")
    return tuple(_object(item, "a collection item") for item in value)


def build_schema(
    definition: Document,
    attributes: Iterable[Document],
    extras: Mapping[str, Document],
    intersect: tuple[str, str] | None = None,
) -> EntitySchema:
    """The :class:`EntitySchema` from the definition, the attributes' common properties and the cast items
    (``extras``, by logical name)."""
    parsed = tuple(parse_attribute(item, extras.get(_text(item, "LogicalName"), {})) for item in attributes)
    return EntitySchema(
        logical_name=_text(definition, "LogicalName"),
        entity_set_name=_text(definition, "EntitySetName"),
        primary_id=_text(definition, "PrimaryIdAttribute"),
        is_intersect=definition.get("IsIntersect") is True,
        change_tracking=definition.get("ChangeTrackingEnabled") is True,
        attributes=parsed,
        intersect_attributes=intersect if definition.get("IsIntersect") is True else None,
    )


def parse_attribute(item: Document, extra: Document) -> Attribute:
    """One attribute: common properties from ``item``, type-specific ones from its cast item ``extra``.

    A type this client does not know is kept as ``Virtual`` (a text column, filled when rows carry it).
    """
    type_name = _value_of(item.get("AttributeTypeName"))
    try:
        kind = AttributeKind.from_metadata(str(item.get("AttributeType") or ""), type_name)
    except ValueError:
        kind = AttributeKind.VIRTUAL
    option_set = _object_or_none(extra.get("OptionSet"))
    global_set = _object_or_none(extra.get("GlobalOptionSet"))
    behavior = _value_of(extra.get("DateTimeBehavior"))
    targets = extra.get("Targets")
    return Attribute(
        logical_name=_text(item, "LogicalName"),
        kind=kind,
        max_length=_int_or_none(extra.get("MaxLength")),
        precision=_int_or_none(extra.get("Precision")),
        targets=tuple(t for t in targets if isinstance(t, str)) if isinstance(targets, list) else (),
        attribute_of=_str_or_none(item.get("AttributeOf")),
        is_valid_for_read=item.get("IsValidForRead") is not False,
        metadata_id=_str_or_none(item.get("MetadataId")),
        datetime_behavior=_behavior(behavior),
        option_set=parse_option_set(option_set) if option_set else None,
        global_option_set=_global_name(option_set, global_set),
    )


def parse_option_set(document: Document) -> OptionSet:
    """A local or global option set with every option's labels (Status options keep their ``State``)."""
    options = document.get("Options")
    items = options if isinstance(options, list) else []
    return OptionSet(
        name=str(document.get("Name") or ""),
        is_global=document.get("IsGlobal") is True,
        options=tuple(_option(_object(item, "an option")) for item in items),
    )


def _option(item: Document) -> Option:
    value = _int_or_none(item.get("Value"))
    if value is None:
        raise BodyError("invalid_page", "an option has no integer 'Value'")
    return Option(value=value, labels=parse_labels(item.get("Label")), state=_int_or_none(item.get("State")))


def parse_labels(document: object) -> Labels:
    """``{"LocalizedLabels": [...], "UserLocalizedLabel": ...}``; a missing or empty one gives no labels."""
    if not isinstance(document, Mapping):
        return Labels()
    localized = document.get("LocalizedLabels")
    items = localized if isinstance(localized, list) else []
    labels = tuple(label for label in (_label(item) for item in items) if label is not None)
    return Labels(localized=labels, user_localized=_label(document.get("UserLocalizedLabel")))


def _label(item: object) -> Label | None:
    if not isinstance(item, Mapping):
        return None
    code = _int_or_none(item.get("LanguageCode"))
    text = item.get("Label")
    return Label(language_code=code, text=text) if code is not None and isinstance(text, str) else None


def parse_relationship(item: Document) -> ManyToManyRelationship:
    """One ``ManyToManyRelationshipMetadata``."""
    return ManyToManyRelationship(
        schema_name=_text(item, "SchemaName"),
        intersect_entity=_text(item, "IntersectEntityName"),
        entity1=_text(item, "Entity1LogicalName"),
        entity1_attribute=_text(item, "Entity1IntersectAttribute"),
        entity2=_text(item, "Entity2LogicalName"),
        entity2_attribute=_text(item, "Entity2IntersectAttribute"),
    )


def _behavior(value: str | None) -> DateTimeBehavior | None:
    try:
        return DateTimeBehavior(value) if value else None
    except ValueError:
        return None


def _global_name(option_set: Document | None, global_set: Document | None) -> str | None:
    if global_set is not None and isinstance(global_set.get("Name"), str):
        return str(global_set["Name"])
    if option_set is not None and option_set.get("IsGlobal") is True:
        return _str_or_none(option_set.get("Name"))
    return None


def _object(value: object, what: str) -> Document:
    if not isinstance(value, Mapping):
        raise BodyError("invalid_page", f"{what} is not a JSON object")
    return value


def _object_or_none(value: object) -> Document | None:
    return value if isinstance(value, Mapping) else None


def _text(document: Document, key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value:
        raise BodyError("invalid_page", f"metadata without '{key}'")
    return value


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _value_of(value: object) -> str | None:
    """``{"Value": "x"}`` → ``x`` (AttributeTypeName, DateTimeBehavior)."""
    inner = value.get("Value") if isinstance(value, Mapping) else None
    return inner if isinstance(inner, str) else None
