"""The DES §4.2 transition table, row by row."""

from __future__ import annotations

import pytest

from dataexport.domain.lifecycle import LifecycleCall, Refusal, Transition, can_delete, decide
from dataexport.domain.profile import ActivationMode, ProfileState

A, I, D, F = ProfileState.ACTIVE, ProfileState.INACTIVE, ProfileState.DRAFT, ProfileState.FAILED  # noqa: E741 - the spec table spells states by initial
FULL, META, DATA = ActivationMode.FULL, ActivationMode.METADATA_ONLY, ActivationMode.DATA_ONLY
ACT, ACT_M, ACT_D, DEACT = (
    LifecycleCall.ACTIVATE,
    LifecycleCall.ACTIVATE_METADATA,
    LifecycleCall.ACTIVATE_DATA,
    LifecycleCall.DEACTIVATE,
)


@pytest.mark.parametrize(
    ("call", "state", "mode", "expected"),
    [
        (ACT, D, None, Transition(A, FULL, True)),
        (ACT, I, None, Transition(A, FULL, True)),
        (ACT, F, None, Transition(A, FULL, True)),
        (ACT, A, FULL, Transition(A, FULL, False)),
        (ACT, A, META, Transition(A, FULL, True)),
        (ACT, A, DATA, Transition(A, FULL, True)),
        (ACT_M, D, None, Transition(A, META, True)),
        (ACT_M, I, None, Transition(A, META, True)),
        (ACT_M, F, None, Transition(A, META, True)),
        (ACT_M, A, DATA, Transition(A, FULL, True)),
        (ACT_M, A, META, Transition(A, META, False)),
        (ACT_M, A, FULL, Transition(A, FULL, False)),
        (ACT_D, D, None, Transition(A, DATA, True)),
        (ACT_D, F, None, Transition(A, DATA, True)),
        (ACT_D, A, META, Transition(A, FULL, True)),
        (ACT_D, A, DATA, Transition(A, DATA, False)),
        (ACT_D, A, FULL, Transition(A, FULL, False)),
        (DEACT, A, FULL, Transition(I, None, True)),
        (DEACT, F, None, Transition(I, None, True)),
        (DEACT, I, None, Transition(I, None, False)),
    ],
)
def test_transitions_follow_the_des_table(
    call: LifecycleCall, state: ProfileState, mode: ActivationMode | None, expected: Transition
) -> None:
    assert decide(call, state, mode) == expected


def test_deactivating_a_draft_is_refused_with_not_activated() -> None:
    refusal = decide(DEACT, D, None)
    assert isinstance(refusal, Refusal) and refusal.code == "NotActivated"


@pytest.mark.parametrize("state", [D, I, F])
def test_only_an_active_profile_cannot_be_deleted(state: ProfileState) -> None:
    assert can_delete(state) is None
    refusal = can_delete(A)
    assert refusal is not None and refusal.code == "ProfileActive"
