"""``resyncfailed`` (DES §8.7): start a run and count what the steps' retries settle.

A run re-attempts every record of the profile's failed sets and every ``Failed`` subject. Starting it only
writes the control database (see :meth:`dataexport.store.base.ResyncRuns.start`); the work happens in the
subjects' steps, whose record retries (:mod:`.failures`) treat the run's entries by the DES §8.2 rules:
re-read by id (gone: the delete path), write, ``RetryCount`` retries ``RetryInterval`` seconds apart. A
record that syncs leaves its failed set and counts ``Succeeded``; one given up again keeps its place in the
failed set, gets its line under ``forcerefreshfailurelog/`` and counts ``Failed``.

The run follows each record until its entry leaves the queue: a newer change of the record from the
stream that syncs settles the entry and counts ``Succeeded`` (the record is in sync, which is what the run
was for); one that fails takes the entry's place with a fresh attempt count and stays in the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from dataexport.domain.profile import ExportProfile, ProfileState
from dataexport.engine.context import Clock
from dataexport.errors import InvalidTransition
from dataexport.store.base import Store
from dataexport.store.values import ResyncRun, ResyncState, SyncKey


class ResyncNotActive(InvalidTransition):
    """``resyncfailed`` needs an ``Active`` profile (DES §8.7, 409 ``NotActive``): activate it first."""


def start_resync(store: Store, profile: ExportProfile, now: datetime) -> ResyncRun:
    """Start a ``resyncfailed`` run of ``profile`` at ``now``; the profile's steps then do the work.

    Raises:
        ResyncNotActive: the profile is not ``Active``; nothing was written.
        ResyncInProgress: another run of the profile is still running; nothing was written.
    """
    if profile.state is not ProfileState.ACTIVE:
        raise ResyncNotActive(
            f"Profile is {profile.state.value}, not Active: activate it, then call resyncfailed again",
            profile_id=profile.id,
        )
    return store.resyncs.start(profile.id, now)


def settle_latest_run(store: Store, profile_id: str, now: datetime) -> None:
    """Complete the profile's running run if what it still waits for cannot settle (its subject failed)."""
    run = store.resyncs.latest(profile_id)
    if run is not None and run.state is ResyncState.RUNNING:
        store.resyncs.complete_if_done(run.run_id, now)


class RunTally:
    """Counts the outcomes of run entries during one step and completes the runs they belonged to.

    Each outcome is saved at once (one increment); :meth:`finish` completes the runs that are done.
    """

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._touched: set[str] = set()

    def marks(self, key: SyncKey, record_ids: Iterable[str]) -> dict[str, str]:
        """The run id of each of ``record_ids`` whose queue entry belongs to a run."""
        ids = list(record_ids)
        return self._store.resyncs.queued_runs(key, ids) if ids else {}

    def count(self, run_id: str | None, *, succeeded: int = 0, failed: int = 0) -> None:
        """Add one entry's outcome to its run (nothing when the entry belonged to none)."""
        if run_id is None or not (succeeded or failed):
            return
        self._store.resyncs.record_outcome(run_id, succeeded, failed)
        self._touched.add(run_id)

    def count_dequeued(self, key: SyncKey, marked: Mapping[str, str], *, succeeded: bool) -> None:
        """Count the ``marked`` entries (id -> run id) that have left the queue since they were looked up."""
        if not marked:
            return
        remaining = self._store.resyncs.queued_runs(key, marked)
        for record_id, run_id in marked.items():
            if remaining.get(record_id) != run_id:
                self.count(run_id, succeeded=int(succeeded), failed=int(not succeeded))

    def finish(self) -> None:
        """Complete the touched runs with no entry left that can settle."""
        for run_id in sorted(self._touched):
            self._store.resyncs.complete_if_done(run_id, self._clock())
        self._touched.clear()
