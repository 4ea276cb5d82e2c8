"""The ``Store`` Protocols the engine and the API use, with their contracts.

Guarantees shared by every method:

- Each method is **one transaction**: it commits everything it says or nothing.
- Times are timezone-aware UTC; "now" is the store's injected clock, so leases, retries and retention follow
  the time tests set.
- Database errors surface as :class:`~dataexport.store.errors.ControlDatabaseBusy` (transient: nothing
  committed, call again) or :class:`~dataexport.store.errors.ControlDatabaseFault` (terminal); guarded
  writes also raise :class:`~dataexport.store.errors.LeaseLost` and :class:`~dataexport.store.errors.StateConflict`.
- Batched methods take any number of ids and split them into bounded ``IN`` lists themselves.

Two implementations run the same code: SQLite (default) and PostgreSQL, both tested by one suite.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from dataexport.domain.failures import FailureEntry
from dataexport.domain.guards import Tombstone
from dataexport.domain.sync import EntityPhase
from dataexport.store.values import (
    Cleared,
    Counters,
    EntityState,
    FailedRecord,
    FailureLog,
    Lease,
    LedgerEntry,
    LinkKind,
    Purged,
    QueuedRecord,
    ResyncRun,
    RetryItem,
    SyncKey,
    SyncKind,
    ThrottleLimits,
)


class SyncStates(Protocol):
    """Per-subject sync state (DES §1.4, §4.4, §7.4). Guarded writes take ``expected_revision`` and bump it."""

    def ensure(self, key: SyncKey) -> EntityState:
        """The subject's state, created as ``NotStarted`` (revision 1) if missing. Idempotent."""
        ...

    def load(self, key: SyncKey) -> EntityState | None:
        """The subject's state with ``failed_records`` counted, or None if it was never created."""
        ...

    def list(self, profile_id: str) -> list[EntityState]:
        """Every subject of the profile (``Removed`` ones included), ordered by kind then name."""
        ...

    def save_page_checkpoint(
        self,
        lease: Lease,
        *,
        link: str,
        link_kind: LinkKind,
        counters: Counters,
        expected_revision: int,
        poll_started_at: datetime | None = None,
    ) -> EntityState:
        """Save the link that follows a committed page and add the page's counters, atomically (DES §7.4).

        A ``DELTA`` link ends a delta poll: it also becomes ``last_delta_link``, and ``poll_started_at``
        (required then) and now become the poll's start and ``LastSynchronizedOn``. ``last_error`` is cleared.

        Raises:
            LeaseLost: ``lease`` is expired or was taken over; nothing was written.
            StateConflict: the revision is not ``expected_revision``; nothing was written.
            InvalidTransition: the phase is not ``InitialSync``/``Delta``, or a ``DELTA`` link is saved
                in ``InitialSync`` (use :meth:`complete_initial_sync`).
        """
        ...

    def complete_initial_sync(
        self,
        lease: Lease,
        *,
        delta_link: str,
        counters: Counters,
        expected_revision: int,
        poll_started_at: datetime,
    ) -> EntityState:
        """End a baseline or re-baseline: save the delta link, move to ``Delta``, drop the seen-set, at once.

        Raises:
            LeaseLost, StateConflict: as :meth:`save_page_checkpoint`.
            InvalidTransition: the phase is not ``InitialSync``.
        """
        ...

    def set_phase(
        self,
        key: SyncKey,
        phase: EntityPhase,
        *,
        expected_revision: int,
        reason: str | None = None,
        error: str | None = None,
        lease: Lease | None = None,
    ) -> EntityState:
        """Move to ``phase`` with ``reason`` (and ``error`` as ``last_error`` when given).

        Entering ``InitialSync`` stamps its start; ``Removed`` discards the links; leaving ``Removed``
        resets the counters (they count since the subject was last added). Staying in a phase is allowed.

        Raises:
            InvalidTransition: the domain rules forbid the move; nothing was written.
            StateConflict: stale ``expected_revision`` or no state; LeaseLost: ``lease`` given and lost.
        """
        ...

    def reset_for_rebaseline(
        self,
        key: SyncKey,
        *,
        reason: str,
        expected_revision: int,
        reset_counters: bool = False,
        lease: Lease | None = None,
    ) -> EntityState:
        """Start a (re-)baseline from the beginning: ``InitialSync``, links cleared, seen-set emptied, at once.

        Raises:
            InvalidTransition, StateConflict, LeaseLost: as :meth:`set_phase`.
        """
        ...

    def record_error(self, key: SyncKey, message: str | None) -> None:
        """Set (or clear, with None) ``last_error``; unguarded, revision unchanged. No-op without a state."""
        ...

    def set_page_size(self, key: SyncKey, page_size: int | None) -> None:
        """Persist the table's ``odata.maxpagesize`` (DES §7.7); unguarded, revision unchanged."""
        ...

    def set_metadata_stamp(self, key: SyncKey, stamp: str | None) -> None:
        """Persist the stamp of the metadata last applied; unguarded, revision unchanged."""
        ...


