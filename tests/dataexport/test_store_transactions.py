"""Units of work: commit or roll back as a whole, and database errors translated into the product's errors."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from test_store_support import START

from dataexport.domain.guards import Tombstone
from dataexport.errors import TerminalError, TransientError
from dataexport.store import (
    ControlDatabaseBusy,
    ControlDatabaseFault,
    ControlStore,
    LeaseLost,
    StateConflict,
    SyncKey,
)
from dataexport.store.models import SeenIdRow
from dataexport.store.transactions import chunked, is_transient

pytest_plugins = ["test_store_support"]

KEY = SyncKey("p", "account")


class Boom(Exception):
    pass


def test_a_unit_of_work_that_raises_commits_nothing(control_store: ControlStore) -> None:
    with pytest.raises(Boom), control_store.database.write() as session:
        session.add(SeenIdRow(profile_id="p", kind=KEY.kind, entity="account", record_id="a"))
        session.flush()
        raise Boom
    assert control_store.seen.count(KEY) == 0


def test_naive_datetimes_are_refused_as_a_fault(control_store: ControlStore) -> None:
    with pytest.raises(ControlDatabaseFault, match="timezone-aware"):
        control_store.tombstones.record(KEY, [Tombstone("a", 1, datetime(2025, 1, 1))])


def test_a_missing_table_is_a_fault_not_a_retry(control_store: ControlStore) -> None:
    with control_store.database.engine.begin() as connection:
        connection.execute(text("DROP TABLE seen_ids"))
    with pytest.raises(ControlDatabaseFault) as raised:
        control_store.seen.count(KEY)
    assert isinstance(raised.value, TerminalError)


def test_times_come_back_as_aware_utc(control_store: ControlStore) -> None:
    control_store.tombstones.record(KEY, [Tombstone("a", 1, START)])
    recorded = control_store.tombstones.load(KEY, ["a"])["a"].recorded_at
    assert recorded == START and recorded.utcoffset() is not None and recorded.tzinfo is not None


@pytest.mark.parametrize(
    ("message", "dialect", "transient"),
    [
        ("database is locked", "sqlite", True),
        ("no such table: seen_ids", "sqlite", False),
        ("deadlock detected", "postgresql", True),
    ],
)
def test_operational_errors_are_classified_per_dialect(message: str, dialect: str, transient: bool) -> None:
    error = OperationalError("SELECT 1", {}, Exception(message))
    assert is_transient(error, dialect) is transient


def test_the_store_errors_belong_to_the_product_families() -> None:
    assert all(issubclass(cls, TransientError) for cls in (ControlDatabaseBusy, LeaseLost, StateConflict))
    assert issubclass(ControlDatabaseFault, TerminalError)


def test_chunked_keeps_order_and_bounds() -> None:
    assert list(chunked(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(chunked([], 2)) == []
