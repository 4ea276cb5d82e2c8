"""The re-baseline seen-set and delete sweep (DES §7.6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_destination_support import Clock, guid, make_destination, read_rows, simple_schema

from dataexport.destination.base import RemovedRow
from dataexport.destination.sql.destination import SqlDestination
from dataexport.domain.changes import Upsert

SCHEMA = simple_schema()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "rep.db"


@pytest.fixture
def destination(db: Path) -> SqlDestination:
    destination = make_destination(db, clock=Clock())
    destination.ensure_entity_table(SCHEMA)
    destination.ensure_metadata_tables(delete_log=True)
    destination.apply_upserts(SCHEMA, [Upsert(guid(n), n, {"fullname": f"c{n}"}) for n in range(1, 8)])
    return destination


def ids(db: Path) -> list[str]:
    return [str(row[0]) for row in read_rows(db, 'SELECT "Id" FROM crm_contact ORDER BY 1')]


def tables(db: Path) -> set[str]:
    return {str(row[0]) for row in read_rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_sweep_deletes_unseen_ids_except_failed_ones(db: Path, destination: SqlDestination) -> None:
    seen = destination.seen_set(SCHEMA)
    seen.clear()
    seen.record([guid(1), guid(2)])
    seen.record([guid(2), guid(4), guid(99)])  # idempotent; ids not in the table are harmless
    result = seen.sweep(failed_ids={guid(5)}, write_delete_log=True)
    assert result.removed == (RemovedRow(guid(3), 3), RemovedRow(guid(6), 6), RemovedRow(guid(7), 7))
    assert ids(db) == [guid(1), guid(2), guid(4), guid(5)]
    log = read_rows(db, "SELECT RecordId, VersionNumber FROM crm_DeleteLog ORDER BY Id")
    assert log == [(guid(3), 3), (guid(6), 6), (guid(7), 7)]
    assert "crm_contactSeenIds" in tables(db)
    seen.drop()
    seen.drop()
    assert "crm_contactSeenIds" not in tables(db)


def test_seen_set_survives_a_restart(db: Path, destination: SqlDestination) -> None:
    destination.seen_set(SCHEMA).record([guid(n) for n in range(1, 7)])
    restarted = make_destination(db)
    assert restarted.seen_set(SCHEMA).sweep(failed_ids=(), write_delete_log=False).applied == (guid(7),)
    assert ids(db) == [guid(n) for n in range(1, 7)]


def test_clear_starts_an_empty_set(db: Path, destination: SqlDestination) -> None:
    seen = destination.seen_set(SCHEMA)
    seen.record([guid(n) for n in range(1, 8)])
    seen.clear()
    seen.record([guid(1)])
    assert seen.sweep(failed_ids=[guid(2)], write_delete_log=False).applied == tuple(guid(n) for n in range(3, 8))


def test_a_sweep_without_any_recorded_id_deletes_everything_not_failed(db: Path, destination: SqlDestination) -> None:
    result = destination.seen_set(SCHEMA).sweep(failed_ids={guid(1)}, write_delete_log=False)
    assert len(result.applied) == 6 and ids(db) == [guid(1)]


def test_a_large_sweep_runs_in_batches(db: Path, destination: SqlDestination) -> None:
    many = [Upsert(f"10000000-0000-4000-8000-{n:012d}", 1) for n in range(2500)]
    destination.apply_upserts(SCHEMA, many)
    seen = destination.seen_set(SCHEMA)
    seen.record([guid(n) for n in range(1, 8)])
    assert len(seen.sweep(failed_ids=(), write_delete_log=True).removed) == 2500
    assert len(ids(db)) == 7
    assert read_rows(db, "SELECT COUNT(*) FROM crm_DeleteLog") == [(2500,)]
