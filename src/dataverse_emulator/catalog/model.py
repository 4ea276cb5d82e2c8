"""Metadata model of an emulated organization: tables, attributes, option sets, relationships.

These are plain, frozen pydantic values. They round-trip through JSON (``model_dump_json`` /
``model_validate_json``) so that an organization's schema, including changes made through the admin
surface, persists in its SQLite file. Serialization to the Web API's metadata JSON lives in
``dataverse_emulator.webapi.metadata``; this module only describes.

Labels are ``{language code: text}`` mappings; the first entry of a mapping (1033 in the sample org)
is the user's language.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

Labels = dict[int, str]

#: Namespace for deterministic metadata ids (uuid5 of a dotted path).
METADATA_NAMESPACE = uuid.UUID("4f1d7c9e-2b63-4a8e-9d15-70c3a2e6b101")


def metadata_id(*path: str) -> str:
    """A stable MetadataId for a dotted path such as ``("account", "name")``."""
    return str(uuid.uuid5(METADATA_NAMESPACE, ".".join(path)))


class AttributeType(StrEnum):
    """``AttributeTypeCode`` names; ``code`` gives the SDK's numeric value."""

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
    PARTYLIST = "PartyList"
    PICKLIST = "Picklist"
    STATE = "State"
    STATUS = "Status"
    STRING = "String"
    UNIQUEIDENTIFIER = "Uniqueidentifier"
    CALENDARRULES = "CalendarRules"
    VIRTUAL = "Virtual"
    BIGINT = "BigInt"
    MANAGEDPROPERTY = "ManagedProperty"
    ENTITYNAME = "EntityName"

    @property
    def code(self) -> int:
        return _TYPE_CODES[self]


_TYPE_CODES = {t: i for i, t in enumerate(AttributeType)}

LOOKUP_TYPES = frozenset({AttributeType.LOOKUP, AttributeType.CUSTOMER, AttributeType.OWNER})


class DateTimeBehavior(StrEnum):
    USER_LOCAL = "UserLocal"
    DATE_ONLY = "DateOnly"
    TIME_ZONE_INDEPENDENT = "TimeZoneIndependent"


class OptionSetType(StrEnum):
    PICKLIST = "Picklist"
    STATE = "State"
    STATUS = "Status"
    BOOLEAN = "Boolean"


class OptionDef(BaseModel):
    """One option. ``state`` is set on Status options, ``default_status``/``invariant_name`` on State ones."""

    model_config = ConfigDict(frozen=True)

    value: int
    labels: Labels
    state: int | None = None
    default_status: int | None = None
    invariant_name: str | None = None
    color: str | None = None


