"""Guarded writes on SQLite: upserts, deletes + DeleteLog, replays, values (DES §6.3, §6.7, §7.3, §7.5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from test_destination_support import (
    ACCOUNT_ID,
    Clock,
    account_schema,
    attribute,
    dump_table,
    execute,
    guid,
    make_destination,
    read_rows,
    simple_schema,
)
from test_domain_changes import full_row

from dataexport.destination.base import RemovedRow, WriteResult
from dataexport.destination.sql.destination import SqlDestination
from dataexport.domain.changes import Delete, Upsert, row_to_values
from dataexport.domain.guards import Tombstone, TombstoneGuard
from dataexport.domain.schema import AttributeKind

SCHEMA = simple_schema()
T1 = "2025-03-07 14:05:09.123"
T2 = "2025-03-07 14:05:10.123"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "rep.db"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def destination(db: Path, clock: Clock) -> SqlDestination:
    destination = make_destination(db, clock=clock)
    destination.ensure_entity_table(SCHEMA)
    destination.ensure_metadata_tables(delete_log=True)
    return destination


def contact(number: int, version: int, name: str | None = "n", **values: object) -> Upsert:
    return Upsert(guid(number), version, {"fullname": name, "versionnumber": version, **values})


def rows(db: Path) -> list[tuple[object, ...]]:
    return read_rows(
        db, 'SELECT "Id", "SinkCreatedOn", "SinkModifiedOn", fullname, versionnumber FROM crm_contact ORDER BY 1'
    )


def test_insert_then_newer_version_updates_and_keeps_sink_created_on(
    db: Path, destination: SqlDestination, clock: Clock
) -> None:
    assert destination.apply_upserts(SCHEMA, [contact(1, 5, "first")]) == WriteResult(applied=(guid(1),))
    clock.advance()
    assert destination.apply_upserts(SCHEMA, [contact(1, 6, "second")]).applied == (guid(1),)
    assert rows(db) == [(guid(1), T1, T2, "second", 6)]


@pytest.mark.parametrize("version", [4, 5])
def test_older_or_equal_version_is_a_no_op(db: Path, destination: SqlDestination, clock: Clock, version: int) -> None:
    destination.apply_upserts(SCHEMA, [contact(1, 5, "current")])
    clock.advance()
    result = destination.apply_upserts(SCHEMA, [contact(1, version, "stale")])
    assert result == WriteResult(stale=(guid(1),))
    assert result.synced_count == 1
    assert rows(db) == [(guid(1), T1, T1, "current", 5)]


def test_rewrite_equal_rewrites_equal_versions_only(db: Path, destination: SqlDestination, clock: Clock) -> None:
    destination.apply_upserts(SCHEMA, [contact(1, 5, "before")])
    clock.advance()
    assert destination.apply_upserts(SCHEMA, [contact(1, 4, "older")], rewrite_equal=True).stale == (guid(1),)
    assert destination.apply_upserts(SCHEMA, [contact(1, 5, "rollup filled")], rewrite_equal=True).applied == (guid(1),)
    assert rows(db) == [(guid(1), T1, T2, "rollup filled", 5)]


def test_stored_null_version_counts_as_older(db: Path, destination: SqlDestination) -> None:
    execute(db, f"INSERT INTO crm_contact (\"Id\", fullname) VALUES ('{guid(1)}', 'from DES')")
    assert destination.apply_upserts(SCHEMA, [contact(1, 1, "synced")]).applied == (guid(1),)
    assert rows(db)[0][3:] == ("synced", 1)


def test_several_versions_of_one_id_in_a_batch_keep_the_highest(db: Path, destination: SqlDestination) -> None:
    result = destination.apply_upserts(SCHEMA, [contact(1, 7, "seven"), contact(1, 9, "nine"), contact(1, 8, "eight")])
    assert result.applied == (guid(1),)
    assert rows(db)[0][3:] == ("nine", 9)


def test_tombstone_guard_blocks_resurrection_but_not_recreation(db: Path, destination: SqlDestination) -> None:
    now = datetime(2025, 3, 7, tzinfo=UTC)
    guard = TombstoneGuard.resolve(
        [Tombstone(guid(1), 10, now), Tombstone(guid(2), 10, now), Tombstone(guid(3), None, now)],
        read_started_at=now - timedelta(seconds=1),
    )
    result = destination.apply_upserts(
        SCHEMA, [contact(1, 9), contact(2, 11), contact(3, 99), contact(4, 1)], guard=guard
    )
    assert result.tombstoned == (guid(1), guid(3))
    assert result.applied == (guid(2), guid(4))
    assert [row[0] for row in rows(db)] == [guid(2), guid(4)]


def test_deletes_write_delete_log_in_the_same_transaction(db: Path, destination: SqlDestination) -> None:
    destination.apply_upserts(SCHEMA, [contact(1, 5), contact(2, 6)])
    result = destination.apply_deletes(SCHEMA, [Delete(guid(1)), Delete(guid(3))], write_delete_log=True)
    assert result.removed == (RemovedRow(guid(1), 5), RemovedRow(guid(3), None))
    assert result.applied == (guid(1), guid(3))
    assert [row[0] for row in rows(db)] == [guid(2)]
    log = read_rows(db, "SELECT Id, EntityName, RecordId, SinkDeleteTime, VersionNumber FROM crm_DeleteLog ORDER BY Id")
    assert log == [(1, "contact", guid(1), T1, 5), (2, "contact", guid(3), T1, None)]


def test_delete_log_is_optional(db: Path, destination: SqlDestination) -> None:
    destination.apply_upserts(SCHEMA, [contact(1, 5)])
    destination.apply_deletes(SCHEMA, [Delete(guid(1))], write_delete_log=False)
    assert rows(db) == [] and dump_table(db, "crm_DeleteLog") == []


def test_a_versioned_delete_never_removes_a_newer_row(db: Path, destination: SqlDestination) -> None:
    destination.apply_upserts(SCHEMA, [contact(1, 8)])
    result = destination.apply_deletes(SCHEMA, [Delete(guid(1), version=7)], write_delete_log=True)
    assert result == WriteResult(stale=(guid(1),))
    assert len(rows(db)) == 1 and dump_table(db, "crm_DeleteLog") == []


def test_replaying_any_batch_changes_nothing(db: Path, destination: SqlDestination, clock: Clock) -> None:
    upserts = [contact(n, 10 + n, f"name {n}", description="d" * n) for n in range(1, 6)]
    deletes = [Delete(guid(2)), Delete(guid(9))]
    destination.apply_upserts(SCHEMA, upserts)
    destination.apply_deletes(SCHEMA, deletes, write_delete_log=True)
    snapshot = (dump_table(db, "crm_contact"), dump_table(db, "crm_DeleteLog"))
    clock.advance(3600)
    replayed = destination.apply_upserts(SCHEMA, upserts)
    assert replayed.applied == (guid(2),)  # a replay may re-insert a deleted row only when no tombstone says otherwise
    destination.apply_deletes(SCHEMA, deletes[:1], write_delete_log=False)
    assert dump_table(db, "crm_contact") == snapshot[0]
    now = clock()
    guard = TombstoneGuard.resolve([Tombstone(guid(2), 12, now)], now)
    clock.advance(3600)
    assert destination.apply_upserts(SCHEMA, upserts, guard=guard).applied == ()
    assert (dump_table(db, "crm_contact"), dump_table(db, "crm_DeleteLog")) == snapshot


def test_full_account_row_is_stored_with_des_value_encodings(db: Path, clock: Clock) -> None:
    destination = make_destination(db, clock=clock)
    destination.ensure_entity_table(account_schema())
    assert destination.apply_upserts(account_schema(), [row_to_values(account_schema(), full_row())]).applied
    (row,) = read_rows(db, "SELECT * FROM crm_account")
    names = [name for (name,) in read_rows(db, "SELECT name FROM pragma_table_info('crm_account') ORDER BY cid")]
    stored = dict(zip(names, row, strict=True))
    assert stored["Id"] == ACCOUNT_ID and stored["accountid"] == ACCOUNT_ID
    assert stored["SinkCreatedOn"] == T1 and stored["SinkModifiedOn"] == T1
    assert stored["createdon"] == "2024-05-02 08:15:00.000"
    assert stored["new_founded"] == "2024-05-02 00:00:00.000"
    assert stored["donotemail"] == 0
    assert stored["new_interests"] == "1,3,5"
    assert stored["revenue"] == 1250000 and stored["exchangerate"] == 1 and stored["new_score"] == 0.12345
    assert stored["owneridtype"] == "systemuser" and stored["ownerid_entitytype"] == "systemuser"
    assert stored["primarycontactidname"] == "Dana Birkby" and stored["owneridyominame"] is None
    assert stored["entityimageid"] == "7a000000-0000-4000-8000-00000000000a"
    assert stored["versionnumber"] == 40117


def test_unicode_long_memos_decimals_at_the_limit_and_nulls(db: Path, destination: SqlDestination) -> None:
    memo = ("שלום עולם 🎿 مرحبا " * 60000)[:1_000_000]
    values = [
        contact(1, 1, "Zoë 👩🏽‍💻 — ½", description=memo, creditlimit=Decimal("9999999999999.99")),
        contact(2, 1, "\u202eRTL override\u202c", creditlimit=Decimal("-0.01")),
        Upsert(guid(3), 1, {"fullname": None, "description": None, "creditlimit": None, "contactid": None}),
        Upsert(guid(4), 1, {}),
    ]
    assert len(destination.apply_upserts(SCHEMA, values).applied) == 4
    stored = {
        row[0]: row[1:]
        for row in read_rows(
            db, 'SELECT "Id", fullname, description, creditlimit, contactid, versionnumber FROM crm_contact'
        )
    }
    assert stored[guid(1)][0] == "Zoë 👩🏽‍💻 — ½" and stored[guid(1)][1] == memo
    assert Decimal(str(stored[guid(1)][2])) == Decimal("9999999999999.99")  # 15 significant digits: SQLite's limit
    assert stored[guid(2)][0] == "\u202eRTL override\u202c" and Decimal(str(stored[guid(2)][2])) == Decimal("-0.01")
    assert stored[guid(3)] == (None, None, None, None, 1)
    assert stored[guid(4)] == (None, None, None, None, 1)


def test_columns_the_table_lacks_are_skipped(db: Path, clock: Clock) -> None:
    narrow = SCHEMA.model_copy(update={"attributes": SCHEMA.attributes[:2] + SCHEMA.attributes[4:]})
    destination = make_destination(db, clock=clock)
    destination.ensure_entity_table(narrow)
    assert destination.apply_upserts(SCHEMA, [contact(1, 1, description="no column")]).applied == (guid(1),)
    assert rows(db)[0][3:] == ("n", 1)


def test_a_column_whose_type_changed_is_no_longer_written(db: Path, destination: SqlDestination) -> None:
    retyped = SCHEMA.model_copy(
        update={
            "attributes": tuple(
                attribute("fullname", AttributeKind.INTEGER) if a.logical_name == "fullname" else a
                for a in SCHEMA.attributes
            )
        }
    )
    destination.apply_upserts(SCHEMA, [contact(1, 1, "text")])
    assert destination.ensure_entity_table(retyped).type_changes
    destination.apply_upserts(retyped, [Upsert(guid(1), 2, {"fullname": 42, "description": "still synced"})])
    assert read_rows(db, "SELECT fullname, description, versionnumber FROM crm_contact") == [
        ("text", "still synced", 2)
    ]


def test_empty_batches_do_nothing(destination: SqlDestination) -> None:
    assert destination.apply_upserts(SCHEMA, []) == WriteResult()
    assert destination.apply_deletes(SCHEMA, [], write_delete_log=True) == WriteResult()


def test_record_ids_are_listed_in_key_order(destination: SqlDestination) -> None:
    destination.apply_upserts(SCHEMA, [contact(n, 1) for n in (5, 1, 3, 2, 4)])
    assert list(destination.iter_record_ids(SCHEMA, chunk_size=2)) == [
        (guid(1), guid(2)),
        (guid(3), guid(4)),
        (guid(5),),
    ]
