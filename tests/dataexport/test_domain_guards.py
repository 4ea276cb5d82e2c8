"""Version, tombstone and delete guards (DES §7.3, §7.5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dataexport.domain.guards import (
    ABSENT,
    NO_TOMBSTONES,
    StoredRow,
    Tombstone,
    TombstoneGuard,
    UpsertDecision,
    decide_upsert,
    is_expired,
    merge_tombstones,
    should_delete,
    tombstone_for,
)

T0 = datetime(2025, 3, 7, 9, 0, tzinfo=UTC)
D = UpsertDecision


def test_version_guard_on_existing_rows() -> None:
    stored = StoredRow(True, 10)
    assert decide_upsert(stored, "a", 11, NO_TOMBSTONES) is D.UPDATE
    assert decide_upsert(stored, "a", 10, NO_TOMBSTONES) is D.STALE
    assert decide_upsert(stored, "a", 9, NO_TOMBSTONES) is D.STALE
    assert decide_upsert(stored, "a", 10, NO_TOMBSTONES, rewrite_equal=True) is D.UPDATE
    assert decide_upsert(stored, "a", 9, NO_TOMBSTONES, rewrite_equal=True) is D.STALE
    assert decide_upsert(StoredRow(True, None), "a", 1, NO_TOMBSTONES) is D.UPDATE  # NULL counts as older


def test_tombstone_guard_blocks_inserts_at_or_below_the_tombstone() -> None:
    guard = TombstoneGuard.resolve([Tombstone("a", 10, T0)], read_started_at=T0)
    assert decide_upsert(ABSENT, "a", 10, guard) is D.TOMBSTONED
    assert decide_upsert(ABSENT, "a", 9, guard) is D.TOMBSTONED
    assert decide_upsert(ABSENT, "a", 11, guard) is D.INSERT  # re-created record
    assert decide_upsert(ABSENT, "b", 1, guard) is D.INSERT


def test_tombstone_guard_does_not_apply_to_existing_rows() -> None:
    guard = TombstoneGuard.resolve([Tombstone("a", 10, T0)], read_started_at=T0)
    assert decide_upsert(StoredRow(True, 12), "a", 13, guard) is D.UPDATE


def test_versionless_tombstone_blocks_reads_that_started_before_it() -> None:
    tombstone = Tombstone("a", None, T0)
    before = TombstoneGuard.resolve([tombstone], read_started_at=T0 - timedelta(seconds=1))
    after = TombstoneGuard.resolve([tombstone], read_started_at=T0 + timedelta(seconds=1))
    assert before.blocks_insert("a", 10**12)
    assert not after.blocks_insert("a", 1)


def test_tombstone_keeps_the_highest_known_version() -> None:
    assert tombstone_for("a", None, 7, T0) == Tombstone("a", 7, T0)
    assert tombstone_for("a", 9, 7, T0) == Tombstone("a", 9, T0)
    assert tombstone_for("a", None, None, T0) == Tombstone("a", None, T0)
    later = T0 + timedelta(minutes=1)
    assert merge_tombstones(Tombstone("a", 9, T0), Tombstone("a", None, later)) == Tombstone("a", 9, later)
    assert merge_tombstones(Tombstone("a", 9, later), Tombstone("a", 4, T0)) == Tombstone("a", 9, later)
    assert merge_tombstones(None, Tombstone("a", 4, T0)) == Tombstone("a", 4, T0)


def test_tombstones_expire_after_thirty_days() -> None:
    tombstone = Tombstone("a", 1, T0)
    assert not is_expired(tombstone, T0 + timedelta(days=30))
    assert is_expired(tombstone, T0 + timedelta(days=30, seconds=1))


def test_delete_guard() -> None:
    assert should_delete(ABSENT, None)  # absent: no-op, still logged
    assert should_delete(StoredRow(True, 5), None)  # Web API deletes carry no version
    assert should_delete(StoredRow(True, 5), 6)
    assert not should_delete(StoredRow(True, 7), 6)  # re-created after this delete
    assert should_delete(StoredRow(True, None), 6)
