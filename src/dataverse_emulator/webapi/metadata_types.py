"""The metadata entity types: which properties and navigations each one has (spec §4).

A :class:`Shape` is what ``$select``, ``$filter`` and ``$expand`` are checked against. Uncast attribute
collections have the ``AttributeMetadata`` shape, so only common properties can be named; a cast
(``…/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata``) switches to the derived shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataverse_emulator.catalog.model import AttributeDef, AttributeType
from dataverse_emulator.errors import bad_request

NAMESPACE = "Microsoft.Dynamics.CRM"
LABEL_PROPERTIES = frozenset({"DisplayName", "DisplayCollectionName", "Description", "Label"})


@dataclass(frozen=True)
class Shape:
    """A metadata type: its name (without namespace), properties and navigation properties."""

    name: str
    properties: tuple[str, ...]
    navigation: tuple[str, ...] = ()

    @property
    def qualified_name(self) -> str:
        return f"{NAMESPACE}.{self.name}"

    def has_property(self, name: str) -> bool:
        return name in self.properties

    def is_selectable(self, name: str) -> bool:
        return name in self.properties or name in self.navigation


def names(text: str) -> tuple[str, ...]:
    """Property names from a whitespace-separated list."""
    return tuple(text.split())


ENTITY = Shape(
    "EntityMetadata",
    names(
        """MetadataId LogicalName SchemaName EntitySetName LogicalCollectionName PrimaryIdAttribute
        PrimaryNameAttribute PrimaryImageAttribute ObjectTypeCode ChangeTrackingEnabled
        CanChangeTrackingBeEnabled IsIntersect IsPrivate IsCustomEntity IsActivity IsLogicalEntity
        IsValidForAdvancedFind IsOptimisticConcurrencyEnabled IsManaged OwnershipType TableType
        IntroducedVersion HasChanged DisplayName DisplayCollectionName Description"""
    ),
    names("Attributes OneToManyRelationships ManyToOneRelationships ManyToManyRelationships Keys"),
)

_ATTRIBUTE_COMMON = names(
    """MetadataId LogicalName SchemaName EntityLogicalName AttributeType AttributeTypeName IsPrimaryId
    IsPrimaryName IsValidForRead IsValidForCreate IsValidForUpdate IsLogical IsCustomAttribute IsSecured
    IsManaged IsFilterable IsRetrievable IsSearchable IsValidODataAttribute AttributeOf SourceType
    ColumnNumber IntroducedVersion HasChanged RequiredLevel IsValidForAdvancedFind IsAuditEnabled
    DisplayName Description"""
)

_NUMERIC = "Precision MinValue MaxValue ImeMode"
_OPTION_NAVIGATION = "OptionSet GlobalOptionSet"

#: Derived attribute type → (its own properties, its navigations).
_ATTRIBUTE_TYPES: dict[str, tuple[str, str]] = {
    "AttributeMetadata": ("", ""),
    "StringAttributeMetadata": ("MaxLength DatabaseLength Format FormatName ImeMode YomiOf IsLocalizable", ""),
    "MemoAttributeMetadata": ("MaxLength Format ImeMode IsLocalizable", ""),
    "IntegerAttributeMetadata": ("MinValue MaxValue Format", ""),
    "BigIntAttributeMetadata": ("MinValue MaxValue", ""),
    "DecimalAttributeMetadata": (_NUMERIC, ""),
    "DoubleAttributeMetadata": (_NUMERIC, ""),
    "MoneyAttributeMetadata": (f"{_NUMERIC} PrecisionSource IsBaseCurrency CalculationOf", ""),
    "DateTimeAttributeMetadata": (
        "DateTimeBehavior Format ImeMode MinSupportedValue MaxSupportedValue CanChangeDateTimeBehavior",
        "",
    ),
    "LookupAttributeMetadata": ("Targets Format", ""),
    "BooleanAttributeMetadata": ("DefaultValue", _OPTION_NAVIGATION),
    "PicklistAttributeMetadata": ("DefaultFormValue", _OPTION_NAVIGATION),
    "StateAttributeMetadata": ("DefaultFormValue", _OPTION_NAVIGATION),
    "StatusAttributeMetadata": ("DefaultFormValue", _OPTION_NAVIGATION),
    "MultiSelectPicklistAttributeMetadata": ("DefaultFormValue", _OPTION_NAVIGATION),
    "UniqueIdentifierAttributeMetadata": ("", ""),
    "EntityNameAttributeMetadata": ("", ""),
    "ManagedPropertyAttributeMetadata": ("", ""),
    "ImageAttributeMetadata": ("MaxSizeInKB IsPrimaryImage CanStoreFullImage MaxHeight MaxWidth", ""),
    "FileAttributeMetadata": ("MaxSizeInKB", ""),
}

#: Abstract types a client may know from the SDK but cannot cast to.
_ABSTRACT_ATTRIBUTE_TYPES = frozenset({"EnumAttributeMetadata"})

_BY_TYPE = {
    AttributeType.BOOLEAN: "BooleanAttributeMetadata",
    AttributeType.CUSTOMER: "LookupAttributeMetadata",
    AttributeType.DATETIME: "DateTimeAttributeMetadata",
    AttributeType.DECIMAL: "DecimalAttributeMetadata",
    AttributeType.DOUBLE: "DoubleAttributeMetadata",
    AttributeType.INTEGER: "IntegerAttributeMetadata",
    AttributeType.LOOKUP: "LookupAttributeMetadata",
    AttributeType.MEMO: "MemoAttributeMetadata",
    AttributeType.MONEY: "MoneyAttributeMetadata",
    AttributeType.OWNER: "LookupAttributeMetadata",
    AttributeType.PARTYLIST: "LookupAttributeMetadata",
    AttributeType.PICKLIST: "PicklistAttributeMetadata",
    AttributeType.STATE: "StateAttributeMetadata",
    AttributeType.STATUS: "StatusAttributeMetadata",
    AttributeType.STRING: "StringAttributeMetadata",
    AttributeType.UNIQUEIDENTIFIER: "UniqueIdentifierAttributeMetadata",
    AttributeType.BIGINT: "BigIntAttributeMetadata",
    AttributeType.MANAGEDPROPERTY: "ManagedPropertyAttributeMetadata",
    AttributeType.ENTITYNAME: "EntityNameAttributeMetadata",
}

_BY_VIRTUAL_TYPE_NAME = {
    "MultiSelectPicklistType": "MultiSelectPicklistAttributeMetadata",
    "ImageType": "ImageAttributeMetadata",
    "FileType": "FileAttributeMetadata",
}

ATTRIBUTE = Shape("AttributeMetadata", _ATTRIBUTE_COMMON)

_OPTION_SET_BASE = names(
    """MetadataId HasChanged Name OptionSetType IsGlobal IsCustomOptionSet IsManaged IntroducedVersion
    ExternalTypeName ParentOptionSetName IsCustomizable DisplayName Description"""
)
OPTION_SET = Shape("OptionSetMetadata", (*_OPTION_SET_BASE, "Options"))
BOOLEAN_OPTION_SET = Shape("BooleanOptionSetMetadata", (*_OPTION_SET_BASE, "TrueOption", "FalseOption"))
#: ``GlobalOptionSetDefinitions`` mixes both kinds; either kind's properties may be selected there.
GLOBAL_OPTION_SET = Shape("OptionSetMetadataBase", (*_OPTION_SET_BASE, "Options", "TrueOption", "FalseOption"))

_RELATIONSHIP_BASE = names(
    """MetadataId SchemaName RelationshipType IsCustomRelationship IsManaged IsValidForAdvancedFind
    SecurityTypes IntroducedVersion HasChanged"""
)
RELATIONSHIP_BASE = Shape("RelationshipMetadataBase", _RELATIONSHIP_BASE)
ONE_TO_MANY = Shape(
    "OneToManyRelationshipMetadata",
    _RELATIONSHIP_BASE
    + names(
        """ReferencedEntity ReferencedAttribute ReferencingEntity ReferencingAttribute
        ReferencedEntityNavigationPropertyName ReferencingEntityNavigationPropertyName IsHierarchical
        CascadeConfiguration"""
    ),
)
MANY_TO_MANY = Shape(
    "ManyToManyRelationshipMetadata",
    _RELATIONSHIP_BASE
    + names(
        """IntersectEntityName Entity1LogicalName Entity1IntersectAttribute Entity1NavigationPropertyName
        Entity2LogicalName Entity2IntersectAttribute Entity2NavigationPropertyName"""
    ),
)
RELATIONSHIP_CASTS = {shape.name: shape for shape in (ONE_TO_MANY, MANY_TO_MANY)}

ENTITY_KEY = Shape(
    "EntityKeyMetadata",
    names(
        """MetadataId LogicalName SchemaName EntityLogicalName KeyAttributes EntityKeyIndexStatus IsManaged
        IntroducedVersion HasChanged DisplayName"""
    ),
)


def attribute_type_of(attribute: AttributeDef) -> str:
    """The derived metadata type of an attribute (``StringAttributeMetadata``...)."""
    if attribute.type is AttributeType.VIRTUAL:
        return _BY_VIRTUAL_TYPE_NAME.get(attribute.type_name, "AttributeMetadata")
    return _BY_TYPE.get(attribute.type, "AttributeMetadata")


def attribute_shape(type_name: str) -> Shape:
    """The shape of a derived attribute type, by unqualified name."""
    own, navigation = _ATTRIBUTE_TYPES[type_name]
    return Shape(type_name, _ATTRIBUTE_COMMON + names(own), names(navigation))


def all_attribute_properties() -> frozenset[str]:
    """Every property some attribute type has (what ``RetrieveMetadataChanges`` may name)."""
    return frozenset(name for type_name in _ATTRIBUTE_TYPES for name in attribute_shape(type_name).properties)


def attribute_cast(segment: str) -> Shape:
    """The shape named by a cast segment (``Microsoft.Dynamics.CRM.PicklistAttributeMetadata``).

    Raises:
        WebApiError: 400 for an abstract type (``EnumAttributeMetadata``) or a type that is not an
            attribute metadata type.
    """
    name = _cast_name(segment)
    if name in _ABSTRACT_ATTRIBUTE_TYPES:
        raise bad_request(
            f"The type '{segment}' cannot be used as a cast: it is abstract. "
            "Cast to a concrete type such as PicklistAttributeMetadata."
        )
    if name not in _ATTRIBUTE_TYPES:
        raise bad_request(f"The type '{segment}' is not an attribute metadata type.")
    return attribute_shape(name)


def relationship_cast(segment: str) -> Shape:
    """The shape of ``…OneToManyRelationshipMetadata`` / ``…ManyToManyRelationshipMetadata`` casts.

    Raises:
        WebApiError: 400 for any other type.
    """
    name = _cast_name(segment)
    if name not in RELATIONSHIP_CASTS:
        raise bad_request(f"The type '{segment}' is not a relationship metadata type.")
    return RELATIONSHIP_CASTS[name]


def is_cast_segment(segment: str) -> bool:
    return segment.startswith(f"{NAMESPACE}.")


def _cast_name(segment: str) -> str:
    return segment.removeprefix(f"{NAMESPACE}.")


def matches_cast(attribute: AttributeDef, shape: Shape) -> bool:
    """Whether an attribute belongs to a (possibly base) attribute type."""
    return shape.name == "AttributeMetadata" or attribute_type_of(attribute) == shape.name
