"""Re-baselines and the delete sweep (DES §7.6, webapi §8 R6, R11).

A re-baseline is an initial read whose ``StateReason`` names its cause. During it every id read is recorded
in the subject's seen-set in the control database before the link that follows its page is saved, so the
set survives a crash. After the last page, the destination rows whose id is neither in the seen-set nor in
the failed set are deleted (DeleteLog and tombstones as for any delete); then the new delta link is saved,
which drops the seen-set in the same transaction. No timestamp takes part in deciding a delete.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from dataexport.domain.changes import Delete
from dataexport.domain.schema import EntitySchema
from dataexport.domain.sync import EntityPhase
from dataexport.engine.context import SyncContext
from dataexport.engine.failures import RecordFailures
from dataexport.engine.writes import write_deletes
from dataexport.errors import InvalidTransition
from dataexport.store.base import Store
from dataexport.store.errors import StateConflict
from dataexport.store.values import Counters, EntityState, Lease, SyncKey

_PREFIX = "Rebaseline: "
_SWEEP_CHUNK = 1000


class RebaselineCause(StrEnum):
    """Why a subject is read again in full; the value is its ``StateReason``."""

    TOKEN_EXPIRED = _PREFIX + "token expired"
    LINK_REJECTED = _PREFIX + "resume link rejected"
    TABLE_NOT_EMPTY = _PREFIX + "table already held rows"
    REQUESTED = _PREFIX + "requested"
    UNTRACKED_RELOAD = _PREFIX + "untracked table reload"
    TRACKING_ENABLED = _PREFIX + "change tracking enabled"

    @property
    def rewrites_equal(self) -> bool:
        """Whether rows with an equal version are rewritten (DES §6.9, §7.3).

        Only in a re-baseline an administrator asked for (to fill calculated, rollup or formula columns);
        in every other one an equal version stays a no-op, so a re-baseline replayed after a crash changes
        nothing, not even ``SinkModifiedOn``.
        """
        return self is RebaselineCause.REQUESTED


def rebaseline_cause(state: EntityState) -> RebaselineCause | None:
    """The cause of the initial read in progress, or None for a first initial sync."""
    try:
        return RebaselineCause(state.state_reason) if state.state_reason else None
    except ValueError:
        return None


def request_rebaseline(store: Store, key: SyncKey) -> EntityState:
    """An administrator's re-baseline (DES §6.9, §7.6): the next step reads the subject in full, rewriting rows
    whose version is unchanged, then sweeps. For the API; the subject's running step, if any, loses its
    revision and stops at its next checkpoint.

    Raises:
        InvalidTransition: the subject is ``NotStarted`` or ``Removed``.
        StateConflict: the state changed meanwhile or does not exist; call again.
    """
    state = store.states.load(key)
    if state is None:
        raise StateConflict("No sync state to re-baseline", entity=key.name, profile_id=key.profile_id)
    if state.phase in (EntityPhase.NOT_STARTED, EntityPhase.REMOVED):
        message = f"Phase {state.phase.value} has nothing to re-baseline"
        raise InvalidTransition(message, entity=key.name, profile_id=key.profile_id)
    return store.states.reset_for_rebaseline(
        key, reason=RebaselineCause.REQUESTED.value, expected_revision=state.revision
    )


def start_rebaseline(context: SyncContext, state: EntityState, cause: RebaselineCause, lease: Lease) -> EntityState:
    """Enter ``InitialSync`` for ``cause`` with no link and an empty seen-set (one store transaction)."""
    return context.store.states.reset_for_rebaseline(
        state.key, reason=cause.value, expected_revision=state.revision, lease=lease
    )


def table_has_rows(context: SyncContext, schema: EntitySchema) -> bool:
    """Whether the subject's table holds any row (an initial read into it must then sweep)."""
    first = next(iter(context.destination.iter_record_ids(schema, chunk_size=1)), ())
    return bool(first)


def sweep(
    context: SyncContext,
    key: SyncKey,
    schema: EntitySchema,
    failures: RecordFailures,
    keep_alive: Callable[[], object],
) -> Counters:
    """Delete the rows the re-baseline did not see, except failed records (DES §7.6 step 3).

    Runs in chunks of ids, each delete batch its own transaction; re-running after a crash finishes it.
    ``keep_alive`` is called once per chunk (it renews the step's lease).
    """
    store = context.store
    failed = store.failed.failed_ids(key)
    counters = Counters()
    for chunk in context.destination.iter_record_ids(schema, chunk_size=_SWEEP_CHUNK):
        keep_alive()
        seen = store.seen.contains(key, chunk)
        doomed = [Delete(record_id) for record_id in chunk if record_id not in seen and record_id not in failed]
        if not doomed:
            continue
        result = write_deletes(context, key, schema, doomed)
        failures.settle_deletes(result, read_at=context.clock())
        removed = len(result.applied)
        counters += Counters(received=len(doomed), synced=result.synced_count, deleted=removed)
        counters += Counters(failed=len(result.failures))
    return counters
