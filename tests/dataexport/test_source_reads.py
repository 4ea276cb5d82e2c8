"""Baselines, deltas and record reads against a real (in-process) emulator (webapi §2-3, R1-R5)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_source_support import EmulatorEnv, FakeTime, emulator_env, read_all

from dataexport.domain.changes import Delete
from dataexport.source.base import LinkKind, Page
from dataexport.source.dataverse import DataverseSource


@pytest.fixture
def env(tmp_path: Path) -> Iterator[EmulatorEnv]:
    with emulator_env(tmp_path / "emulator", scale=3) as running:
        yield running


@pytest.fixture
def source(env: EmulatorEnv) -> DataverseSource:
    return env.source(pages={"size": 7, "floor": 1})


def test_a_full_baseline_of_every_table_equals_the_emulators_row_count(
    env: EmulatorEnv, source: DataverseSource
) -> None:
    entities = source.entities()
    assert len(entities) >= 20
    for summary in entities:
        schema = source.entity_schema(summary.logical_name)
        pages, final = read_all(source, schema)
        ids = [record_id for page in pages for record_id in page.record_ids]
        assert len(ids) == env.store.count(summary.logical_name), summary.logical_name
        assert len(set(ids)) == len(ids)
        assert all(not page.rejected and not page.deletes and not page.unknown_attributes for page in pages)
        assert all(page.page_size == 7 for page in pages)
        if summary.change_tracking:
            assert final is not None and final.kind is LinkKind.DELTA, summary.logical_name
        else:
            assert final is None, summary.logical_name


def test_every_page_request_is_a_tracked_read_without_select_and_with_both_annotations(
    env: EmulatorEnv, source: DataverseSource
) -> None:
    schema = source.entity_schema("contact")
    pages, final = read_all(source, schema)
    assert final is not None
    source.read_page(schema, final)
    reads = [entry for entry in env.requests() if entry["entity_set"] == "contacts"]
    assert len(reads) == len(pages) + 1 >= 3
    for entry in reads:
        assert "$select" not in entry["query"] and "$top" not in entry["query"]
        assert "odata.track-changes" in entry["prefer"] and "odata.maxpagesize=7" in entry["prefer"]
        assert "FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname" in entry["prefer"]


def test_deltas_after_a_workload_bring_the_changed_rows_then_the_deletes(
    env: EmulatorEnv, source: DataverseSource
) -> None:
    schemas = {name: source.entity_schema(name) for name in ("account", "contact")}
    links = {name: read_all(source, schema)[1] for name, schema in schemas.items()}
    result = env.admin(
        "POST", "orgs/contoso/workload", {"seed": 3, "creates": 6, "updates": 6, "deletes": 4, "tables": list(schemas)}
    )
    expected = _final_states(result)
    assert None in expected.values() and len(expected) >= 10  # creates, updates and deletes happened
    for name, schema in schemas.items():
        pages, _ = read_all(source, schema, links[name])
        upserts = {u.record_id: u.version for page in pages for u in page.upserts}
        deletes = {d.record_id for page in pages for d in page.deletes}
        assert upserts == {rid: version for (table, rid), version in expected.items() if table == name and version}
        assert deletes == {rid for (table, rid), version in expected.items() if table == name and version is None}
        changes = [change for page in pages for change in page.changes.changes]
        first_delete = next((i for i, change in enumerate(changes) if isinstance(change, Delete)), len(changes))
        assert all(isinstance(change, Delete) for change in changes[first_delete:])  # upserts, then tombstones


def _final_states(result: dict[str, list[dict[str, object]]]) -> dict[tuple[str, str], int | None]:
    """(table, id) -> version of the row after the workload, None when it ends deleted."""
    kinds = ("created", "updated", "deleted")
    events = [(int(str(e["version"])), str(e["table"]), str(e["id"]), kind) for kind in kinds for e in result[kind]]
    states: dict[tuple[str, str], int | None] = {}
    for version, table, record_id, kind in sorted(events):
        states[(table, record_id)] = None if kind == "deleted" else version
    return states


def test_a_delta_without_changes_is_empty_with_a_fresh_delta_link(source: DataverseSource) -> None:
    schema = source.entity_schema("lead")
    _, link = read_all(source, schema)
    assert link is not None
    page = source.read_page(schema, link)
    assert page.changes.changes == () and page.is_last
    assert page.following is not None and page.following.kind is LinkKind.DELTA


def test_a_baseline_resumes_from_a_saved_next_link_in_another_source(env: EmulatorEnv, source: DataverseSource) -> None:
    schema = source.entity_schema("contact")
    first = source.read_page(schema)
    assert first.following is not None and first.following.kind is LinkKind.NEXT
    other = env.source(pages={"size": 7, "floor": 1})
    rest, final = read_all(other, schema, first.following)
    ids = {rid for page in (first, *rest) for rid in page.record_ids}
    assert len(ids) == env.store.count("contact") and final is not None


def test_a_record_is_read_again_by_id_and_a_deleted_one_is_none(env: EmulatorEnv, source: DataverseSource) -> None:
    schema = source.entity_schema("account")
    page: Page = source.read_page(schema)
    upsert = page.upserts[0]
    again = source.read_record(schema, upsert.record_id.upper())
    assert again is not None and again.record_id == upsert.record_id and again.version == upsert.version
    assert again.values == upsert.values
    with env.store.write() as tx:
        tx.delete("account", upsert.record_id)
    assert source.read_record(schema, upsert.record_id) is None


def test_lookups_carry_their_target_and_formatted_name(source: DataverseSource) -> None:
    schema = source.entity_schema("contact")
    pages, _ = read_all(source, schema)
    with_parent = [u for page in pages for u in page.upserts if u.values.get("parentcustomerid")]
    assert with_parent
    for upsert in with_parent:
        assert upsert.values["parentcustomerid_entitytype"] in {"account", "contact"}
        assert upsert.values["parentcustomeridname"]


def test_the_5000_row_page_of_new_widget_is_one_page(tmp_path: Path) -> None:
    with emulator_env(tmp_path / "big", scale=1, counts={"new_widget": 5000}) as env:
        source = env.source(FakeTime())
        schema = source.entity_schema("new_widget")
        page = source.read_page(schema)
        assert len(page.upserts) == 5000 and page.is_last and not page.rejected
        assert env.requests()[-1]["prefer"].count("odata.maxpagesize=5000") == 1
