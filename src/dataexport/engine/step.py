"""One step for one (profile, subject) (DESIGN §4): idempotent, resumable, callable from any worker.

1. Take the subject's lease (no other worker runs it meanwhile); load or create its state.
2. ``NotStarted``: read the metadata, create the metadata tables and the table, move to ``InitialSync``.
3. ``InitialSync``: read the baseline from the saved nextLink (or the start) page by page; the last page
   completes it. A table that already holds rows, a rejected resume link, an expired token and an
   untracked table's periodic reload all read as a re-baseline (seen-set, then the delete sweep).
4. ``Delta``: one poll from the saved link (a nextLink of an interrupted poll, else the deltaLink).
5. Then the due record retries (they never hold the stream back).

Errors decide the outcome: transient ones leave the link where it was and record ``LastError`` (the runner
backs off); terminal ones move the subject to ``Failed`` with a failure entry, except the profile-wide ones
(credentials or destination login refused), which an administrator fixes for the whole profile.
"""

from __future__ import annotations

import threading
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dataexport.domain.failures import ChangeType
from dataexport.domain.sync import EntityPhase
from dataexport.engine.context import SyncContext
from dataexport.engine.failure_log import record_subject_failure
from dataexport.engine.failures import RecordFailures
from dataexport.engine.rebaseline import RebaselineCause, rebaseline_cause, start_rebaseline, table_has_rows
from dataexport.engine.resync import settle_latest_run
from dataexport.engine.schema_sync import SchemaSync, SubjectSchema
from dataexport.engine.sequence import UNTRACKED_LINK, SequenceEnd, SequenceRun, StepLease, lag_seconds
from dataexport.errors import DestinationAccessDenied, DestinationUnavailable, TerminalError, TransientError
from dataexport.source.base import Link
from dataexport.source.errors import ChangeTrackingDisabled, DeltaTokenExpired, LinkRejected, SourceCredentialsRejected
from dataexport.store.errors import ControlDatabaseFault, LeaseLost
from dataexport.store.values import EntityState, SyncKey
from dataexport.store.values import LinkKind as StoredLinkKind

#: ``LastError`` prefix of a destination outage; one ledger entry is written when an outage begins.
OUTAGE_PREFIX = "Destination unavailable: "
#: ``StateReason`` of a subject's first initial sync (re-baselines name their cause instead).
FIRST_SYNC_REASON = "Initial sync"
_PARKED = frozenset({EntityPhase.FAILED, EntityPhase.REMOVED})
_INITIAL = frozenset({EntityPhase.NOT_STARTED, EntityPhase.INITIAL_SYNC})
_PROFILE_WIDE = (SourceCredentialsRejected, DestinationAccessDenied)
_BAD_REQUEST = 400


class StepStatus(StrEnum):
    """What a step did, for the scheduler."""

    DONE = "done"  # a read sequence completed: the initial sync, or one delta poll
    PAUSED = "paused"  # stopped between pages (page budget, stop requested): due again at once
    IDLE = "idle"  # nothing to read: MetadataOnly mode, or an untracked table not yet due for reload
    BUSY = "busy"  # another worker holds the lease
    PARKED = "parked"  # Failed or Removed: nothing to do until an administrator acts
    RETRY = "retry"  # a transient error: nothing was lost, try again after a backoff
    FAILED = "failed"  # a terminal error: the subject (or the whole profile) needs an administrator


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """The result of one step.

    Attributes:
        key: the subject.
        status: what happened.
        phase: the subject's phase at the end, when known.
        received: changes read and written by the step (zero for an empty delta).
        pages: pages checkpointed.
        error: the error message for ``RETRY`` and ``FAILED``.
        unavailable: the destination is unavailable (the longer backoff applies).
        profile_wide: the error concerns the whole profile (credentials, destination login).
        next_retry_at: when the subject's earliest queued record retry is due.
        lag_seconds: the subject's lag after a completed delta poll.
    """

    key: SyncKey
    status: StepStatus
    phase: EntityPhase | None = None
    received: int = 0
    pages: int = 0
    error: str | None = None
    unavailable: bool = False
    profile_wide: bool = False
    next_retry_at: datetime | None = None
    lag_seconds: float | None = None


