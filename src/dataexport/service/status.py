"""The ``?status=true`` block (DES §2.2, §4.4) from the control database's per-subject state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_pascal

from dataexport.domain.profile import ExportProfile
from dataexport.domain.sync import EntityPhase
from dataexport.domain.timestamps import Timestamp
from dataexport.store.values import EntityState, ResyncRun, SyncKind


class _Des(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_pascal, populate_by_name=True)


class EntityStatus(_Des):
    """One entity or relationship of the status block."""

    name: str
    state: str
    state_reason: str | None = None
    last_error: str | None = None
    total_records: int = 0
    synced_records: int = 0
    failed_records: int = 0
    last_synchronized_on: Timestamp | None = None
    lag_seconds: int | None = None
    initial_sync_completed_on: Timestamp | None = None


class ResyncStatus(_Des):
    """The last ``resyncfailed`` run (DES §8.7)."""

    run_id: str
    state: str
    queued_records: int
    succeeded: int
    failed: int
    started_on: Timestamp
    completed_on: Timestamp | None = None

    @classmethod
    def of(cls, run: ResyncRun) -> ResyncStatus:
        """The status of a stored run."""
        return cls(
            run_id=run.run_id,
            state=run.state.value,
            queued_records=run.queued_records,
            succeeded=run.succeeded,
            failed=run.failed,
            started_on=run.started_at,
            completed_on=run.completed_at,
        )


class ProfileStatus(_Des):
    """The status block."""

    failed_notifications_count: int
    last_synchronized_on: Timestamp | None
    lag_seconds: int | None
    last_error: str | None
    entities: tuple[EntityStatus, ...]
    relationships: tuple[EntityStatus, ...]
    resync: ResyncStatus | None = None


def entity_status(name: str, state: EntityState | None, now: datetime) -> EntityStatus:
    """A subject's status; a selected subject with no state yet is ``NotStarted`` with zero counters."""
    if state is None:
        return EntityStatus(name=name, state=EntityPhase.NOT_STARTED.value)
    lag = None
    if state.initial_sync_completed_at is not None and state.last_poll_started_at is not None:
        lag = max(0, int((now - state.last_poll_started_at).total_seconds()))
    return EntityStatus(
        name=name,
        state=state.phase.value,
        state_reason=state.state_reason,
        last_error=state.last_error,
        total_records=state.counters.received,
        synced_records=state.counters.synced,
        failed_records=state.failed_records,
        last_synchronized_on=state.last_synced_at,
        lag_seconds=lag,
        initial_sync_completed_on=state.initial_sync_completed_at,
    )


def _subjects(names: Sequence[str], kind: SyncKind, states: Sequence[EntityState], now: datetime) -> list[EntityStatus]:
    """Selected subjects in profile order, then ``Removed`` (or otherwise unselected) ones by name."""
    by_name = {state.key.name.lower(): state for state in states if state.key.kind is kind}
    listed = [entity_status(name, by_name.pop(name.lower(), None), now) for name in names]
    return listed + [entity_status(state.key.name, state, now) for _name, state in sorted(by_name.items())]


def profile_status(
    profile: ExportProfile, states: Sequence[EntityState], now: datetime, resync: ResyncStatus | None = None
) -> ProfileStatus:
    """The status block of ``profile``."""
    entities = _subjects(profile.entity_names, SyncKind.ENTITY, states, now)
    relationships = _subjects(profile.relationship_names, SyncKind.RELATIONSHIP, states, now)
    live = [item for item in (*entities, *relationships) if item.state != EntityPhase.REMOVED.value]
    synced = [item.last_synchronized_on for item in live]
    lags = [item.lag_seconds for item in live]
    return ProfileStatus(
        failed_notifications_count=sum(item.failed_records for item in (*entities, *relationships)),
        last_synchronized_on=None if not synced or None in synced else min(s for s in synced if s is not None),
        lag_seconds=None if not lags or None in lags else max(lag for lag in lags if lag is not None),
        last_error=profile.last_error,
        entities=tuple(entities),
        relationships=tuple(relationships),
        resync=resync,
    )
