"""``Prefer`` parsing and ``Preference-Applied`` formatting (spec §1.6)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataverse_emulator.odata.prefer import Preferences, parse_prefer

FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP = "Microsoft.Dynamics.CRM.lookuplogicalname"


@pytest.mark.parametrize(
    "headers",
    [
        ["odata.track-changes,odata.maxpagesize=500"],
        ["odata.track-changes", "odata.maxpagesize=500"],
        ["  odata.track-changes ,  odata.maxpagesize=500  "],
    ],
)
def test_one_header_or_several_mean_the_same(headers: list[str]) -> None:
    assert parse_prefer(headers) == Preferences(maxpagesize=500, track_changes=True)


def test_a_quoted_list_is_one_preference_with_several_terms() -> None:
    prefs = parse_prefer([f'odata.maxpagesize=500, odata.include-annotations="{FORMATTED},{LOOKUP}"'])
    assert prefs == Preferences(maxpagesize=500, include_annotations=(FORMATTED, LOOKUP))


def test_names_are_case_insensitive_and_the_odata_prefix_is_optional() -> None:
    prefs = parse_prefer(["MaxPageSize=10", "ODATA.Track-Changes", 'include-annotations="*"'])
    assert prefs == Preferences(maxpagesize=10, track_changes=True, include_annotations=("*",))


def test_return_representation() -> None:
    assert parse_prefer(["return=representation"]).return_representation
    assert parse_prefer(['Return="Representation"']).return_representation
    assert not parse_prefer(["return=minimal"]).return_representation


def test_continue_on_error() -> None:
    assert parse_prefer(["odata.continue-on-error"]).continue_on_error
    assert parse_prefer(["continue-on-error"]).continue_on_error
    assert not parse_prefer(["odata.continue-on-error=false"]).continue_on_error


def test_only_the_first_occurrence_counts() -> None:
    assert parse_prefer(["odata.maxpagesize=10, odata.maxpagesize=20"]).maxpagesize == 10
    assert parse_prefer(["maxpagesize=10", "odata.maxpagesize=20"]).maxpagesize == 10
    assert parse_prefer(["odata.maxpagesize=abc", "odata.maxpagesize=20"]).maxpagesize is None
    prefs = parse_prefer(['odata.include-annotations="a"', 'odata.include-annotations="b"'])
    assert prefs.include_annotations == ("a",)


def test_unknown_preferences_and_rfc_parameters_are_ignored() -> None:
    prefs = parse_prefer(["respond-async, wait=10, return=representation; charset=utf-8, odata.foo"])
    assert prefs == Preferences(return_representation=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1),
        ("500", 500),
        ('"500"', 500),
        (" 500 ", 500),
        ("5000", 5000),
        ("5001", 5000),
        ("100000000000000000000", 5000),
        ("0", None),
        ("-5", None),
        ("1.5", None),
        ("abc", None),
        ("", None),
    ],
)
def test_maxpagesize_is_capped_and_invalid_values_ignored(value: str, expected: int | None) -> None:
    assert parse_prefer([f"odata.maxpagesize={value}"]).maxpagesize == expected


def test_no_header_means_no_preferences() -> None:
    assert parse_prefer([]) == Preferences()
    assert parse_prefer([""]) == Preferences()


@pytest.mark.parametrize(
    ("requested", "term", "wanted"),
    [
        (("*",), FORMATTED, True),
        (("Microsoft.Dynamics.CRM.*",), LOOKUP, True),
        (("Microsoft.Dynamics.CRM.*",), FORMATTED, False),
        ((FORMATTED,), FORMATTED, True),
        ((FORMATTED.lower(),), FORMATTED, True),
        ((FORMATTED,), LOOKUP, False),
        ((FORMATTED, LOOKUP), LOOKUP, True),
        ((), FORMATTED, False),
    ],
)
def test_wants_annotation(requested: tuple[str, ...], term: str, wanted: bool) -> None:
    assert Preferences(include_annotations=requested).wants_annotation(term) is wanted


def test_applied_lists_what_was_honoured_in_the_documented_order() -> None:
    prefs = parse_prefer(['odata.include-annotations="*"', "odata.track-changes", "odata.maxpagesize=500"])
    assert (
        prefs.applied(maxpagesize=500, track_changes=True, annotations=True)
        == 'odata.track-changes, odata.maxpagesize=500, odata.include-annotations="*"'
    )


def test_applied_echoes_annotation_terms_quoted() -> None:
    prefs = parse_prefer([f'odata.include-annotations="{FORMATTED},{LOOKUP}"'])
    assert prefs.applied(annotations=True) == f'odata.include-annotations="{FORMATTED},{LOOKUP}"'


def test_applied_is_none_when_nothing_was_honoured() -> None:
    assert Preferences().applied() is None
    assert Preferences().applied(annotations=True) is None


def test_applied_covers_writes_and_batches() -> None:
    prefs = Preferences(return_representation=True, continue_on_error=True)
    assert prefs.applied(return_representation=True) == "return=representation"
    assert prefs.applied(continue_on_error=True) == "odata.continue-on-error"


@given(st.lists(st.text()))
def test_parse_prefer_never_raises_and_respects_the_page_size_range(values: list[str]) -> None:
    size = parse_prefer(values).maxpagesize
    assert size is None or 1 <= size <= 5000
