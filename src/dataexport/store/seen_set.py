"""Re-baseline seen-sets kept in the control database (DES §7.6, the DataOnly option).

Every id a re-baseline reads is recorded before the link that follows its page is saved, so after a crash
the set is intact and the read resumes from the saved link. :meth:`SqlSyncStates.complete_initial_sync
<dataexport.store.sync_state.SqlSyncStates.complete_initial_sync>` drops the set in the transaction that
saves the new delta link; :meth:`~dataexport.store.sync_state.SqlSyncStates.reset_for_rebaseline` empties it
when a re-baseline starts over.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, func, select

from dataexport.store.models import SeenIdRow
from dataexport.store.transactions import Database, chunked
from dataexport.store.values import SyncKey


class SqlSeenSets:
    """:class:`~dataexport.store.base.SeenSets` over the control database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def record(self, key: SyncKey, record_ids: Iterable[str]) -> None:
        """See :meth:`dataexport.store.base.SeenSets.record`."""
        with self._db.write() as session:
            for chunk in chunked(dict.fromkeys(record_ids)):
                rows = [
                    {"profile_id": key.profile_id, "kind": key.kind, "entity": key.name, "record_id": record_id}
                    for record_id in chunk
                ]
                session.execute(self._db.insert(SeenIdRow).values(rows).on_conflict_do_nothing())

    def contains(self, key: SyncKey, record_ids: Iterable[str]) -> set[str]:
        """See :meth:`dataexport.store.base.SeenSets.contains`."""
        seen: set[str] = set()
        with self._db.read() as session:
            for chunk in chunked(dict.fromkeys(record_ids)):
                query = select(SeenIdRow.record_id).where(SeenIdRow.is_key(key), SeenIdRow.record_id.in_(chunk))
                seen.update(session.scalars(query))
        return seen

    def count(self, key: SyncKey) -> int:
        """See :meth:`dataexport.store.base.SeenSets.count`."""
        with self._db.read() as session:
            return session.scalar(select(func.count()).select_from(SeenIdRow).where(SeenIdRow.is_key(key))) or 0

    def clear(self, key: SyncKey) -> None:
        """See :meth:`dataexport.store.base.SeenSets.clear`."""
        with self._db.write() as session:
            session.execute(delete(SeenIdRow).where(SeenIdRow.is_key(key)))
