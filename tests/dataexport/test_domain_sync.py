"""Entity phases, transitions, the record retry policy and backoff (DES §4.4, §7.7, §8.1-8.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dataexport.domain.sync import (
    TRANSIENT_BACKOFF,
    UNAVAILABLE_BACKOFF,
    EntityPhase,
    GiveUp,
    RetryAt,
    RetryPolicy,
    allowed_transitions,
    can_transition,
    is_due,
)

T0 = datetime(2025, 3, 7, 9, 0, tzinfo=UTC)
P = EntityPhase


def test_phase_values_are_the_api_strings() -> None:
    assert [phase.value for phase in EntityPhase] == ["NotStarted", "InitialSync", "Delta", "Failed", "Removed"]
    assert EntityPhase("Delta") is P.DELTA


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (P.NOT_STARTED, P.INITIAL_SYNC),
        (P.INITIAL_SYNC, P.DELTA),
        (P.INITIAL_SYNC, P.FAILED),
        (P.DELTA, P.INITIAL_SYNC),  # token expired: re-baseline
        (P.DELTA, P.FAILED),
        (P.DELTA, P.REMOVED),
        (P.FAILED, P.INITIAL_SYNC),
        (P.FAILED, P.DELTA),
        (P.REMOVED, P.INITIAL_SYNC),  # re-added
        (P.DELTA, P.DELTA),  # saving the same phase again is a no-op
    ],
)
def test_allowed_transitions(current: EntityPhase, target: EntityPhase) -> None:
    assert can_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (P.NOT_STARTED, P.DELTA),  # no delta without an initial read
        (P.REMOVED, P.DELTA),
        (P.REMOVED, P.FAILED),
        (P.INITIAL_SYNC, P.NOT_STARTED),
        (P.DELTA, P.NOT_STARTED),
    ],
)
def test_forbidden_transitions(current: EntityPhase, target: EntityPhase) -> None:
    assert not can_transition(current, target)
    assert target not in allowed_transitions(current)


def test_every_phase_can_reach_removed_except_removed_itself() -> None:
    assert all(P.REMOVED in allowed_transitions(p) for p in EntityPhase if p is not P.REMOVED)


def test_retry_count_twelve_means_thirteen_attempts() -> None:
    policy = RetryPolicy(retry_count=12, retry_interval=5)
    assert policy.max_attempts == 13
    assert policy.after_failure(1, T0) == RetryAt(T0 + timedelta(seconds=5), attempt=2)
    assert policy.after_failure(12, T0) == RetryAt(T0 + timedelta(seconds=5), attempt=13)
    assert policy.after_failure(13, T0) == GiveUp(13)


def test_retry_count_zero_gives_up_at_once() -> None:
    assert RetryPolicy(retry_count=0, retry_interval=60).after_failure(1, T0) == GiveUp(1)


def test_retry_interval_zero_retries_at_once() -> None:
    decision = RetryPolicy(retry_count=3, retry_interval=0).after_failure(1, T0)
    assert isinstance(decision, RetryAt) and decision.when == T0 and is_due(decision, T0)


def test_worst_case_is_twenty_hours() -> None:
    assert RetryPolicy(20, 3600).worst_case_delay == timedelta(hours=20)


def test_retry_is_due_only_after_its_time() -> None:
    decision = RetryAt(T0 + timedelta(seconds=5), 2)
    assert not is_due(decision, T0)
    assert is_due(decision, T0 + timedelta(seconds=5))


def test_backoff_doubles_up_to_its_cap_with_full_jitter() -> None:
    assert [TRANSIENT_BACKOFF.ceiling(n) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert UNAVAILABLE_BACKOFF.ceiling(0) == 5 and UNAVAILABLE_BACKOFF.ceiling(20) == 300
    assert TRANSIENT_BACKOFF.delay(3, 0.5) == 4.0
    assert TRANSIENT_BACKOFF.delay(3, 0.0) == 0.0
    assert TRANSIENT_BACKOFF.delay(1000, 1.0) == 60.0
    assert TRANSIENT_BACKOFF.delay(2, 7.0) == 4.0  # jitter is clamped to [0, 1]
