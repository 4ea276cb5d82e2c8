"""Failure isolation and classification on a real SQLite database (DES §7.3, §8.1).

The test seam for a refused record is a trigger on the table (see ``SqlDestination``'s docstring).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from test_destination_support import Clock, dump_table, execute, guid, make_destination, read_rows, simple_schema

from dataexport.destination.base import RecordFailure
from dataexport.destination.sql.destination import SqlDestination
from dataexport.domain.changes import Delete, Upsert
from dataexport.domain.failures import ChangeType
from dataexport.errors import DestinationBusy, DestinationUnavailable, TransientError

SCHEMA = simple_schema()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "rep.db"
    destination = make_destination(path)
    destination.ensure_entity_table(SCHEMA)
    destination.ensure_metadata_tables(delete_log=True)
    return path


def reject(db: Path, record_id: str, *, when: str = "INSERT", message: str = "rejected by test") -> None:
    """Install the test seam: a trigger refusing one record."""
    execute(
        db,
        f"CREATE TRIGGER reject_{when.lower()} BEFORE {when} ON crm_contact WHEN NEW.\"Id\" = '{record_id}' "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
    )


def batch(*numbers: int, version: int = 1) -> list[Upsert]:
    return [Upsert(guid(n), version, {"fullname": f"c{n}"}) for n in numbers]


def test_a_refused_record_is_isolated_and_the_good_rows_commit(db: Path) -> None:
    reject(db, guid(3))
    result = make_destination(db).apply_upserts(SCHEMA, batch(1, 2, 3, 4, 5))
    assert result.applied == (guid(1), guid(2), guid(4), guid(5))
    assert result.failures == (RecordFailure(guid(3), 1, ChangeType.NEW, "rejected by test"),)
    assert [row[0] for row in dump_table(db, "crm_contact")] == [guid(n) for n in (1, 2, 4, 5)]


def test_a_refused_update_is_reported_as_update(db: Path) -> None:
    destination = make_destination(db)
    destination.apply_upserts(SCHEMA, batch(1, 2))
    reject(db, guid(2), when="UPDATE", message="too long for the destination")
    result = destination.apply_upserts(SCHEMA, batch(1, 2, version=2))
    assert result.applied == (guid(1),)
    assert result.failures == (RecordFailure(guid(2), 2, ChangeType.UPDATE, "too long for the destination"),)


def test_a_refused_delete_is_reported_as_delete(db: Path) -> None:
    destination = make_destination(db)
    destination.apply_upserts(SCHEMA, batch(1, 2))
    execute(
        db,
        f"CREATE TRIGGER keep BEFORE DELETE ON crm_contact WHEN OLD.\"Id\" = '{guid(2)}' "
        "BEGIN SELECT RAISE(ABORT, 'protected row'); END",
    )
    result = destination.apply_deletes(SCHEMA, [Delete(guid(1)), Delete(guid(2))], write_delete_log=True)
    assert result.applied == (guid(1),)
    assert result.failures == (RecordFailure(guid(2), None, ChangeType.DELETE, "protected row"),)
    assert [row[2] for row in dump_table(db, "crm_DeleteLog")] == [guid(1)]


def test_every_record_refused(db: Path) -> None:
    execute(db, "CREATE TRIGGER no_rows BEFORE INSERT ON crm_contact BEGIN SELECT RAISE(ABORT, 'nothing'); END")
    result = make_destination(db).apply_upserts(SCHEMA, batch(1, 2))
    assert [failure.record_id for failure in result.failures] == [guid(1), guid(2)]
    assert result.applied == () and dump_table(db, "crm_contact") == []


def test_read_only_database_is_transient_and_commits_nothing(db: Path) -> None:
    make_destination(db).apply_upserts(SCHEMA, batch(1))
    before = dump_table(db, "crm_contact")
    read_only = make_destination(Path(f"file:{db}?mode=ro&uri=true"))
    with pytest.raises(DestinationUnavailable, match="readonly database") as caught:
        read_only.apply_upserts(SCHEMA, batch(1, 2, 3, version=2))
    assert isinstance(caught.value, TransientError) and caught.value.entity == "contact"
    assert dump_table(db, "crm_contact") == before


def test_read_only_database_with_a_refused_record_is_still_transient(db: Path) -> None:
    reject(db, guid(2))
    query_only = make_destination(db, sqlite_pragmas={"query_only": 1})
    with pytest.raises(DestinationUnavailable):
        query_only.apply_upserts(SCHEMA, batch(1, 2, 3))
    with pytest.raises(DestinationUnavailable):
        query_only.apply_deletes(SCHEMA, [Delete(guid(1))], write_delete_log=True)
    assert dump_table(db, "crm_contact") == []


@contextmanager
def write_lock(db: Path) -> Iterator[None]:
    with closing(sqlite3.connect(db, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")


def test_locked_database_is_transient(db: Path) -> None:
    destination = make_destination(db, busy_timeout_ms=50)
    with write_lock(db), pytest.raises(DestinationBusy, match="database is locked"):
        destination.apply_upserts(SCHEMA, batch(1, 2))
    assert destination.apply_upserts(SCHEMA, batch(1, 2)).applied == (guid(1), guid(2))  # and retrying works


def test_locked_database_is_transient_for_every_operation(db: Path) -> None:
    destination = make_destination(db, busy_timeout_ms=50)
    with write_lock(db):
        with pytest.raises(DestinationBusy):
            destination.seen_set(SCHEMA).record([guid(1)])
        with pytest.raises(DestinationBusy):
            destination.apply_deletes(SCHEMA, [Delete(guid(1))], write_delete_log=True)
        with pytest.raises(DestinationBusy):
            destination.ensure_entity_table(simple_schema("lead"))


def page_count(db: Path) -> int:
    (count,) = read_rows(db, "PRAGMA page_count")[0]
    assert isinstance(count, int)
    return count


def test_full_disk_is_transient_and_rolls_the_whole_batch_back(db: Path) -> None:
    full = make_destination(db, clock=Clock(), sqlite_pragmas={"max_page_count": page_count(db) + 2})
    big = [Upsert(guid(n), 1, {"description": "x" * 3000}) for n in range(1, 40)]
    with pytest.raises(DestinationUnavailable, match="full"):
        full.apply_upserts(SCHEMA, big)
    assert dump_table(db, "crm_contact") == []


def test_a_full_disk_during_row_by_row_isolation_is_still_transient(db: Path) -> None:
    reject(db, guid(1))  # the batch fails on this record first, then the disk fills during the row-by-row redo
    full = make_destination(db, sqlite_pragmas={"max_page_count": page_count(db) + 2})
    big = [Upsert(guid(n), 1, {"description": "x" * 3000}) for n in range(1, 40)]
    with pytest.raises(DestinationUnavailable):
        full.apply_upserts(SCHEMA, big)
    assert dump_table(db, "crm_contact") == []


def test_destination_for_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DestinationUnavailable, match="unable to open"):
        make_destination(tmp_path / "missing" / "rep.db").ensure_metadata_tables(delete_log=False)


def test_isolation_reports_failures_for_a_many_row_batch(db: Path) -> None:
    for n in (10, 500, 999):
        execute(
            db,
            f"CREATE TRIGGER r{n} BEFORE INSERT ON crm_contact WHEN NEW.\"Id\" = '{guid(n)}' "
            f"BEGIN SELECT RAISE(ABORT, 'bad {n}'); END",
        )
    destination: SqlDestination = make_destination(db)
    result = destination.apply_upserts(SCHEMA, batch(*range(1, 1001)))
    assert len(result.applied) == 997
    assert [(f.record_id, f.message) for f in result.failures] == [(guid(n), f"bad {n}") for n in (10, 500, 999)]


def test_reads_do_not_wait_for_a_writer(db: Path) -> None:
    destination = make_destination(db, busy_timeout_ms=50)
    destination.apply_upserts(SCHEMA, batch(1))
    with write_lock(db):
        assert destination.has_table("contact")
        assert list(destination.iter_record_ids(SCHEMA)) == [(guid(1),)]