class SyncStep:
    """Runs steps of one profile's subjects; safe to call from several threads for different subjects."""

    def __init__(self, context: SyncContext, schemas: SchemaSync | None = None) -> None:
        self._context = context
        self._schemas = schemas or SchemaSync(context)

    def run(self, key: SyncKey, stop: threading.Event | None = None) -> StepOutcome:
        """Run one step of ``key``; ``stop`` ends it between pages. Never raises a product error."""
        context = self._context
        try:
            lease = context.store.leases.acquire(key, context.settings.owner, context.settings.lease_ttl)
        except TransientError as error:
            context.observer.on_error(key, str(error))
            return StepOutcome(key, StepStatus.RETRY, error=str(error))
        if lease is None:
            return StepOutcome(key, StepStatus.BUSY)
        step = _Step(context, self._schemas, StepLease(context, lease, context.clock()), stop)
        try:
            return step.run()
        except TransientError as error:
            return self._transient(step, error)
        except TerminalError as error:
            return self._terminal(step, error)
        finally:
            with suppress(TransientError):  # an unreleased lease simply expires after its TTL
                context.store.leases.release(step.lease.lease)

    def _transient(self, step: _Step, error: TransientError) -> StepOutcome:
        key, state = step.key, step.state
        message = str(error)
        unavailable = isinstance(error, DestinationUnavailable)
        if unavailable:
            message = OUTAGE_PREFIX + message
        # Best effort: when the control database itself is what fails, the outcome still says why.
        with suppress(TransientError):
            if not isinstance(error, LeaseLost):
                previous = state.last_error if state is not None else None
                if unavailable and not (previous or "").startswith(OUTAGE_PREFIX):
                    reason = OUTAGE_PREFIX + error.message
                    record_subject_failure(self._context, key, step.entity, _change_type(state), reason)
                self._context.store.states.record_error(key, message)
        self._context.observer.on_error(key, message)
        phase = state.phase if state is not None else None
        return StepOutcome(key, StepStatus.RETRY, phase, step.received, step.pages, message, unavailable)

    def _terminal(self, step: _Step, error: TerminalError) -> StepOutcome:
        key, state, message = step.key, step.state, str(error)
        self._context.observer.on_error(key, message)
        if isinstance(error, ControlDatabaseFault) or state is None:
            return StepOutcome(key, StepStatus.FAILED, None, error=message)
        if isinstance(error, _PROFILE_WIDE):
            with suppress(TransientError):
                self._context.store.states.record_error(key, message)
            return StepOutcome(key, StepStatus.FAILED, state.phase, error=message, profile_wide=True)
        try:
            record_subject_failure(self._context, key, step.entity, _change_type(state), error.message)
            failed = self._context.store.states.set_phase(
                key,
                EntityPhase.FAILED,
                expected_revision=state.revision,
                reason=error.message,
                error=message,
                lease=step.lease.lease,
            )
        except TransientError as conflict:  # the state moved meanwhile: decide again at the next step
            return StepOutcome(key, StepStatus.RETRY, state.phase, error=str(conflict))
        with suppress(TransientError):  # a resyncfailed run waiting only on this subject is over (DES §8.7)
            settle_latest_run(self._context.store, key.profile_id, self._context.clock())
        self._context.observer.on_phase(key, EntityPhase.FAILED)
        return StepOutcome(key, StepStatus.FAILED, failed.phase, step.received, step.pages, message)


def _change_type(state: EntityState | None) -> ChangeType:
    """Failure entries of a subject still in its initial export say so (DES §8.1)."""
    return ChangeType.TRIGGER_INITIAL_EXPORT if state is None or state.phase in _INITIAL else ChangeType.UPDATE


