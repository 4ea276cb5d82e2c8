"""Tombstones: what was deleted, at which version, so no stale upsert brings it back (DES §7.5).

They live in the control database, never in the destination. Storing merges with what is stored (highest
known version, latest time) in the same statement, so recording a delete twice, or out of order, is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import case, delete, select

from dataexport.domain.guards import Tombstone, merge_tombstones
from dataexport.store.models import TombstoneRow
from dataexport.store.transactions import Database, chunked, rowcount
from dataexport.store.values import SyncKey


class SqlTombstones:
    """:class:`~dataexport.store.base.Tombstones` over the control database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def record(self, key: SyncKey, tombstones: Sequence[Tombstone]) -> None:
        """See :meth:`dataexport.store.base.Tombstones.record`."""
        merged: dict[str, Tombstone] = {}
        for tombstone in tombstones:  # one row per id: ON CONFLICT may not touch a row twice in a statement
            merged[tombstone.record_id] = merge_tombstones(merged.get(tombstone.record_id), tombstone)
        with self._db.write() as session:
            for chunk in chunked(merged.values()):
                insert = self._db.insert(TombstoneRow).values(
                    [
                        {
                            "profile_id": key.profile_id,
                            "kind": key.kind,
                            "entity": key.name,
                            "record_id": tombstone.record_id,
                            "version": tombstone.version,
                            "recorded_at": tombstone.recorded_at,
                        }
                        for tombstone in chunk
                    ]
                )
                new, old = insert.excluded, TombstoneRow
                version = case(
                    (new.version.is_(None), old.version),
                    (old.version.is_(None), new.version),
                    (new.version > old.version, new.version),
                    else_=old.version,
                )
                recorded_at = case((new.recorded_at > old.recorded_at, new.recorded_at), else_=old.recorded_at)
                session.execute(
                    insert.on_conflict_do_update(
                        index_elements=[old.profile_id, old.kind, old.entity, old.record_id],
                        set_={"version": version, "recorded_at": recorded_at},
                    )
                )

    def load(self, key: SyncKey, record_ids: Iterable[str]) -> dict[str, Tombstone]:
        """See :meth:`dataexport.store.base.Tombstones.load`."""
        found: dict[str, Tombstone] = {}
        with self._db.read() as session:
            for chunk in chunked(dict.fromkeys(record_ids)):
                rows = session.scalars(
                    select(TombstoneRow).where(TombstoneRow.is_key(key), TombstoneRow.record_id.in_(chunk))
                )
                found.update({row.record_id: Tombstone(row.record_id, row.version, row.recorded_at) for row in rows})
        return found

    def versions(self, key: SyncKey, record_ids: Iterable[str]) -> dict[str, int | None]:
        """See :meth:`dataexport.store.base.Tombstones.versions`."""
        return {record_id: tombstone.version for record_id, tombstone in self.load(key, record_ids).items()}

    def purge(self, before: datetime) -> int:
        """See :meth:`dataexport.store.base.Tombstones.purge`."""
        with self._db.write() as session:
            result = session.execute(delete(TombstoneRow).where(TombstoneRow.recorded_at < before))
            return rowcount(result)
