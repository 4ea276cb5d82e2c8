"""Entity metadata as frozen values: attributes, option sets, entities and N:N relationships.

The source adapter builds these from Dataverse metadata (dataverse-webapi.md §4); the destination and the
engine read them. The kind of an attribute is decided on ``AttributeTypeName`` (webapi §4.2), so
multi-select picklists, images and files are told apart from other ``Virtual`` attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict


class AttributeKind(StrEnum):
    """Dataverse attribute types; the value is ``AttributeTypeName`` without its ``Type`` suffix."""

    BOOLEAN = "Boolean"
    CUSTOMER = "Customer"
    DATETIME = "DateTime"
    DECIMAL = "Decimal"
    DOUBLE = "Double"
    INTEGER = "Integer"
    LOOKUP = "Lookup"
    MEMO = "Memo"
    MONEY = "Money"
    OWNER = "Owner"
    PARTY_LIST = "PartyList"
    PICKLIST = "Picklist"
    STATE = "State"
    STATUS = "Status"
    STRING = "String"
    UNIQUEIDENTIFIER = "Uniqueidentifier"
    CALENDAR_RULES = "CalendarRules"
    VIRTUAL = "Virtual"
    BIG_INT = "BigInt"
    MANAGED_PROPERTY = "ManagedProperty"
    ENTITY_NAME = "EntityName"
    MULTI_SELECT_PICKLIST = "MultiSelectPicklist"
    IMAGE = "Image"
    FILE = "File"

    @property
    def type_code(self) -> int:
        """The SDK ``AttributeTypeCode``; multi-select, image and file report ``Virtual`` (17)."""
        return _TYPE_CODES[self]

    @property
    def is_lookup(self) -> bool:
        """Lookup, Customer and Owner: a GUID plus the target's logical name."""
        return self in LOOKUP_KINDS

    @classmethod
    def from_metadata(cls, attribute_type: str, type_name: str | None = None) -> AttributeKind:
        """Decide the kind from ``AttributeType`` and ``AttributeTypeName.Value`` (webapi §4.2).

        ``AttributeTypeName`` wins when it names one of our kinds (``MultiSelectPicklistType`` ->
        :attr:`MULTI_SELECT_PICKLIST` although ``AttributeType`` says ``Virtual``); otherwise
        ``AttributeType`` decides.

        Raises:
            ValueError: neither names a known type.
        """
        if type_name and type_name.endswith("Type") and type_name[:-4] in _BY_VALUE:
            return _BY_VALUE[type_name[:-4]]
        if attribute_type in _BY_VALUE:
            return _BY_VALUE[attribute_type]
        raise ValueError(f"Unknown attribute type {attribute_type!r} ({type_name!r})")


_BY_VALUE = {kind.value: kind for kind in AttributeKind}
_VIRTUAL_SUBKINDS = frozenset({AttributeKind.MULTI_SELECT_PICKLIST, AttributeKind.IMAGE, AttributeKind.FILE})
# Members up to EntityName are declared in SDK code order (Boolean = 0 ... EntityName = 20).
_VIRTUAL_CODE = 17
_TYPE_CODES = {
    kind: (_VIRTUAL_CODE if kind in _VIRTUAL_SUBKINDS else index) for index, kind in enumerate(AttributeKind)
}

LOOKUP_KINDS = frozenset({AttributeKind.LOOKUP, AttributeKind.CUSTOMER, AttributeKind.OWNER})
OPTION_SET_KINDS = frozenset(
    {AttributeKind.PICKLIST, AttributeKind.MULTI_SELECT_PICKLIST, AttributeKind.STATE, AttributeKind.STATUS}
)


class DateTimeBehavior(StrEnum):
    """``DateTimeBehavior.Value`` of a DateTime attribute."""

    USER_LOCAL = "UserLocal"
    DATE_ONLY = "DateOnly"
    TIME_ZONE_INDEPENDENT = "TimeZoneIndependent"


class Label(BaseModel):
    """One localized text; ``language_code`` is an LCID (1033, 1031, ...)."""

    model_config = ConfigDict(frozen=True)

    language_code: int
    text: str


class Labels(BaseModel):
    """``LocalizedLabels`` (one per language) and the ``UserLocalizedLabel`` (the caller's language)."""

    model_config = ConfigDict(frozen=True)

    localized: tuple[Label, ...] = ()
    user_localized: Label | None = None