class Leases(Protocol):
    """One step per subject at a time, across threads, processes and machines (DESIGN §4 step 1, §9)."""

    def acquire(self, key: SyncKey, owner: str, ttl: timedelta) -> Lease | None:
        """Take the lease if it is free, expired, or already held by ``owner``; None if another owner holds it.

        One conditional statement, so concurrent callers cannot both win. Every acquisition draws a new
        token: Lease objects from earlier acquisitions (even by the same owner) stop being valid.
        """
        ...

    def renew(self, lease: Lease, ttl: timedelta) -> Lease:
        """Extend an unexpired lease to now + ``ttl``; the token is kept.

        Raises:
            LeaseLost: the lease expired or was taken over.
        """
        ...

    def release(self, lease: Lease) -> None:
        """Give the lease up, if still held with this token. Idempotent."""
        ...

    def current(self, key: SyncKey) -> Lease | None:
        """The unexpired lease on ``key``, if any."""
        ...


class Tombstones(Protocol):
    """Deletes remembered in the control database so that no stale upsert resurrects a row (DES §7.5)."""

    def record(self, key: SyncKey, tombstones: Sequence[Tombstone]) -> None:
        """Store tombstones, merged with stored ones: highest known version, latest time. Idempotent."""
        ...

    def load(self, key: SyncKey, record_ids: Iterable[str]) -> dict[str, Tombstone]:
        """The tombstones among ``record_ids``, by id (ids without one are absent)."""
        ...

    def versions(self, key: SyncKey, record_ids: Iterable[str]) -> dict[str, int | None]:
        """As :meth:`load`, reduced to each tombstone's version (None: deleted with an unknown version)."""
        ...

    def purge(self, before: datetime) -> int:
        """Delete tombstones recorded before ``before`` (30-day retention); returns how many."""
        ...


class RetryQueue(Protocol):
    """The durable retry queue of failed records, and the move to the failed set and ledger (DES §8.2)."""

    def enqueue(self, key: SyncKey, items: Sequence[RetryItem]) -> int:
        """Queue failed records with ``attempts = 1``; returns how many entries were created or replaced.

        A newer change of a queued id replaces its entry (fresh count); the same change again (a replayed
        page) or an older one leaves it. A change already given up at the same version is not queued again;
        otherwise queuing takes the id out of the failed set. Later items of one id win.
        """
        ...

    def due(self, key: SyncKey, *, limit: int = 100) -> list[QueuedRecord]:
        """Entries whose next attempt is due now, oldest due first (ties by record id)."""
        ...

    def next_due_at(self, key: SyncKey) -> datetime | None:
        """When the subject's earliest entry is due, or None if its queue is empty."""
        ...

    def mark_attempt(
        self, key: SyncKey, record_id: str, *, error: str, next_attempt_at: datetime
    ) -> QueuedRecord | None:
        """Count one more failed attempt and reschedule; None if the entry is gone (cleared meanwhile)."""
        ...

    def give_up(
        self, key: SyncKey, record_id: str, *, error: str, attempts: int, log: FailureLog = FailureLog.FAILURE
    ) -> LedgerEntry | None:
        """Give a queued record up in one transaction: dequeue, add to the failed set, append a ledger entry.

        Returns the ledger entry (for the failure-log line), or None if the record was not queued.
        """
        ...

    def give_up_at_once(
        self, key: SyncKey, item: RetryItem, *, attempts: int = 1, log: FailureLog = FailureLog.FAILURE
    ) -> LedgerEntry:
        """As :meth:`give_up` for a record that was never queued (``RetryCount = 0``); a queued entry is dropped."""
        ...

    def clear_succeeded(self, key: SyncKey, versions: Mapping[str, int | None]) -> Cleared:
        """Records written successfully at these versions (None: a delete): drop the queue entries and
        failed-set members they supersede (same or older version, or any when the version is None)."""
        ...

    def queued_count(self, key: SyncKey) -> int:
        """Entries waiting in the subject's queue."""
        ...


class FailedSets(Protocol):
    """Records given up whose latest attempt failed (DES §8.2 step 5); ``FailedRecords`` is their count."""

    def failed_ids(self, key: SyncKey) -> set[str]:
        """Ids of the subject's failed set (excluded from a re-baseline's delete sweep, DES §7.6)."""
        ...

    def count(self, key: SyncKey) -> int:
        """Size of the subject's failed set."""
        ...

    def list(self, profile_id: str) -> list[FailedRecord]:
        """Every failed record of the profile (for ``resyncfailed``), by kind, entity and id."""
        ...


