"""The profile lifecycle of DES §4.2 as one pure decision per call.

A :class:`Transition` says where a profile goes (or that nothing changes); a :class:`Refusal` names the 409
code. The service acts on the decision: pre-flight checks, state changes, starting or stopping the runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dataexport.domain.profile import ActivationMode, ProfileState


class LifecycleCall(StrEnum):
    """The lifecycle routes (DES §3.4)."""

    ACTIVATE = "activate"
    ACTIVATE_METADATA = "activatemetadata"
    ACTIVATE_DATA = "activatedata"
    DEACTIVATE = "deactivate"


@dataclass(frozen=True, slots=True)
class Transition:
    """The state and mode after the call; ``changed`` is False when the call leaves the profile as it is."""

    state: ProfileState
    mode: ActivationMode | None
    changed: bool


@dataclass(frozen=True, slots=True)
class Refusal:
    """A 409: the DES error code and message."""

    code: str
    message: str


_STOPPED = frozenset({ProfileState.DRAFT, ProfileState.INACTIVE, ProfileState.FAILED})
_FULL = ActivationMode.FULL
_METADATA = ActivationMode.METADATA_ONLY
_DATA = ActivationMode.DATA_ONLY

# (call, current mode of an Active profile) -> mode after the call
_ACTIVE_MODES: dict[tuple[LifecycleCall, ActivationMode], ActivationMode] = {
    (LifecycleCall.ACTIVATE, _FULL): _FULL,
    (LifecycleCall.ACTIVATE, _METADATA): _FULL,
    (LifecycleCall.ACTIVATE, _DATA): _FULL,
    (LifecycleCall.ACTIVATE_METADATA, _FULL): _FULL,
    (LifecycleCall.ACTIVATE_METADATA, _METADATA): _METADATA,
    (LifecycleCall.ACTIVATE_METADATA, _DATA): _FULL,
    (LifecycleCall.ACTIVATE_DATA, _FULL): _FULL,
    (LifecycleCall.ACTIVATE_DATA, _METADATA): _FULL,
    (LifecycleCall.ACTIVATE_DATA, _DATA): _DATA,
}
_STARTING_MODE = {
    LifecycleCall.ACTIVATE: _FULL,
    LifecycleCall.ACTIVATE_METADATA: _METADATA,
    LifecycleCall.ACTIVATE_DATA: _DATA,
}


def decide(call: LifecycleCall, state: ProfileState, mode: ActivationMode | None) -> Transition | Refusal:
    """Where ``call`` takes a profile in ``state`` (and ``mode`` when Active), per DES §4.2."""
    if call is LifecycleCall.DEACTIVATE:
        if state is ProfileState.DRAFT:
            return Refusal("NotActivated", "The profile has never been activated.")
        return Transition(ProfileState.INACTIVE, None, changed=state is not ProfileState.INACTIVE)
    if state in _STOPPED or mode is None:
        return Transition(ProfileState.ACTIVE, _STARTING_MODE[call], changed=True)
    after = _ACTIVE_MODES[(call, mode)]
    return Transition(ProfileState.ACTIVE, after, changed=after is not mode)


def can_delete(state: ProfileState) -> Refusal | None:
    """DELETE is refused while the profile is Active (DES §4.2)."""
    if state is ProfileState.ACTIVE:
        return Refusal("ProfileActive", "The profile is active; deactivate it before deleting it.")
    return None
