"""The two guarded writes every path of the engine uses: stream pages, retries and the re-baseline sweep.

- :func:`write_upserts`: loads the tombstones of the ids from the control database and lets the
  destination apply them as the insert guard (DES §7.5), in one destination transaction.
- :func:`write_deletes`: deletes (with DeleteLog rows when the profile says so) in one destination
  transaction, *then* records a tombstone per removed row in the control database. A crash between the
  two replays the delete, which is harmless: deleting an absent row is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dataexport.destination.base import WriteResult
from dataexport.domain.changes import Delete, Upsert
from dataexport.domain.guards import TombstoneGuard
from dataexport.domain.schema import EntitySchema
from dataexport.engine.context import SyncContext
from dataexport.store.values import SyncKey


def write_upserts(
    context: SyncContext,
    key: SyncKey,
    schema: EntitySchema,
    upserts: Sequence[Upsert],
    *,
    read_started_at: datetime,
    rewrite_equal: bool = False,
) -> WriteResult:
    """Write ``upserts`` under the version and tombstone guards; ``read_started_at`` is when their poll began."""
    if not upserts:
        return WriteResult()
    tombstones = context.store.tombstones.load(key, (upsert.record_id for upsert in upserts))
    guard = TombstoneGuard.resolve(tombstones.values(), read_started_at)
    return context.destination.apply_upserts(schema, upserts, guard=guard, rewrite_equal=rewrite_equal)


def write_deletes(context: SyncContext, key: SyncKey, schema: EntitySchema, deletes: Sequence[Delete]) -> WriteResult:
    """Delete rows (DeleteLog per ``WriteDeleteLog``), then remember a tombstone for each removed row."""
    if not deletes:
        return WriteResult()
    result = context.destination.apply_deletes(schema, deletes, write_delete_log=context.profile.write_delete_log)
    if result.removed:
        now = context.clock()
        context.store.tombstones.record(key, [removed.tombstone(now) for removed in result.removed])
    return result