class Ledger(Protocol):
    """The append-only structured failure ledger (DES §1.5, §8.3, §8.5); entries are never edited."""

    def append(
        self,
        profile_id: str,
        entries: Sequence[FailureEntry],
        *,
        kind: SyncKind = SyncKind.ENTITY,
        log: FailureLog = FailureLog.FAILURE,
    ) -> list[LedgerEntry]:
        """Append entries (recorded now) and return them with their ids, in order."""
        ...

    def list(
        self,
        profile_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        after_id: int | None = None,
        limit: int = 1000,
    ) -> list[LedgerEntry]:
        """Entries recorded in [since, until), in append order, after ``after_id`` (keyset paging)."""
        ...

    def count(self, profile_id: str, *, since: datetime | None = None) -> int:
        """Entries of the profile recorded at or after ``since``."""
        ...

    def purge(self, before: datetime) -> int:
        """Delete entries recorded before ``before`` (30-day retention, DES §8.5); returns how many."""
        ...


class SeenSets(Protocol):
    """The ids a re-baseline has read (DES §7.6), in the control database; survives a crash."""

    def record(self, key: SyncKey, record_ids: Iterable[str]) -> None:
        """Add ids; idempotent; durable when it returns."""
        ...

    def contains(self, key: SyncKey, record_ids: Iterable[str]) -> set[str]:
        """The ids among ``record_ids`` that are in the set."""
        ...

    def count(self, key: SyncKey) -> int:
        """How many ids the set holds."""
        ...

    def clear(self, key: SyncKey) -> None:
        """Empty the set. Idempotent."""
        ...


class ThrottleBudget(Protocol):
    """The Dataverse budget of one organization identity, shared by every worker (DES §7.7)."""

    def reserve(self, identity: str, limits: ThrottleLimits) -> timedelta:
        """Count one request if the budget allows it now and return zero; else count nothing and return
        how long to wait before asking again (until a pause ends or the window frees room)."""
        ...

    def add_server_time(self, identity: str, seconds: float) -> None:
        """Add server execution time reported for a request to the current window."""
        ...

    def pause(self, identity: str, until: datetime) -> None:
        """Pause every worker of the identity until ``until`` (a 429's Retry-After); never shortens a pause."""
        ...

    def paused_until(self, identity: str) -> datetime | None:
        """The end of the identity's current pause, or None when it is not paused."""
        ...


class ResyncRuns(Protocol):
    """``resyncfailed`` runs (DES §8.7, §2.2 ``Resync``): at most one running per profile."""

    def start(self, profile_id: str, now: datetime) -> ResyncRun:
        """Start a run in one transaction: re-attempt every ``Failed`` subject (as :meth:`reactivate_failed`)
        and queue every failed record of the profile's subjects not ``Removed``, due ``now``, with no attempt
        counted yet and the run's id; the ids stay in their failed sets until they sync. A record already
        queued keeps its entry. With nothing queued the run is ``Completed`` at once.

        A running run with no entry left that can still settle (a crash, or its subjects failed) is
        completed first.

        Raises:
            ResyncInProgress: another run of the profile is running; nothing was written.
        """
        ...

    def latest(self, profile_id: str) -> ResyncRun | None:
        """The profile's most recently started run, or None if it never had one."""
        ...

    def queued_runs(self, key: SyncKey, record_ids: Iterable[str]) -> dict[str, str]:
        """The run id of each of ``record_ids`` whose retry-queue entry belongs to a run (others are absent)."""
        ...

    def record_outcome(self, run_id: str, succeeded: int, failed: int) -> None:
        """Add to the run's ``Succeeded`` and ``Failed`` counts (atomic increments). No-op for an unknown run."""
        ...

    def complete_if_done(self, run_id: str, now: datetime) -> ResyncRun | None:
        """Complete the run at ``now`` if none of its entries waits in a subject that is not ``Failed`` or
        ``Removed``. Idempotent; returns the run (None if unknown)."""
        ...

    def reactivate_failed(self, profile_id: str) -> list[SyncKey]:
        """Move every ``Failed`` subject of the profile to ``Delta`` (a delta link is saved) or ``InitialSync``
        (its read resumes from the saved link, or restarts), keeping links and counters; returns them."""
        ...


class Store(Protocol):
    """The control database as the engine and the API see it: one repository per concern."""

    @property
    def states(self) -> SyncStates:
        """Per-subject sync state."""
        ...

    @property
    def leases(self) -> Leases:
        """Step leases."""
        ...

    @property
    def tombstones(self) -> Tombstones:
        """Deletes remembered for the no-resurrection guard."""
        ...

    @property
    def retries(self) -> RetryQueue:
        """The durable retry queue and the give-up path."""
        ...

    @property
    def failed(self) -> FailedSets:
        """Failed sets."""
        ...

    @property
    def ledger(self) -> Ledger:
        """The failure ledger."""
        ...

    @property
    def seen(self) -> SeenSets:
        """Re-baseline seen-sets."""
        ...

    @property
    def throttle(self) -> ThrottleBudget:
        """Shared Dataverse budgets."""
        ...

    @property
    def resyncs(self) -> ResyncRuns:
        """``resyncfailed`` runs."""
        ...

    def purge_expired(self) -> Purged:
        """Delete tombstones and ledger entries past their retention (30 days by default, a setting of the
        store; DES §7.5, §8.5). Failed sets and retry queues are state and never purged. Idempotent."""
        ...

    def close(self) -> None:
        """Release every connection. Idempotent."""
        ...
