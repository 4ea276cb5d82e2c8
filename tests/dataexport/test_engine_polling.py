"""Adaptive polling and backoff decisions (DES §7.1, §8.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dataexport.domain.sync import EntityPhase
from dataexport.engine.polling import PollState, initial_poll, next_poll
from dataexport.engine.settings import EngineSettings
from dataexport.engine.step import StepOutcome, StepStatus
from dataexport.store.values import SyncKey

KEY = SyncKey("p", "account")
NOW = datetime(2025, 3, 7, tzinfo=UTC)
SETTINGS = EngineSettings(min_interval=0.5, max_interval=15.0)


def poll(outcome: StepOutcome, state: PollState, jitter: float = 1.0) -> tuple[float, PollState]:
    return next_poll(outcome, state, SETTINGS, now=NOW, jitter=jitter)


def delta(received: int) -> StepOutcome:
    return StepOutcome(KEY, StepStatus.DONE, EntityPhase.DELTA, received=received)


def test_empty_deltas_double_the_interval_up_to_the_ceiling_and_a_change_resets_it() -> None:
    state = initial_poll(SETTINGS)
    delays = []
    for _ in range(7):
        delay, state = poll(delta(0), state)
        delays.append(delay)
    assert delays == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    delay, state = poll(delta(3), state)
    assert delay == 0.5
    assert state.interval == 0.5


def test_transient_errors_back_off_exponentially_and_a_success_forgets_them() -> None:
    state = initial_poll(SETTINGS)
    delays = []
    for _ in range(8):
        delay, state = poll(StepOutcome(KEY, StepStatus.RETRY, error="busy"), state)
        delays.append(delay)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    unavailable = StepOutcome(KEY, StepStatus.RETRY, error="full", unavailable=True)
    assert poll(unavailable, PollState(0.5))[0] == 5.0
    assert poll(unavailable, PollState(0.5, errors=10))[0] == 300.0
    assert poll(unavailable, PollState(0.5, errors=10), jitter=0.5)[0] == 150.0
    _delay, state = poll(delta(1), state)
    assert state.errors == 0


@pytest.mark.parametrize("status", [StepStatus.IDLE, StepStatus.PARKED, StepStatus.FAILED, StepStatus.BUSY])
def test_subjects_with_nothing_to_do_are_looked_at_again_after_the_ceiling(status: StepStatus) -> None:
    assert poll(StepOutcome(KEY, status), initial_poll(SETTINGS))[0] == 15.0


def test_a_paused_step_is_due_at_once_and_a_due_record_retry_brings_the_next_step_forward() -> None:
    assert poll(StepOutcome(KEY, StepStatus.PAUSED), initial_poll(SETTINGS))[0] == 0.0
    retry_soon = StepOutcome(KEY, StepStatus.IDLE, next_retry_at=NOW + timedelta(seconds=3))
    assert poll(retry_soon, initial_poll(SETTINGS))[0] == 3.0
    overdue = StepOutcome(KEY, StepStatus.DONE, received=0, next_retry_at=NOW - timedelta(seconds=3))
    assert poll(overdue, PollState(8.0))[0] == 0.0