class _Step:
    """The work of one step, with what it has learned so far (for the error handlers)."""

    def __init__(
        self, context: SyncContext, schemas: SchemaSync, lease: StepLease, stop: threading.Event | None
    ) -> None:
        self.context = context
        self.schemas = schemas
        self.lease = lease
        self.stop = stop
        self.key = lease.lease.key
        self.started_at = context.clock()
        self._state: EntityState | None = None
        self._subject: SubjectSchema | None = None
        self._sequence: SequenceRun | None = None

    @property
    def state(self) -> EntityState | None:
        """The subject's state as last loaded or saved."""
        return self._sequence.state if self._sequence is not None else self._state

    @property
    def entity(self) -> str:
        """The logical name of the table read (the intersect entity of a relationship), when known."""
        subject = self._sequence.subject if self._sequence is not None else self._subject
        return subject.schema.logical_name if subject is not None else self.key.name

    @property
    def received(self) -> int:
        """Changes read so far."""
        return self._sequence.received if self._sequence is not None else 0

    @property
    def pages(self) -> int:
        """Pages checkpointed so far."""
        return self._sequence.pages if self._sequence is not None else 0

    def run(self) -> StepOutcome:
        states = self.context.store.states
        state = self._state = states.load(self.key) or states.ensure(self.key)
        if state.phase in _PARKED:
            return StepOutcome(self.key, StepStatus.PARKED, state.phase)
        subject = self._subject = self.schemas.current(self.key, state.metadata_stamp)
        if not self.context.writes_rows:
            return StepOutcome(self.key, StepStatus.IDLE, state.phase)
        _require_tracking(subject)
        if state.phase is EntityPhase.NOT_STARTED:
            state = self._state = self.context.store.states.set_phase(
                self.key,
                EntityPhase.INITIAL_SYNC,
                expected_revision=state.revision,
                reason=FIRST_SYNC_REASON,
                lease=self.lease.keep_alive(),
            )
            self.context.observer.on_phase(self.key, state.phase)
        failures = RecordFailures(self.context, self.key)
        sequence = self._sequence = SequenceRun(
            self.context, self.schemas, subject, state, self.lease, failures, self.started_at, self.stop
        )
        sequence.restore_page_size()
        end = self._initial(sequence) if state.phase is EntityPhase.INITIAL_SYNC else self._delta(sequence)
        failures.retry_due(sequence.subject.schema)
        return self._outcome(sequence, end)

    def _outcome(self, sequence: SequenceRun, end: SequenceEnd | None) -> StepOutcome:
        state, now = sequence.state, self.context.clock()
        status = {None: StepStatus.IDLE, SequenceEnd.COMPLETE: StepStatus.DONE}.get(end, StepStatus.PAUSED)
        lag = lag_seconds(state, now) if state.phase is EntityPhase.DELTA else None
        if end is SequenceEnd.COMPLETE and state.phase is EntityPhase.DELTA:
            self.context.observer.on_idle(self.key, lag)
        next_retry = self.context.store.retries.next_due_at(self.key)
        return StepOutcome(
            self.key,
            status,
            state.phase,
            sequence.received,
            sequence.pages,
            next_retry_at=next_retry,
            lag_seconds=lag,
        )

    def _initial(self, sequence: SequenceRun) -> SequenceEnd:
        state = sequence.state
        cause = rebaseline_cause(state)
        first = Link.next(state.link) if state.link is not None else None
        if first is None and cause is not None:
            self.context.store.seen.clear(self.key)  # a re-baseline starting over forgets what it saw
        elif first is None and table_has_rows(self.context, sequence.subject.schema):
            return self._restart(sequence, RebaselineCause.TABLE_NOT_EMPTY, announce=False)
        try:
            return sequence.read(first, cause)
        except LinkRejected:
            if first is None:
                raise
            return self._restart(sequence, RebaselineCause.LINK_REJECTED)

    def _delta(self, sequence: SequenceRun) -> SequenceEnd | None:
        state = sequence.state
        if not sequence.subject.schema.change_tracking:
            return self._restart(sequence, RebaselineCause.UNTRACKED_RELOAD) if self._reload_due(state) else None
        if state.link is None or state.link == UNTRACKED_LINK:
            return self._restart(sequence, RebaselineCause.TRACKING_ENABLED)
        resuming_poll = state.link_kind is StoredLinkKind.NEXT
        try:
            return sequence.read(Link.next(state.link) if resuming_poll else Link.delta(state.link), None)
        except LinkRejected:
            fallback = sequence.state.last_delta_link
            if not resuming_poll or fallback is None:
                return self._restart(sequence, RebaselineCause.LINK_REJECTED)
            return self._delta_from(sequence, fallback)
        except DeltaTokenExpired:
            return self._restart(sequence, RebaselineCause.TOKEN_EXPIRED)

    def _delta_from(self, sequence: SequenceRun, delta_link: str) -> SequenceEnd:
        try:
            return sequence.read(Link.delta(delta_link), None)
        except DeltaTokenExpired:
            return self._restart(sequence, RebaselineCause.TOKEN_EXPIRED)

    def _restart(self, sequence: SequenceRun, cause: RebaselineCause, *, announce: bool = True) -> SequenceEnd:
        """Start a re-baseline for ``cause`` and read it from the start."""
        sequence.state = start_rebaseline(self.context, sequence.state, cause, self.lease.keep_alive())
        if announce:
            self.context.observer.on_phase(self.key, sequence.state.phase)
        return sequence.read(None, cause)

    def _reload_due(self, state: EntityState) -> bool:
        completed = state.initial_sync_completed_at
        interval = self.context.settings.untracked_reread_interval
        return completed is None or self.context.clock() - completed >= interval


def _require_tracking(subject: SubjectSchema) -> None:
    """An entity must be change-tracked; only intersect tables of relationships may be read in full instead."""
    schema = subject.schema
    if not schema.change_tracking and subject.relationship is None:
        message = f"Change tracking is not enabled for the entity '{schema.logical_name}'"
        raise ChangeTrackingDisabled(message, status=_BAD_REQUEST, entity=schema.logical_name)
