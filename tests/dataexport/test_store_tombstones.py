"""Tombstones in the control database: merge rules, batched look-ups, retention, and the insert guard."""

from __future__ import annotations

from datetime import timedelta

from test_store_support import START, MovableClock

from dataexport.domain.guards import ABSENT, Tombstone, TombstoneGuard, UpsertDecision, decide_upsert
from dataexport.store import ControlStore, SyncKey, SyncKind
from dataexport.store.transactions import CHUNK_SIZE

pytest_plugins = ["test_store_support"]

KEY = SyncKey("profile-1", "account")
ID_A = "00000000-0000-4000-8000-00000000000a"
ID_B = "00000000-0000-4000-8000-00000000000b"


def test_recorded_tombstones_are_found_by_id(control_store: ControlStore) -> None:
    control_store.tombstones.record(KEY, [Tombstone(ID_A, 42, START), Tombstone(ID_B, None, START)])
    found = control_store.tombstones.load(KEY, [ID_A, ID_B, "00000000-0000-4000-8000-0000000000ff"])
    assert found == {ID_A: Tombstone(ID_A, 42, START), ID_B: Tombstone(ID_B, None, START)}
    assert control_store.tombstones.versions(KEY, [ID_A, ID_B]) == {ID_A: 42, ID_B: None}


def test_tombstones_belong_to_one_subject(control_store: ControlStore) -> None:
    control_store.tombstones.record(KEY, [Tombstone(ID_A, 42, START)])
    assert control_store.tombstones.load(SyncKey("profile-1", "contact"), [ID_A]) == {}
    assert control_store.tombstones.load(SyncKey("profile-2", "account"), [ID_A]) == {}
    assert control_store.tombstones.load(SyncKey("profile-1", "account", SyncKind.RELATIONSHIP), [ID_A]) == {}


def test_merging_keeps_the_highest_version_and_the_latest_time(control_store: ControlStore) -> None:
    t1, t2 = START + timedelta(seconds=10), START + timedelta(seconds=20)
    control_store.tombstones.record(KEY, [Tombstone(ID_A, 50, t1)])
    control_store.tombstones.record(KEY, [Tombstone(ID_A, 40, t2)])  # an older delete replayed later
    assert control_store.tombstones.load(KEY, [ID_A])[ID_A] == Tombstone(ID_A, 50, t2)
    control_store.tombstones.record(KEY, [Tombstone(ID_A, None, START)])  # a versionless delete never lowers it
    assert control_store.tombstones.load(KEY, [ID_A])[ID_A] == Tombstone(ID_A, 50, t2)
    control_store.tombstones.record(KEY, [Tombstone(ID_B, None, t1)])
    control_store.tombstones.record(KEY, [Tombstone(ID_B, 7, START)])  # a known version fills a NULL
    assert control_store.tombstones.load(KEY, [ID_B])[ID_B] == Tombstone(ID_B, 7, t1)


def test_one_batch_may_name_an_id_twice(control_store: ControlStore) -> None:
    control_store.tombstones.record(
        KEY, [Tombstone(ID_A, 5, START), Tombstone(ID_A, 9, START), Tombstone(ID_A, 7, START)]
    )
    assert control_store.tombstones.versions(KEY, [ID_A]) == {ID_A: 9}


def test_batches_larger_than_one_in_list(control_store: ControlStore) -> None:
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(CHUNK_SIZE * 2 + 7)]
    control_store.tombstones.record(KEY, [Tombstone(record_id, n, START) for n, record_id in enumerate(ids)])
    found = control_store.tombstones.versions(KEY, [*ids, *ids[:3]])
    assert len(found) == len(ids)
    assert found[ids[-1]] == len(ids) - 1


def test_retention_purges_tombstones_older_than_30_days(control_store: ControlStore, store_clock: MovableClock) -> None:
    control_store.tombstones.record(KEY, [Tombstone(ID_A, 1, START)])
    control_store.tombstones.record(KEY, [Tombstone(ID_B, 2, START + timedelta(days=2))])
    store_clock.advance(timedelta(days=31).total_seconds())
    assert control_store.purge_expired().tombstones == 1
    assert control_store.tombstones.load(KEY, [ID_A, ID_B]).keys() == {ID_B}
    assert control_store.purge_expired().tombstones == 0


def test_stored_tombstones_block_a_stale_insert_and_allow_a_recreated_record(control_store: ControlStore) -> None:
    delete_recorded = START + timedelta(seconds=5)
    control_store.tombstones.record(
        KEY, [Tombstone(ID_A, 100, delete_recorded), Tombstone(ID_B, None, delete_recorded)]
    )
    guard = TombstoneGuard.resolve(control_store.tombstones.load(KEY, [ID_A, ID_B]).values(), read_started_at=START)
    assert decide_upsert(ABSENT, ID_A, 100, guard) is UpsertDecision.TOMBSTONED
    assert decide_upsert(ABSENT, ID_A, 101, guard) is UpsertDecision.INSERT  # re-created: higher version
    assert decide_upsert(ABSENT, ID_B, 999, guard) is UpsertDecision.TOMBSTONED  # read before the delete


def test_loading_nothing_queries_nothing(control_store: ControlStore) -> None:
    assert control_store.tombstones.load(KEY, []) == {}
    control_store.tombstones.record(KEY, [])
