"""Query-string decoding and link encoding (spec §1.4, §1.5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataverse_emulator.errors import WebApiError
from dataverse_emulator.odata.querystring import QueryOptions, encode_query, parse_query


def bad_request(raw: str) -> str:
    """The message of the 400 ``0x0`` that ``parse_query(raw)`` must raise."""
    with pytest.raises(WebApiError) as caught:
        parse_query(raw)
    assert (caught.value.status, caught.value.code) == (400, "0x0")
    return caught.value.message


@pytest.mark.parametrize(
    "raw",
    [
        "?$select=name,revenue&$filter=name eq 'A B'",
        "?%24select=name%2Crevenue&%24filter=name+eq+%27A+B%27",
        "?$select=name,revenue&$filter=name%20eq%20'A%20B'",
    ],
)
def test_the_three_encodings_of_the_spec_parse_identically(raw: str) -> None:
    assert parse_query(raw) == QueryOptions(
        select=("name", "revenue"),
        filter="name eq 'A B'",
        system=(("$select", "name,revenue"), ("$filter", "name eq 'A B'")),
    )


def test_a_partly_encoded_deltatoken_decodes_to_the_real_token() -> None:
    options = parse_query("$deltatoken=1002%2101%2F03%2F2024+10%3A00%3A00")
    assert options.deltatoken == "1002!01/03/2024 10:00:00"


def test_plus_becomes_space_before_percent_decoding_so_encoded_plus_survives() -> None:
    assert parse_query("$filter=name+eq+'a%2Bb'").filter == "name eq 'a+b'"


def test_values_are_decoded_as_utf8() -> None:
    assert parse_query("$filter=name eq '%C3%A9t%C3%A9'").filter == "name eq 'été'"


def test_invalid_utf8_is_a_bad_request() -> None:
    assert "UTF-8" in bad_request("$filter=name eq '%FF'")


def test_system_option_names_are_case_insensitive_and_recorded_lower_case() -> None:
    options = parse_query("$SELECT=name&%24Top=3&$CoUnT=TRUE&$OrderBy=name desc")
    assert options.select == ("name",)
    assert options.top == 3
    assert options.count is True
    assert options.orderby == "name desc"
    assert [name for name, _ in options.system] == ["$select", "$top", "$count", "$orderby"]


def test_every_system_option_lands_in_its_field() -> None:
    options = parse_query(
        "$filter=f&$orderby=o&$expand=e&$skiptoken=s&$deltatoken=d&$apply=a&$id=i&$top=0&$count=false"
    )
    assert (options.filter, options.orderby, options.expand) == ("f", "o", "e")
    assert (options.skiptoken, options.deltatoken, options.apply, options.id) == ("s", "d", "a", "i")
    assert (options.top, options.count, options.select) == (0, False, None)


def test_system_keeps_arrival_order_and_decoded_values() -> None:
    options = parse_query("$top=2&$filter=a%20eq%201&$select=x,y")
    assert options.system == (("$top", "2"), ("$filter", "a eq 1"), ("$select", "x,y"))


def test_has_reports_given_system_options_in_any_case() -> None:
    options = parse_query("$filter=a eq 1")
    assert options.has("$filter")
    assert options.has("$FILTER")
    assert not options.has("$select")


def test_an_empty_query_gives_the_defaults() -> None:
    assert parse_query("") == QueryOptions()
    assert parse_query("?") == QueryOptions()


@pytest.mark.parametrize("raw", ["$select=a&$select=b", "$select=a&$SELECT=b", "$top=1&%24top=2"])
def test_a_repeated_system_option_is_a_bad_request_naming_it(raw: str) -> None:
    message = bad_request(raw)
    assert "more than once" in message
    assert ("$select" in message) or ("$top" in message)


@pytest.mark.parametrize("raw", ["$skip=10", "$SKIP=10", "%24skip=1"])
def test_skip_is_not_supported(raw: str) -> None:
    assert "'$skip' is not supported" in bad_request(raw)


@pytest.mark.parametrize("raw", ["$xyz=1", "$search=blue", "$format=json", "$levels=2"])
def test_an_unknown_system_option_is_a_bad_request_naming_it(raw: str) -> None:
    assert raw.split("=")[0] in bad_request(raw)


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "", "%2B5", "1e3", "٣"])
def test_top_must_be_a_non_negative_integer(value: str) -> None:
    assert "$top" in bad_request(f"$top={value}")


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("5", 5), ("5000", 5000), (" 7 ", 7)])
def test_top_accepts_non_negative_integers(value: str, expected: int) -> None:
    assert parse_query(f"$top={value}").top == expected


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("TRUE", True), ("False", False)])
def test_count_accepts_true_and_false_in_any_case(value: str, expected: bool) -> None:
    assert parse_query(f"$count={value}").count is expected


@pytest.mark.parametrize("value", ["yes", "1", ""])
def test_count_rejects_anything_else(value: str) -> None:
    assert "$count" in bad_request(f"$count={value}")


def test_select_is_split_on_commas_and_trimmed() -> None:
    assert parse_query("$select= name , revenue,_primarycontactid_value").select == (
        "name",
        "revenue",
        "_primarycontactid_value",
    )


@pytest.mark.parametrize("value", ["a,,b", "a,", "", " , "])
def test_select_rejects_empty_items(value: str) -> None:
    assert "$select" in bad_request(f"$select={value}")


def test_aliases_keep_their_at_sign_and_unparsed_value() -> None:
    options = parse_query("$filter=name eq @p1&%40p1=%27abc%27&@p2=5")
    assert dict(options.aliases) == {"@p1": "'abc'", "@p2": "5"}
    assert ("@p1", "'abc'") not in options.system


def test_a_repeated_alias_is_a_bad_request() -> None:
    assert "@p1" in bad_request("@p1=1&@p1=2")


def test_other_keys_are_kept_as_extra_first_occurrence_winning() -> None:
    options = parse_query("fetchXml=%3Cfetch%2F%3E&api-version=1&api-version=2&flag")
    assert dict(options.extra) == {"fetchXml": "<fetch/>", "api-version": "1", "flag": ""}
    assert options.system == ()


def test_query_options_are_read_only() -> None:
    options = parse_query("@p1=1&x=2")
    with pytest.raises(TypeError):
        options.aliases["@p2"] = "3"  # type: ignore[index]
    with pytest.raises(AttributeError):
        options.top = 3  # type: ignore[misc]


def test_encode_query_writes_a_literal_dollar_and_readable_select() -> None:
    encoded = encode_query([("$select", "name,revenue"), ("$filter", "statecode eq 0")])
    assert encoded == "$select=name,revenue&$filter=statecode%20eq%200"


def test_encode_query_escapes_what_would_change_the_meaning() -> None:
    encoded = encode_query([("$filter", "a eq 'x+y&z=1#;%'")])
    assert encoded == "$filter=a%20eq%20'x%2By%26z=1%23%3B%25'"


def test_encode_query_gives_the_spec_skiptoken_shape() -> None:
    token = '<cookie pagenumber="2" pagingcookie="..." istracking="False" />'
    assert encode_query([("$skiptoken", token)]) == (
        "$skiptoken=%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22...%22%20istracking=%22False%22%20/%3E"
    )


_TEXT_OPTIONS = ["$filter", "$orderby", "$expand", "$skiptoken", "$deltatoken", "$apply", "$id"]
_TEXT = st.text(st.characters(exclude_categories=["Cs"]))


@given(st.lists(st.tuples(st.sampled_from(_TEXT_OPTIONS), _TEXT), unique_by=lambda pair: pair[0]))
def test_encode_then_parse_round_trips(pairs: list[tuple[str, str]]) -> None:
    assert parse_query(encode_query(pairs)).system == tuple(pairs)


@given(st.dictionaries(st.from_regex(r"@[a-z][a-z0-9]{0,5}", fullmatch=True), _TEXT))
def test_aliases_round_trip_through_encode_query(aliases: dict[str, str]) -> None:
    assert dict(parse_query(encode_query(aliases.items())).aliases) == aliases


@given(st.text())
def test_parse_query_raises_only_web_api_errors(raw: str) -> None:
    try:
        parse_query(raw)
    except WebApiError as error:
        assert error.status == 400
