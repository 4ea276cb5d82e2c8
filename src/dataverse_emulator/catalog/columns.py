"""Builders that let table definitions read as data: ``string("Name", 160, "Account Name")``.

Every builder takes the attribute's **schema name**; the logical name is its lower-case form, as in
Dataverse. Builders return a :class:`Columns` group: the attribute itself plus the auxiliary
columns and relationships that come with it (a lookup brings ``<x>name`` and its 1:N relationship).
Two things are only known once the group is placed in a table, and
:func:`dataverse_emulator.catalog.tables.table` fills them in: local option-set names (left empty
here) and the relationships' referencing entity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict, Unpack

from dataverse_emulator.catalog.model import (
    AttributeDef,
    AttributeType,
    DateTimeBehavior,
    Labels,
    OneToManyDef,
)

INT_MIN, INT_MAX = -2_147_483_648, 2_147_483_647
BIGINT_MIN, BIGINT_MAX = -9_223_372_036_854_775_808, 9_223_372_036_854_775_807
MONEY_MIN, MONEY_MAX = -922_337_203_685_477, 922_337_203_685_477
DECIMAL_MIN, DECIMAL_MAX = -100_000_000_000, 100_000_000_000


@dataclass(frozen=True)
class Columns:
    """Attributes in column order and the 1:N relationships they reference (referencing side unset)."""

    attributes: tuple[AttributeDef, ...]
    relationships: tuple[OneToManyDef, ...] = ()


class Common(TypedDict, total=False):
    """Keyword options every builder accepts."""

    de: str
    description: str
    required: str
    attribute_of: str
    primary_name: bool
    create: bool
    update: bool
    read: bool
    secured: bool
    logical: bool
    source_type: int


def labels(en: str, de: str | None = None) -> Labels:
    """A label mapping: 1033 first (the user language), then 1031 when given."""
    result: Labels = {1033: en} if en else {}
    if de:
        result[1031] = de
    return result


def attribute(
    schema: str, kind: AttributeType, type_name: str, display: str, common: Common, **typed: object
) -> AttributeDef:
    """The building block of every builder: common options plus the type's own ``AttributeDef`` fields."""
    logical = schema.lower()
    fields: dict[str, object] = {
        "logical_name": logical,
        "schema_name": schema,
        "type": kind,
        "type_name": type_name,
        "display_name": labels(display, common.get("de")),
        "description": labels(common.get("description", "")),
        "is_primary_name": common.get("primary_name", False),
        "is_valid_for_read": common.get("read", True),
        "is_valid_for_create": common.get("create", True),
        "is_valid_for_update": common.get("update", True),
        "is_custom": logical.startswith("new_"),
        "is_logical": common.get("logical", False),
        "is_secured": common.get("secured", False),
        "attribute_of": common.get("attribute_of"),
        "source_type": common.get("source_type", 0),
        "required_level": common.get("required", "None"),
        **typed,
    }
    return AttributeDef.model_validate(fields)


def group(*parts: AttributeDef | Columns) -> Columns:
    """Concatenate attributes and groups, keeping order."""
    attributes: list[AttributeDef] = []
    relationships: list[OneToManyDef] = []
    for part in parts:
        if isinstance(part, AttributeDef):
            attributes.append(part)
        else:
            attributes.extend(part.attributes)
            relationships.extend(part.relationships)
    return Columns(tuple(attributes), tuple(relationships))


def string(schema: str, max_length: int, display: str, *, fmt: str = "Text", **common: Unpack[Common]) -> AttributeDef:
    """A String column; ``fmt`` is ``Text``, ``Email``, ``Url``, ``Phone`` or ``TextArea``."""
    return attribute(
        schema,
        AttributeType.STRING,
        "StringType",
        display,
        common,
        max_length=max_length,
        format=fmt,
        format_name=fmt,
    )


def memo(schema: str, max_length: int, display: str, **common: Unpack[Common]) -> AttributeDef:
    return attribute(schema, AttributeType.MEMO, "MemoType", display, common, max_length=max_length, format="TextArea")


def integer(
    schema: str,
    display: str,
    *,
    minimum: int = INT_MIN,
    maximum: int = INT_MAX,
    fmt: str = "None",
    **common: Unpack[Common],
) -> AttributeDef:
    """An Integer column; ``fmt`` is ``None``, ``Duration``, ``TimeZone``, ``Language`` or ``Locale``."""
    return attribute(
        schema,
        AttributeType.INTEGER,
        "IntegerType",
        display,
        common,
        min_value=minimum,
        max_value=maximum,
        format=fmt,
    )


def bigint(schema: str, display: str, **common: Unpack[Common]) -> AttributeDef:
    return attribute(
        schema,
        AttributeType.BIGINT,
        "BigIntType",
        display,
        common,
        min_value=BIGINT_MIN,
        max_value=BIGINT_MAX,
    )


def decimal(
    schema: str,
    precision: int,
    display: str,
    *,
    minimum: int = DECIMAL_MIN,
    maximum: int = DECIMAL_MAX,
    **common: Unpack[Common],
) -> AttributeDef:
    return attribute(
        schema,
        AttributeType.DECIMAL,
        "DecimalType",
        display,
        common,
        precision=precision,
        min_value=minimum,
        max_value=maximum,
    )


def double(
    schema: str, precision: int, display: str, *, minimum: float, maximum: float, **common: Unpack[Common]
) -> AttributeDef:
    return attribute(
        schema,
        AttributeType.DOUBLE,
        "DoubleType",
        display,
        common,
        precision=precision,
        min_value=minimum,
        max_value=maximum,
    )


