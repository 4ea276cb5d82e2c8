"""``ScriptedSource``, and the ``Source`` contract run against both implementations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_source_support import emulator_env

from dataexport.domain.changes import Delete
from dataexport.domain.schema import Attribute, AttributeKind, EntitySchema
from dataexport.errors import SourceUnavailable
from dataexport.source.base import Link, LinkKind, Page, Source
from dataexport.source.errors import DeltaTokenExpired, LinkRejected, SourceRequestRefused
from dataexport.source.scripted import ScriptedSource, rows_by_id, scripted_row

SCHEMA = EntitySchema(
    logical_name="contact",
    entity_set_name="contacts",
    primary_id="contactid",
    attributes=(
        Attribute(logical_name="contactid", kind=AttributeKind.UNIQUEIDENTIFIER),
        Attribute(logical_name="fullname", kind=AttributeKind.STRING, max_length=160),
        Attribute(logical_name="numberofchildren", kind=AttributeKind.INTEGER),
        Attribute(logical_name="versionnumber", kind=AttributeKind.BIG_INT),
    ),
)
IDS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 8)]


def contact(index: int, version: int, **values: object) -> dict[str, object]:
    return scripted_row("contactid", IDS[index], version, fullname=f"Contact {index}", **values)


def read_sequence(source: Source, schema: EntitySchema, link: Link | None = None) -> tuple[list[Page], Link | None]:
    pages = [source.read_page(schema, link)]
    while not pages[-1].is_last:
        pages.append(source.read_page(schema, pages[-1].following))
    return pages, pages[-1].following


# ----- the contract, for both implementations ------------------------------------------------------


@dataclass
class World:
    source: Source
    schema: EntitySchema
    ids: set[str]


@pytest.fixture(params=["dataverse", "scripted"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "scripted":
        source = ScriptedSource([SCHEMA])
        source.script_baseline("contact", [contact(0, 10), contact(1, 11)], [contact(2, 12)], [contact(3, 13)])
        yield World(source, SCHEMA, set(IDS[:4]))
        return
    with emulator_env(tmp_path / "emulator", scale=1) as env:
        dataverse = env.source(pages={"size": 2, "floor": 1})
        ids = {row.id for row in env.store.scan("contact")}
        yield World(dataverse, dataverse.entity_schema("contact"), ids)


def test_a_baseline_reads_every_row_once_and_ends_with_a_delta_link(world: World) -> None:
    pages, final = read_sequence(world.source, world.schema)
    ids = [record_id for page in pages for record_id in page.record_ids]
    assert sorted(ids) == sorted(world.ids) and len(pages) > 1
    assert all(page.following is not None and page.following.kind is LinkKind.NEXT for page in pages[:-1])
    assert final is not None and final.kind is LinkKind.DELTA


def test_a_quiet_delta_has_no_changes_and_a_delta_link(world: World) -> None:
    _, final = read_sequence(world.source, world.schema)
    page = world.source.read_page(world.schema, final)
    assert page.changes.changes == () and page.is_last and page.following is not None
    assert page.following.kind is LinkKind.DELTA


def test_reading_a_page_twice_gives_the_same_rows(world: World) -> None:
    first = world.source.read_page(world.schema)
    again = world.source.read_page(world.schema)
    assert first.record_ids == again.record_ids and first.following == again.following


def test_an_unknown_entity_and_an_unknown_record(world: World) -> None:
    with pytest.raises(SourceRequestRefused) as caught:
        world.source.entity_schema("new_nothing")
    assert caught.value.status == 404
    assert world.source.read_record(world.schema, "00000000-0000-4000-8000-0000000000ff") is None


def test_page_sizes_are_kept_per_entity_and_clamped(world: World) -> None:
    world.source.set_page_size("contact", 50_000)
    assert 1 <= world.source.page_size("contact") <= 5000
    world.source.set_page_size("contact", 1)
    assert world.source.page_size("contact") == 1
    assert world.source.page_size("account") > 1  # other entities keep theirs
    assert world.source.read_page(world.schema).page_size == 1
    world.source.close()


# ----- ScriptedSource ------------------------------------------------------------------------------


def test_deltas_chain_and_carry_deletes_in_order() -> None:
    source = ScriptedSource([SCHEMA])
    delta = source.script_baseline("contact", [contact(0, 10), contact(1, 11)])
    following = source.script_delta(delta, [contact(1, 20), Delete(IDS[0])], [Delete(IDS[2])])
    pages, final = read_sequence(source, SCHEMA, delta)
    assert [type(c).__name__ for page in pages for c in page.changes.changes] == ["Upsert", "Delete", "Delete"]
    assert final == following and rows_by_id(pages[0])[IDS[1]].version == 20
    assert source.reads == (("contact", delta.url), ("contact", pages[0].following.url))  # type: ignore[union-attr]


def test_injected_errors_fire_the_given_number_of_times() -> None:
    source = ScriptedSource([SCHEMA])
    source.script_baseline("contact", [contact(0, 1)])
    source.inject("contact", SourceUnavailable("503 from the script"), times=2)
    for _ in range(2):
        with pytest.raises(SourceUnavailable):
            source.read_page(SCHEMA)
    assert len(source.read_page(SCHEMA).upserts) == 1
    assert len(source.reads) == 3


def test_an_expired_delta_link_and_an_unknown_next_link() -> None:
    source = ScriptedSource([SCHEMA])
    delta = source.script_baseline("contact", [contact(0, 1)])
    source.expire(delta, "contact")
    with pytest.raises(DeltaTokenExpired):
        source.read_page(SCHEMA, delta)
    assert source.read_page(SCHEMA).upserts  # only that link is affected
    with pytest.raises(LinkRejected):
        source.read_page(SCHEMA, Link.next("https://scripted.invalid/contact/9/page/2"))


def test_a_row_that_does_not_fit_is_rejected_alone() -> None:
    source = ScriptedSource([SCHEMA])
    source.script_baseline("contact", [contact(0, 1, numberofchildren="two"), contact(1, 2, numberofchildren=2)])
    page = source.read_page(SCHEMA)
    assert [u.record_id for u in page.upserts] == [IDS[1]]
    assert [(e.record_id, e.attribute) for e in page.rejected] == [(IDS[0], "numberofchildren")]


def test_schema_changes_are_reported_and_pages_remap() -> None:
    source = ScriptedSource([SCHEMA])
    source.script_baseline("contact", [contact(0, 1, new_age=40)])
    stamp = source.metadata_changes(None).stamp
    page = source.read_page(SCHEMA)
    assert page.unknown_attributes == {"new_age"}
    wider = SCHEMA.model_copy(
        update={"attributes": (*SCHEMA.attributes, Attribute(logical_name="new_age", kind=AttributeKind.INTEGER))}
    )
    source.change_schema(wider)
    changes = source.metadata_changes(stamp)
    assert changes.affects("contact") and not changes.affects("account")
    assert page.remap(source.entity_schema("contact")).upserts[0].values["new_age"] == 40


def test_records_are_scripted_for_rereads() -> None:
    source = ScriptedSource([SCHEMA])
    source.script_record("contact", IDS[0], contact(0, 9))
    record = source.read_record(SCHEMA, IDS[0])
    assert record is not None and record.version == 9
    source.script_record("contact", IDS[0], None)
    assert source.read_record(SCHEMA, IDS[0]) is None