class OptionSetDef(BaseModel):
    """A local or global option set.

    Boolean sets use ``true_option``/``false_option`` instead of ``options``.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    type: OptionSetType = OptionSetType.PICKLIST
    is_global: bool = False
    is_custom: bool = False
    display_name: Labels = Field(default_factory=dict)
    options: tuple[OptionDef, ...] = ()
    true_option: OptionDef | None = None
    false_option: OptionDef | None = None

    @property
    def metadata_id(self) -> str:
        return metadata_id("optionset", self.name)

    def label_of(self, value: int | bool, language: int = 1033) -> str | None:
        """The label of an option value in ``language`` (falling back to the first label)."""
        if self.type is OptionSetType.BOOLEAN:
            option = self.true_option if value else self.false_option
            candidates = [option] if option else []
        else:
            candidates = [o for o in self.options if o.value == value]
        for option in candidates:
            return option.labels.get(language) or next(iter(option.labels.values()), None)
        return None


class AttributeDef(BaseModel):
    """One column of a table, with the type-specific properties the Web API exposes.

    ``type_name`` is ``AttributeTypeName.Value`` (``StringType``, ``MultiSelectPicklistType``,
    ``ImageType``...).
    ``option_set`` holds a local set; ``global_option_set`` names a global one of the organization.
    """

    model_config = ConfigDict(frozen=True)

    logical_name: str
    schema_name: str
    type: AttributeType
    type_name: str
    display_name: Labels = Field(default_factory=dict)
    description: Labels = Field(default_factory=dict)
    is_primary_id: bool = False
    is_primary_name: bool = False
    is_valid_for_read: bool = True
    is_valid_for_create: bool = True
    is_valid_for_update: bool = True
    is_custom: bool = False
    is_logical: bool = False
    is_secured: bool = False
    attribute_of: str | None = None
    source_type: int = 0
    column_number: int = 0
    required_level: str = "None"
    max_length: int | None = None
    format: str | None = None
    format_name: str | None = None
    precision: int | None = None
    precision_source: int | None = None
    # int first, so BigInt bounds (±2**63) stay exact through JSON round trips.
    min_value: int | float | None = None
    max_value: int | float | None = None
    is_base_currency: bool | None = None
    datetime_behavior: DateTimeBehavior | None = None
    targets: tuple[str, ...] = ()
    option_set: OptionSetDef | None = None
    global_option_set: str | None = None
    max_size_kb: int | None = None
    default_value: bool | int | None = None

    @property
    def is_lookup(self) -> bool:
        return self.type in LOOKUP_TYPES

    @property
    def is_multiselect(self) -> bool:
        return self.type_name == "MultiSelectPicklistType"

    @property
    def is_row_property(self) -> bool:
        """Whether rows carry this attribute (as itself, or as ``_x_value`` for lookups)."""
        if not self.is_valid_for_read:
            return False
        if self.attribute_of is not None:
            return self.logical_name in IMAGE_COMPANIONS
        if self.type in (
            AttributeType.PARTYLIST,
            AttributeType.CALENDARRULES,
            AttributeType.MANAGEDPROPERTY,
        ):
            return False
        return self.type_name not in ("ImageType", "FileType")

    @property
    def property_name(self) -> str:
        """The row property: ``_x_value`` for lookups, the logical name otherwise."""
        return f"_{self.logical_name}_value" if self.is_lookup else self.logical_name

    def metadata_id_for(self, table: str) -> str:
        return metadata_id(table, self.logical_name)


IMAGE_COMPANIONS = frozenset({"entityimageid", "entityimage_url", "entityimage_timestamp"})


class TableDef(BaseModel):
    """One table (entity) with its attributes in column order."""

    model_config = ConfigDict(frozen=True)

    logical_name: str
    schema_name: str
    entity_set_name: str
    primary_id: str
    primary_name: str | None
    object_type_code: int
    display_name: Labels = Field(default_factory=dict)
    display_collection_name: Labels = Field(default_factory=dict)
    description: Labels = Field(default_factory=dict)
    change_tracking: bool = True
    can_change_tracking_be_enabled: bool = True
    is_intersect: bool = False
    is_custom: bool = False
    is_activity: bool = False
    is_private: bool = False
    is_logical: bool = False
    ownership: str = "UserOwned"
    table_type: str = "Standard"
    primary_image: str | None = None
    is_valid_for_advanced_find: bool = True
    is_optimistic_concurrency_enabled: bool = True
    attributes: tuple[AttributeDef, ...] = ()

    @property
    def metadata_id(self) -> str:
        return metadata_id(self.logical_name)

    def attribute(self, logical_name: str) -> AttributeDef | None:
        for attribute in self.attributes:
            if attribute.logical_name == logical_name:
                return attribute
        return None

    def row_attributes(self) -> tuple[AttributeDef, ...]:
        """Attributes that appear in rows, in column order."""
        return tuple(a for a in self.attributes if a.is_row_property)


class OneToManyDef(BaseModel):
    """A 1:N relationship (also served as N:1 from the referencing side)."""

    model_config = ConfigDict(frozen=True)

    schema_name: str
    referenced_entity: str
    referenced_attribute: str
    referencing_entity: str
    referencing_attribute: str
    referenced_navigation: str
    referencing_navigation: str
    is_custom: bool = False
    cascade_delete: str = "RemoveLink"

    @property
    def metadata_id(self) -> str:
        return metadata_id("relationship", self.schema_name)


class ManyToManyDef(BaseModel):
    """An N:N relationship and its intersect table."""

    model_config = ConfigDict(frozen=True)

    schema_name: str
    intersect_entity: str
    entity1: str
    entity1_attribute: str
    entity1_navigation: str
    entity2: str
    entity2_attribute: str
    entity2_navigation: str
    is_custom: bool = False

    @property
    def metadata_id(self) -> str:
        return metadata_id("relationship", self.schema_name)


class Catalog(BaseModel):
    """Everything an organization's metadata holds."""

    model_config = ConfigDict(frozen=True)

    tables: tuple[TableDef, ...]
    one_to_many: tuple[OneToManyDef, ...] = ()
    many_to_many: tuple[ManyToManyDef, ...] = ()
    global_option_sets: tuple[OptionSetDef, ...] = ()

    def table(self, logical_name: str) -> TableDef | None:
        for table in self.tables:
            if table.logical_name == logical_name:
                return table
        return None

    def table_by_set(self, entity_set_name: str) -> TableDef | None:
        for table in self.tables:
            if table.entity_set_name == entity_set_name:
                return table
        return None

    def global_option_set(self, name: str) -> OptionSetDef | None:
        for option_set in self.global_option_sets:
            if option_set.name == name:
                return option_set
        return None

    def option_set_of(self, attribute: AttributeDef) -> OptionSetDef | None:
        """The attribute's option set, resolving a global reference."""
        if attribute.global_option_set:
            return self.global_option_set(attribute.global_option_set)
        return attribute.option_set
