"""The write guards that make replays harmless and deletes final (DES §7.3, §7.5).

- **Version guard**: an upsert updates an existing row only if its version is greater than the stored one
  (a stored NULL counts as older); an equal version is a no-op unless a re-baseline rewrites equal rows.
- **Tombstone guard**: tombstones live in the control database (DES §1.6, §7.5), never in the destination.
  Before a write batch the engine loads the tombstones of the batch's ids and resolves them into a
  :class:`TombstoneGuard`, which the destination applies to *inserts* (rows absent from the table): an insert
  is blocked when the tombstone's version is >= the upsert's, or, for a tombstone without a version, when
  the row was read by a poll that started before the delete was recorded.
- **Delete guard**: a delete that carries a version does not remove a row stored with a newer version
  (the record was re-created after that delete). Web API deletions carry no version and always apply.

Each delete reports the version it removed, so the engine can store the tombstone with
:func:`tombstone_for`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

TOMBSTONE_RETENTION = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Tombstone:
    """A delete remembered by the control database: the last known version of the deleted record."""

    record_id: str
    version: int | None
    recorded_at: datetime


def _max_known(*versions: int | None) -> int | None:
    known = [version for version in versions if version is not None]
    return max(known) if known else None


def tombstone_for(record_id: str, delete_version: int | None, removed_version: int | None, now: datetime) -> Tombstone:
    """The tombstone of a delete: the higher of the delete's own version and the removed row's version."""
    return Tombstone(record_id, _max_known(delete_version, removed_version), now)


def merge_tombstones(existing: Tombstone | None, new: Tombstone) -> Tombstone:
    """Combine a stored tombstone with a new one for the same id: highest version, latest time."""
    if existing is None:
        return new
    version = _max_known(existing.version, new.version)
    return Tombstone(new.record_id, version, max(existing.recorded_at, new.recorded_at))


def is_expired(tombstone: Tombstone, now: datetime, retention: timedelta = TOMBSTONE_RETENTION) -> bool:
    """Whether the tombstone is older than the retention (30 days) and may be purged."""
    return now - tombstone.recorded_at > retention


@dataclass(frozen=True, slots=True)
class TombstoneGuard:
    """Tombstones of one write batch, resolved for the poll that read the batch.

    Attributes:
        floors: record id -> tombstone version; an insert needs a greater version.
        blocked: record ids whose insert is refused whatever its version (versionless tombstone recorded
            after the poll started).
    """

    floors: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    blocked: frozenset[str] = frozenset()

    @classmethod
    def resolve(cls, tombstones: Iterable[Tombstone], read_started_at: datetime) -> TombstoneGuard:
        """Resolve ``tombstones`` for rows read by a poll that started at ``read_started_at``."""
        floors: dict[str, int] = {}
        blocked: set[str] = set()
        for tombstone in tombstones:
            if tombstone.version is not None:
                floors[tombstone.record_id] = tombstone.version
            elif read_started_at <= tombstone.recorded_at:
                blocked.add(tombstone.record_id)
        return cls(MappingProxyType(floors), frozenset(blocked))

    def blocks_insert(self, record_id: str, version: int) -> bool:
        """Whether inserting ``record_id`` at ``version`` would resurrect a deleted record."""
        if record_id in self.blocked:
            return True
        floor = self.floors.get(record_id)
        return floor is not None and version <= floor


NO_TOMBSTONES = TombstoneGuard()


class UpsertDecision(StrEnum):
    """What a guarded upsert does to one row."""

    INSERT = "insert"
    UPDATE = "update"
    STALE = "stale"  # version guard: stored version is newer or equal
    TOMBSTONED = "tombstoned"  # tombstone guard: the record was deleted at or after this version


@dataclass(frozen=True, slots=True)
class StoredRow:
    """What the destination holds for an id before the write: whether the row exists, and its version."""

    exists: bool
    version: int | None = None


ABSENT = StoredRow(exists=False)


def decide_upsert(
    stored: StoredRow, record_id: str, version: int, guard: TombstoneGuard, *, rewrite_equal: bool = False
) -> UpsertDecision:
    """Decide one upsert under the version and tombstone guards."""
    if not stored.exists:
        if guard.blocks_insert(record_id, version):
            return UpsertDecision.TOMBSTONED
        return UpsertDecision.INSERT
    if stored.version is None or version > stored.version or (rewrite_equal and version == stored.version):
        return UpsertDecision.UPDATE
    return UpsertDecision.STALE


def should_delete(stored: StoredRow, delete_version: int | None) -> bool:
    """Whether a delete applies: always for absent rows (still logged) and versionless deletes."""
    if not stored.exists or delete_version is None or stored.version is None:
        return True
    return stored.version <= delete_version