class Option(BaseModel):
    """One option of an option set; ``state`` is the parent state of a Status option."""

    model_config = ConfigDict(frozen=True)

    value: int
    labels: Labels = Labels()
    state: int | None = None


class OptionSet(BaseModel):
    """A local or global option set."""

    model_config = ConfigDict(frozen=True)

    name: str
    is_global: bool = False
    options: tuple[Option, ...] = ()


class Attribute(BaseModel):
    """One attribute of an entity, with the type-specific properties the export needs.

    Attributes:
        logical_name: lowercase logical name; a lookup's row property is ``_<logical_name>_value``.
        kind: the decided type (:meth:`AttributeKind.from_metadata`).
        max_length: ``MaxLength`` of String/Memo (characters, not ``DatabaseLength`` bytes).
        precision: ``Precision`` of Decimal/Double/Money.
        targets: lookup target entities (several for Customer/Owner and polymorphic lookups).
        attribute_of: ``AttributeOf``; set on auxiliary attributes (``owneridtype``, ``entityimage_url``).
        is_valid_for_read: ``IsValidForRead``; unreadable attributes get no column.
        metadata_id: the attribute's ``MetadataId``.
        datetime_behavior: ``DateTimeBehavior`` of a DateTime.
        option_set: the options of a Picklist, MultiSelectPicklist, State or Status attribute (also when the
            set is global: it is the same content).
        global_option_set: the name of the global option set the attribute uses, if any.
    """

    model_config = ConfigDict(frozen=True)

    logical_name: str
    kind: AttributeKind
    max_length: int | None = None
    precision: int | None = None
    targets: tuple[str, ...] = ()
    attribute_of: str | None = None
    is_valid_for_read: bool = True
    metadata_id: str | None = None
    datetime_behavior: DateTimeBehavior | None = None
    option_set: OptionSet | None = None
    global_option_set: str | None = None

    @property
    def type_code(self) -> int:
        """The SDK ``AttributeTypeCode`` (multi-select 17)."""
        return self.kind.type_code

    @property
    def property_name(self) -> str:
        """The key carrying the value in a Web API row."""
        return f"_{self.logical_name}_value" if self.kind.is_lookup else self.logical_name


class EntitySchema(BaseModel):
    """An entity (table) as the export sees it.

    Attributes:
        logical_name: ``account``.
        entity_set_name: ``accounts``, used in URLs.
        primary_id: the primary id attribute (``accountid``); its value is the destination ``Id``.
        is_intersect: an N:N intersect entity (DES §6.6).
        change_tracking: whether Dataverse change tracking is on.
        attributes: every attribute, in metadata order.
        intersect_attributes: for intersect entities, the two foreign-key attributes
            (``accountid``, ``leadid``).
    """

    model_config = ConfigDict(frozen=True)

    logical_name: str
    entity_set_name: str
    primary_id: str
    is_intersect: bool = False
    change_tracking: bool = True
    attributes: tuple[Attribute, ...] = ()
    intersect_attributes: tuple[str, str] | None = None

    def attribute(self, logical_name: str) -> Attribute | None:
        """The attribute named ``logical_name``, or None."""
        return self.attributes_by_name.get(logical_name)

    @cached_property
    def hash_value(self) -> int:
        """The schema's hash, computed once: rows are mapped through caches keyed by the schema."""
        return hash(
            (
                self.logical_name,
                self.entity_set_name,
                self.primary_id,
                self.is_intersect,
                self.change_tracking,
                self.attributes,
                self.intersect_attributes,
            )
        )

    def __hash__(self) -> int:
        return self.hash_value

    @cached_property
    def attributes_by_name(self) -> Mapping[str, Attribute]:
        """Attributes keyed by logical name."""
        return MappingProxyType({attribute.logical_name: attribute for attribute in self.attributes})


class ManyToManyRelationship(BaseModel):
    """An N:N relationship, exported as its intersect entity's table (DES §6.6)."""

    model_config = ConfigDict(frozen=True)

    schema_name: str
    intersect_entity: str
    entity1: str
    entity1_attribute: str
    entity2: str
    entity2_attribute: str

    @property
    def entities(self) -> tuple[str, str]:
        """The two related entities."""
        return (self.entity1, self.entity2)
