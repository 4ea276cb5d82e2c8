"""Per-entity sync phases, their allowed transitions, and the record retry rules (DES §4.4, §8.1-8.2).

Everything here is a pure decision: the engine asks, then acts (sleeps, re-reads, writes the ledger).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class EntityPhase(StrEnum):
    """State of one (profile, entity) or (profile, relationship); values are the API strings of DES §4.4."""

    NOT_STARTED = "NotStarted"
    INITIAL_SYNC = "InitialSync"
    DELTA = "Delta"
    FAILED = "Failed"
    REMOVED = "Removed"


_ALLOWED: dict[EntityPhase, frozenset[EntityPhase]] = {
    # NotStarted -> Failed: the table cannot be created; -> Removed: dropped from the profile first.
    EntityPhase.NOT_STARTED: frozenset({EntityPhase.INITIAL_SYNC, EntityPhase.FAILED, EntityPhase.REMOVED}),
    EntityPhase.INITIAL_SYNC: frozenset({EntityPhase.DELTA, EntityPhase.FAILED, EntityPhase.REMOVED}),
    EntityPhase.DELTA: frozenset({EntityPhase.INITIAL_SYNC, EntityPhase.FAILED, EntityPhase.REMOVED}),
    # Failed -> NotStarted: re-activated in MetadataOnly mode, where entities are never read.
    EntityPhase.FAILED: frozenset(
        {EntityPhase.INITIAL_SYNC, EntityPhase.DELTA, EntityPhase.NOT_STARTED, EntityPhase.REMOVED}
    ),
    # Removed -> NotStarted: re-added without an existing table (or in MetadataOnly mode).
    EntityPhase.REMOVED: frozenset({EntityPhase.INITIAL_SYNC, EntityPhase.NOT_STARTED}),
}


def allowed_transitions(phase: EntityPhase) -> frozenset[EntityPhase]:
    """The phases ``phase`` may move to (never including itself)."""
    return _ALLOWED[phase]


def can_transition(current: EntityPhase, target: EntityPhase) -> bool:
    """Whether moving from ``current`` to ``target`` is allowed.

    Staying in the same phase is always allowed: steps are replayable, so saving the phase an
    entity already has (e.g. a re-baseline restarting inside ``InitialSync``) is a no-op, not an error.
    """
    return current is target or target in _ALLOWED[current]


@dataclass(frozen=True, slots=True)
class RetryAt:
    """Decision: keep the record in the retry queue; attempt it again at ``when``."""

    when: datetime
    attempt: int


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Decision: remove the record from the queue, append a ledger entry, add it to the failed set."""

    attempts: int


RetryDecision = RetryAt | GiveUp


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The profile's record retry rules (DES §8.2): ``retry_count`` retries, ``retry_interval`` seconds apart.

    At most ``1 + retry_count`` attempts are made; ``retry_count = 0`` means no retry and
    ``retry_interval = 0`` means retry at once.
    """

    retry_count: int = 12
    retry_interval: int = 5

    @property
    def max_attempts(self) -> int:
        """Attempts made before giving up, the first one included."""
        return 1 + self.retry_count

    def after_failure(self, attempts: int, failed_at: datetime) -> RetryDecision:
        """What to do after the ``attempts``-th attempt (counting from 1) failed at ``failed_at``."""
        if attempts >= self.max_attempts:
            return GiveUp(attempts)
        return RetryAt(failed_at + timedelta(seconds=self.retry_interval), attempts + 1)

    @property
    def worst_case_delay(self) -> timedelta:
        """Longest time a record may wait in the queue before it is given up."""
        return timedelta(seconds=self.retry_count * self.retry_interval)


def is_due(decision: RetryAt, now: datetime) -> bool:
    """Whether a queued retry may run at ``now``."""
    return now >= decision.when


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter for transient and unavailable failures (DES §7.7, §8.1).

    ``delay(n, jitter)`` is ``jitter * min(maximum, initial * 2**n)`` seconds, ``jitter`` being a uniform
    random number in [0, 1] drawn by the caller, so the decision stays pure and testable.
    """

    initial: float
    maximum: float

    def ceiling(self, attempt: int) -> float:
        """The upper bound of the ``attempt``-th delay (counting from 0)."""
        return min(self.maximum, self.initial * float(2 ** min(attempt, 62)))

    def delay(self, attempt: int, jitter: float) -> float:
        """The delay in seconds before retry ``attempt`` (counting from 0)."""
        return max(0.0, min(1.0, jitter)) * self.ceiling(attempt)


#: A transient error (deadlock, lock timeout, lost connection): 1 s -> 60 s.
TRANSIENT_BACKOFF = Backoff(initial=1.0, maximum=60.0)
#: The destination is unavailable (refused, full, read-only): 5 s -> 5 min.
UNAVAILABLE_BACKOFF = Backoff(initial=5.0, maximum=300.0)