def money(schema: str, display: str, *, de: str | None = None) -> Columns:
    """A Money column (precision 2, currency precision) and its read-only ``<x>_base`` twin (precision 4)."""
    value = attribute(
        schema,
        AttributeType.MONEY,
        "MoneyType",
        display,
        {"de": de} if de else {},
        precision=2,
        precision_source=2,
        min_value=MONEY_MIN,
        max_value=MONEY_MAX,
        is_base_currency=False,
    )
    base = attribute(
        f"{schema}_Base",
        AttributeType.MONEY,
        "MoneyType",
        f"{display} (Base)",
        {"create": False, "update": False, "source_type": 1},
        precision=4,
        precision_source=2,
        min_value=MONEY_MIN,
        max_value=MONEY_MAX,
        is_base_currency=True,
    )
    return Columns((value, base))


def datetime(
    schema: str,
    display: str,
    behavior: DateTimeBehavior = DateTimeBehavior.USER_LOCAL,
    *,
    date_only: bool = False,
    **common: Unpack[Common],
) -> AttributeDef:
    """A DateTime column; the format is ``DateOnly`` for that behaviour or when ``date_only``."""
    fmt = "DateOnly" if date_only or behavior is DateTimeBehavior.DATE_ONLY else "DateAndTime"
    return attribute(
        schema,
        AttributeType.DATETIME,
        "DateTimeType",
        display,
        common,
        datetime_behavior=behavior,
        format=fmt,
    )


def uniqueidentifier(schema: str, display: str, *, primary: bool = False, **common: Unpack[Common]) -> AttributeDef:
    """A Uniqueidentifier; ``primary`` makes it the table's key (SystemRequired, not updatable)."""
    if primary:
        common = {"update": False, "required": "SystemRequired", **common}
    return attribute(
        schema, AttributeType.UNIQUEIDENTIFIER, "UniqueidentifierType", display, common, is_primary_id=primary
    )


def entityname(schema: str, display: str, **common: Unpack[Common]) -> AttributeDef:
    return attribute(schema, AttributeType.ENTITYNAME, "EntityNameType", display, common)


def virtual(schema: str, display: str, **common: Unpack[Common]) -> AttributeDef:
    return attribute(schema, AttributeType.VIRTUAL, "VirtualType", display, common)


def image(schema: str = "EntityImage", display: str = "Default Image") -> Columns:
    """An image column with the companions rows do carry (``<x>id``, ``<x>_url``, ``<x>_timestamp``)."""
    logical = schema.lower()
    owned: Common = {"attribute_of": logical, "create": False, "update": False}
    return Columns(
        (
            attribute(schema, AttributeType.VIRTUAL, "ImageType", display, {}, max_size_kb=10240),
            uniqueidentifier(f"{schema}Id", "Entity Image Id", **owned),
            string(f"{schema}_URL", 200, "", fmt="Url", **owned),
            bigint(f"{schema}_Timestamp", "", **owned),
        )
    )


def lookup(
    schema: str,
    display: str,
    relationships: Mapping[str, str],
    *,
    kind: AttributeType = AttributeType.LOOKUP,
    navigation: str = "{attribute}_{target}",
    name_length: int | None = 100,
    yomi: bool = False,
    type_column: str | None = None,
    **common: Unpack[Common],
) -> Columns:
    """A lookup with its ``<x>name`` (and ``<x>yominame``) helpers and one 1:N per target.

    Args:
        relationships: target table → relationship schema name, in target order.
        navigation: the referencing navigation property for polymorphic lookups (a single target uses
            the attribute's logical name, or its schema name for a custom lookup, as in Dataverse).
        name_length: MaxLength of the ``<x>name`` helper; ``None`` for no name helpers.
        type_column: schema name of the EntityName helper (``ParentCustomerIdType``), if any.
    """
    logical = schema.lower()
    targets = tuple(relationships)
    type_name = {AttributeType.CUSTOMER: "CustomerType", AttributeType.OWNER: "OwnerType"}.get(kind, "LookupType")
    # Dataverse names the navigation of a custom lookup after its schema name (``new_AccountId``).
    base = schema if logical.startswith("new_") else logical
    helper: Common = {"attribute_of": logical, "create": False, "update": False}
    attributes = [attribute(schema, kind, type_name, display, common, targets=targets)]
    if name_length is not None:
        attributes.append(string(f"{schema}Name", name_length, "", **helper))
    if yomi and name_length is not None:
        attributes.append(string(f"{schema}YomiName", name_length, "", **helper))
    if type_column:
        attributes.append(entityname(type_column, "", attribute_of=logical))
    rels = tuple(
        OneToManyDef(
            schema_name=rel,
            referenced_entity=target,
            referenced_attribute=f"{target}id",
            referencing_entity="",
            referencing_attribute=logical,
            referenced_navigation=rel,
            referencing_navigation=(base if len(targets) == 1 else navigation.format(attribute=base, target=target)),
            is_custom=rel.startswith("new_"),
        )
        for target, rel in relationships.items()
    )
    return Columns(tuple(attributes), rels)


def owner(relationship: str) -> Columns:
    """``ownerid`` (Owner → systemuser, team) and its helpers.

    As in Dataverse, the lookup has one 1:N relationship (``owner_accounts``), whose referenced table
    is ``owner``, the common base of users and teams; ``Targets`` still lists ``systemuser`` and ``team``.
    """
    columns = lookup(
        "OwnerId",
        "Owner",
        {"owner": relationship},
        kind=AttributeType.OWNER,
        yomi=True,
        type_column="OwnerIdType",
        de="Besitzer",
        required="SystemRequired",
    )
    column = columns.attributes[0].model_copy(update={"targets": ("systemuser", "team")})
    return Columns((column, *columns.attributes[1:]), columns.relationships)
