"""``$select``, ``$orderby``, ``$expand`` and key-segment parsing (spec §2.1, §2.3, §2.5, §4.1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dataverse_emulator.errors import WebApiError
from dataverse_emulator.odata.options import (
    ExpandItem,
    KeyRef,
    OrderItem,
    parse_expand,
    parse_key_segment,
    parse_orderby,
    parse_select,
)


def bad_request(parse: Callable[[str], object], text: str) -> str:
    """The message of the 400 ``0x0`` that ``parse(text)`` must raise."""
    with pytest.raises(WebApiError) as caught:
        parse(text)
    assert (caught.value.status, caught.value.code) == (400, "0x0")
    return caught.value.message


# -- $select ----------------------------------------------------------------------------------------


def test_select_splits_trims_and_keeps_order() -> None:
    assert parse_select("revenue, name ,_ownerid_value") == ("revenue", "name", "_ownerid_value")


@pytest.mark.parametrize("text", ["", "a,,b", ",a", "a, "])
def test_select_rejects_empty_names(text: str) -> None:
    assert "$select" in bad_request(parse_select, text)


# -- $orderby ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name", (OrderItem("name", descending=False),)),
        ("name asc", (OrderItem("name", descending=False),)),
        ("name desc", (OrderItem("name", descending=True),)),
        ("name DESC", (OrderItem("name", descending=True),)),
        (
            "statecode desc, name,  createdon   asc",
            (OrderItem("statecode", True), OrderItem("name", False), OrderItem("createdon", False)),
        ),
        ("CanChangeTrackingBeEnabled/Value", (OrderItem("CanChangeTrackingBeEnabled/Value", False),)),
    ],
)
def test_orderby(text: str, expected: tuple[OrderItem, ...]) -> None:
    assert parse_orderby(text) == expected


@pytest.mark.parametrize(
    "text", ["", "name,", ",name", "name sideways", "name desc extra", "tolower(name)", "name desc,,x"]
)
def test_orderby_rejects_anything_else(text: str) -> None:
    assert "$orderby" in bad_request(parse_orderby, text)


# -- $expand ----------------------------------------------------------------------------------------


def test_expand_example_from_the_brief() -> None:
    text = (
        "Attributes($select=LogicalName,AttributeType;"
        "$filter=AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'DateTime'),"
        "OptionSet($select=Options),GlobalOptionSet"
    )
    assert parse_expand(text) == (
        ExpandItem(
            "Attributes",
            select=("LogicalName", "AttributeType"),
            filter="AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'DateTime'",
        ),
        ExpandItem("OptionSet", select=("Options",)),
        ExpandItem("GlobalOptionSet"),
    )


def test_expand_reads_every_nested_option_and_nests_recursively() -> None:
    text = "systemuserroles_association($SELECT=name;$Top=3;$orderby=name desc;$expand=x($select=y))"
    assert parse_expand(text) == (
        ExpandItem(
            "systemuserroles_association",
            select=("name",),
            orderby="name desc",
            top=3,
            expand=(ExpandItem("x", select=("y",)),),
        ),
    )


def test_expand_respects_quotes_and_parentheses_inside_values() -> None:
    (item,) = parse_expand("a($filter=name eq 'x;y,(z' and (b eq 1 or c eq 'it''s'))")
    assert item.filter == "name eq 'x;y,(z' and (b eq 1 or c eq 'it''s')"


def test_expand_tolerates_whitespace_around_items() -> None:
    assert parse_expand(" a , b( $select=c ) ") == (ExpandItem("a"), ExpandItem("b", select=("c",)))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a($skip=1)", "'$skip'"),
        ("a($levels=2)", "'$levels'"),
        ("a(select=b)", "'select'"),
        ("a($select)", "'$select'"),
        ("a($select=b;$select=c)", "repeated"),
        ("a($top=-1)", "$top"),
        ("a($top=x)", "$top"),
        ("a($select=b,)", "$select"),
        ("a(", "Unbalanced"),
        ("a)", "Unbalanced"),
        ("a($filter=x eq 'y)", "Unbalanced"),
        ("a,,b", "Empty"),
        ("", "Empty"),
        ("a()", "Empty"),
        ("a($select=b;)", "Empty"),
        ("a($select=b)c", "after its closing parenthesis"),
        ("*", "'*'"),
        ("a b", "'a b'"),
        ("a($expand=b($skip=1))", "'$skip'"),
    ],
)
def test_expand_rejects_malformed_items(text: str, fragment: str) -> None:
    assert fragment in bad_request(parse_expand, text)


# -- key segments -----------------------------------------------------------------------------------

GUID = "9d2b4f6e-1a3c-4e5f-8a7b-0c1d2e3f4a5b"


@pytest.mark.parametrize("text", [GUID, GUID.upper(), f"({GUID.upper()})", f" ( {GUID} ) "])
def test_a_guid_key_is_lower_cased(text: str) -> None:
    assert parse_key_segment(text) == KeyRef(guid=GUID)


def test_a_named_key() -> None:
    key = parse_key_segment("(LogicalName='account')")
    assert key.guid is None
    assert dict(key.values) == {"LogicalName": "account"}


def test_an_alternate_key_with_several_values() -> None:
    key = parse_key_segment(f"key1='O''Neil, Ltd',key2=2, key3={GUID.upper()},key4=-7")
    assert dict(key.values) == {"key1": "O'Neil, Ltd", "key2": 2, "key3": GUID, "key4": -7}


@pytest.mark.parametrize(
    "text",
    [
        "()",
        "",
        "(1234)",
        "('abc')",
        "(9d2b4f6e-1a3c-4e5f-8a7b-0c1d2e3f4a5)",
        "(k=)",
        "(k=abc)",
        "(k=1.5)",
        "(k=1,k=2)",
        "(k='a)",
        "(='a')",
        "(k='a',)",
        "(k 1=2)",
    ],
)
def test_a_bad_key_is_a_bad_request(text: str) -> None:
    bad_request(parse_key_segment, text)
