"""When a subject is due again after a step: adaptive polling and backoff, as a pure decision (DES §7.1, §8.1).

- A delta poll that brought changes, or a completed initial sync: again after ``min_interval``.
- An empty delta poll: the interval doubles, up to ``max_interval``.
- A step paused between pages: at once.
- A transient error: exponential backoff with full jitter (the longer one while the destination is
  unavailable); a success resets the error count.
- Nothing to do (idle, parked, failed, another worker's lease): look again after ``max_interval``.
- A queued record retry due earlier than all of that brings the next step forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dataexport.engine.settings import EngineSettings
from dataexport.engine.step import StepOutcome, StepStatus


@dataclass(frozen=True, slots=True)
class PollState:
    """A subject's polling memory: its current interval and how many transient errors in a row it had."""

    interval: float
    errors: int = 0


def initial_poll(settings: EngineSettings) -> PollState:
    """A subject not yet polled: the minimum interval, no error."""
    return PollState(settings.min_interval)


def next_poll(
    outcome: StepOutcome, previous: PollState, settings: EngineSettings, *, now: datetime, jitter: float
) -> tuple[float, PollState]:
    """Seconds from the step's start until the subject is due again, and its new polling state.

    Args:
        outcome: what the step did.
        previous: the subject's polling state before the step.
        settings: intervals and backoffs.
        now: the current time (to place a queued retry).
        jitter: a uniform random number in [0, 1] for the backoff.
    """
    delay, state = _by_status(outcome, previous, settings, jitter)
    if outcome.next_retry_at is not None:
        delay = min(delay, max(0.0, (outcome.next_retry_at - now).total_seconds()))
    return delay, state


def _by_status(
    outcome: StepOutcome, previous: PollState, settings: EngineSettings, jitter: float
) -> tuple[float, PollState]:
    status = outcome.status
    if status is StepStatus.RETRY:
        backoff = settings.unavailable_backoff if outcome.unavailable else settings.transient_backoff
        return backoff.delay(previous.errors, jitter), PollState(previous.interval, previous.errors + 1)
    if status is StepStatus.PAUSED:
        return 0.0, PollState(previous.interval)
    if status is StepStatus.DONE:
        interval = settings.min_interval if outcome.received else min(settings.max_interval, previous.interval * 2)
        return interval, PollState(interval)
    return settings.max_interval, PollState(previous.interval)
