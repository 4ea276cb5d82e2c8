"""Page parsing and validation (webapi §3.4, R5, R13), page sizes (R12) and the page request (R1)."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from dataexport.domain.changes import Delete
from dataexport.domain.schema import Attribute, AttributeKind, EntitySchema
from dataexport.errors import InvalidIdentifier
from dataexport.source.base import Link, LinkKind
from dataexport.source.dataverse.config import PageSettings
from dataexport.source.dataverse.pages import parse_page
from dataexport.source.dataverse.paging import ANNOTATIONS, PageSizes, first_page_url, prefer_headers
from dataexport.source.dataverse.responses import BodyError, parse_json

ROOT = "https://org.example/api/data/v9.2/"
URL = ROOT + "accounts"
A = "1f0e2d3c-4b5a-4697-8877-66554433221a"
B = "2a1b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
C = "77c1d9a0-2b3e-4f50-9a61-b7c8d9e0f1a2"
SCHEMA = EntitySchema(
    logical_name="account",
    entity_set_name="accounts",
    primary_id="accountid",
    attributes=(
        Attribute(logical_name="accountid", kind=AttributeKind.UNIQUEIDENTIFIER),
        Attribute(logical_name="name", kind=AttributeKind.STRING, max_length=160),
        Attribute(logical_name="revenue", kind=AttributeKind.MONEY, precision=2),
        Attribute(logical_name="numberofemployees", kind=AttributeKind.INTEGER),
        Attribute(logical_name="versionnumber", kind=AttributeKind.BIG_INT),
    ),
)


def row(record_id: str, version: int, **values: object) -> dict[str, object]:
    return {"@odata.etag": f'W/"{version}"', "accountid": record_id, "versionnumber": version, **values}


def tombstone(record_id: str, reason: str = "deleted", context: bool = True) -> dict[str, object]:
    item: dict[str, object] = {"id": record_id, "reason": reason}
    if context:
        item["@odata.context"] = ROOT + "$metadata#accounts/$deletedEntity"
    return item


def page(*items: dict[str, object], **links: str) -> object:
    body = {"@odata.context": ROOT + "$metadata#accounts/$delta", "value": list(items)}
    body.update({f"@odata.{name}": link for name, link in links.items()})
    return parse_json(json.dumps(body).encode())


def test_a_delta_page_keeps_response_order_and_reads_both_tombstone_styles() -> None:
    document = page(
        row(A, 101, name="Alpine", revenue=1250000.25),
        tombstone(B),
        tombstone(C, reason="changed", context=False),
        deltaLink=URL + "?$deltatoken=102%2105%2f02%2f2024",
    )
    result = parse_page(document, schema=SCHEMA, url=URL, page_size=5000)
    kinds = [type(change).__name__ for change in result.changes.changes]
    assert kinds == ["Upsert", "Delete", "Delete"]
    assert result.deletes == (Delete(B), Delete(C))
    upsert = result.upserts[0]
    assert (upsert.record_id, upsert.version, upsert.values["name"]) == (A, 101, "Alpine")
    assert upsert.values["revenue"] == Decimal("1250000.25")
    assert result.following == Link.delta(URL + "?$deltatoken=102%2105%2f02%2f2024")
    assert result.is_last and result.page_size == 5000
    assert result.record_ids == (A, B, C)


def test_a_baseline_page_with_a_next_link_is_not_the_last() -> None:
    result = parse_page(page(row(A, 5), nextLink=URL + "?$skiptoken=x"), schema=SCHEMA, url=URL, page_size=2)
    assert result.following is not None and result.following.kind is LinkKind.NEXT
    assert not result.is_last


def test_the_last_page_of_an_untracked_read_has_no_link() -> None:
    result = parse_page(page(row(A, 5)), schema=SCHEMA, url=URL, page_size=2)
    assert result.following is None and result.is_last


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "invalid_page"),
        ({"@odata.context": "x"}, "invalid_page"),
        ({"value": {"a": 1}}, "invalid_page"),
        ({"value": [1]}, "invalid_page"),
        ({"value": [{"name": "no key", "versionnumber": 3}]}, "invalid_page"),
        ({"value": [{"accountid": "not-a-guid", "versionnumber": 3}]}, "invalid_page"),
        ({"value": [{"accountid": A}]}, "invalid_page"),  # no version at all
        ({"value": [{"id": "nope", "reason": "deleted"}]}, "invalid_page"),
        ({"value": [], "@odata.nextLink": 5}, "invalid_page"),
        ({"value": [], "@odata.nextLink": "relative?$skiptoken=1"}, "invalid_page"),
        ({"value": [], "@odata.nextLink": URL}, "link_loop"),
    ],
)
def test_invalid_pages_are_refused_whole(document: object, reason: str) -> None:
    with pytest.raises(BodyError) as caught:
        parse_page(document, schema=SCHEMA, url=URL, page_size=10)
    assert caught.value.reason == reason


def test_a_value_that_does_not_fit_rejects_only_its_row() -> None:
    document = page(row(A, 7, numberofemployees="many"), row(B, 8, name="ok"), deltaLink=URL + "?$deltatoken=1")
    result = parse_page(document, schema=SCHEMA, url=URL, page_size=10)
    assert [upsert.record_id for upsert in result.upserts] == [B]
    assert [(error.record_id, error.attribute) for error in result.rejected] == [(A, "numberofemployees")]
    assert set(result.record_ids) == {A, B}  # a re-baseline counts the rejected row as seen


def test_remap_applies_a_refreshed_schema_to_the_same_rows() -> None:
    document = page(row(A, 7, name="x", new_size=3), tombstone(B), deltaLink=URL + "?$deltatoken=1")
    first = parse_page(document, schema=SCHEMA, url=URL, page_size=10)
    assert first.unknown_attributes == {"new_size"}
    refreshed = SCHEMA.model_copy(
        update={"attributes": (*SCHEMA.attributes, Attribute(logical_name="new_size", kind=AttributeKind.INTEGER))}
    )
    second = first.remap(refreshed)
    assert second.unknown_attributes == frozenset()
    assert second.upserts[0].values["new_size"] == 3
    assert second.deletes == (Delete(B),) and second.following == first.following


def test_a_duplicate_row_is_kept_for_the_version_guard_to_ignore() -> None:
    result = parse_page(
        page(row(A, 7), row(A, 7), deltaLink=URL + "?$deltatoken=1"), schema=SCHEMA, url=URL, page_size=9
    )
    assert [upsert.record_id for upsert in result.upserts] == [A, A]


def test_5000_rows_of_40_columns_parse_well_under_100_ms() -> None:
    columns = {f"new_col{i:02d}": (f"text {i}" if i % 3 else Decimal("1234.5678")) for i in range(38)}
    rows = [row(f"00000000-0000-4000-8000-{n:012d}", n, **columns) for n in range(5000)]
    body = json.dumps({"value": rows}, default=str).encode()
    best = min(_timed(lambda: parse_json(body)) for _ in range(3))
    assert best < 0.1, f"parsing 5000 rows took {best * 1000:.0f} ms"


def _timed(action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - started


# ----- the request -------------------------------------------------------------------------------


def test_every_page_request_asks_for_tracking_page_size_and_both_annotations() -> None:
    assert prefer_headers(500, track_changes=True) == (
        ("Prefer", "odata.track-changes, odata.maxpagesize=500"),
        ("Prefer", ANNOTATIONS),
    )
    assert prefer_headers(5000, track_changes=False)[0] == ("Prefer", "odata.maxpagesize=5000")
    assert "OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname" in ANNOTATIONS


def test_the_first_page_has_no_select_and_refuses_odd_set_names() -> None:
    assert first_page_url(ROOT, SCHEMA) == ROOT + "accounts"
    with pytest.raises(InvalidIdentifier):
        first_page_url(ROOT, SCHEMA.model_copy(update={"entity_set_name": "accounts?$top=1"}))


# ----- page sizes --------------------------------------------------------------------------------


def test_page_size_halves_to_the_floor_and_regrows_after_good_pages() -> None:
    sizes = PageSizes(PageSettings(size=5000, floor=100, regrow_after=3))
    assert sizes.current("account") == 5000
    halvings = []
    while sizes.shrink("account"):
        halvings.append(sizes.current("account"))
    assert halvings == [2500, 1250, 625, 312, 156, 100]
    assert sizes.is_at_floor("account") and sizes.current("contact") == 5000
    for _ in range(2):
        sizes.record_good_page("account")
    assert sizes.current("account") == 100
    sizes.record_good_page("account")
    assert sizes.current("account") == 200
    for _ in range(30):
        sizes.record_good_page("account")
    assert sizes.current("account") == 5000  # never above the configured size


def test_a_restored_page_size_is_clamped() -> None:
    sizes = PageSizes(PageSettings(size=1000, floor=50))
    sizes.restore("account", 20000)
    assert sizes.current("account") == 1000
    sizes.restore("account", 3)
    assert sizes.current("account") == 50
