"""Attribute kinds decided from AttributeType / AttributeTypeName (webapi §4.2)."""

from __future__ import annotations

import pytest

from dataexport.domain.schema import Attribute, AttributeKind


@pytest.mark.parametrize(
    ("attribute_type", "type_name", "kind", "code"),
    [
        ("Virtual", "MultiSelectPicklistType", AttributeKind.MULTI_SELECT_PICKLIST, 17),
        ("Virtual", "ImageType", AttributeKind.IMAGE, 17),
        ("Virtual", "FileType", AttributeKind.FILE, 17),
        ("Virtual", "VirtualType", AttributeKind.VIRTUAL, 17),
        ("String", "StringType", AttributeKind.STRING, 14),
        ("Lookup", None, AttributeKind.LOOKUP, 6),
        ("EntityName", "EntityNameType", AttributeKind.ENTITY_NAME, 20),
        ("BigInt", "BigIntType", AttributeKind.BIG_INT, 18),
        ("Boolean", "BooleanType", AttributeKind.BOOLEAN, 0),
        ("Uniqueidentifier", "UniqueidentifierType", AttributeKind.UNIQUEIDENTIFIER, 15),
        ("Money", "SomethingNewType", AttributeKind.MONEY, 8),
    ],
)
def test_kind_is_decided_on_type_name_first(
    attribute_type: str, type_name: str | None, kind: AttributeKind, code: int
) -> None:
    decided = AttributeKind.from_metadata(attribute_type, type_name)
    assert decided is kind
    assert decided.type_code == code


def test_unknown_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="Unknown attribute type"):
        AttributeKind.from_metadata("Hologram", "HologramType")


def test_lookup_property_names() -> None:
    assert Attribute(logical_name="ownerid", kind=AttributeKind.OWNER).property_name == "_ownerid_value"
    assert Attribute(logical_name="name", kind=AttributeKind.STRING).property_name == "name"
    assert AttributeKind.CUSTOMER.is_lookup and not AttributeKind.UNIQUEIDENTIFIER.is_lookup
