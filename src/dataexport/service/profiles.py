"""Export profiles as the REST API manages them (DES §2, §4): create, read, replace, delete, lifecycle.

Every mutation of one profile holds that profile's operation lock; a second call while one runs is 409
``OperationInProgress`` (§3.4). The runner of an Active profile is stopped before its subjects' states change
and started again after, so the engine never races the API on a subject's state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Protocol

from dataexport.blobs.base import SharedLink
from dataexport.domain.checks import TestResult
from dataexport.domain.lifecycle import LifecycleCall, Refusal, can_delete, decide
from dataexport.domain.profile import ErrorDetail, ExportProfile, ProfileState
from dataexport.domain.profile_rules import is_guid, validate_profile_body
from dataexport.domain.sync import EntityPhase
from dataexport.service.bodies import body_problems, build_profile
from dataexport.service.catalog import MetadataCache
from dataexport.service.problems import Problem, ProblemKind, profile_not_found, validation_failed
from dataexport.service.status import ProfileStatus, ResyncStatus, profile_status
from dataexport.store.control import ControlStore
from dataexport.store.values import EntityState, Organization, SyncKey, SyncKind

Clock = Callable[[], datetime]


class Checks(Protocol):
    """The §5 checks, as the service runs them."""

    def test(self, profile: ExportProfile, organization: Organization) -> TestResult:
        """Check a stored profile (``test`` and the activation pre-flight)."""
        ...

    def validate(self, body: Mapping[str, object], organization: Organization) -> TestResult:
        """Check a body before creation (nothing saved, no DDL)."""
        ...

    def missing_tables(self, profile: ExportProfile, organization: Organization) -> tuple[ErrorDetail, ...]:
        """``TableMissing`` details for selected subjects whose destination table does not exist."""
        ...


class Runners(Protocol):
    """The scheduler, as the service drives it."""

    def refresh(self, profile_id: str) -> None:
        """Start, restart or stop the profile's runner to match its stored state (returns at once)."""
        ...

    def stop(self, profile_id: str) -> None:
        """Stop the profile's runner and wait until its in-flight batches are done (at most about 60 s)."""
        ...


class FailureLinks(Protocol):
    """The failure store, as the service uses it."""

    def share(self, profile_id: str, *, now: datetime, ttl: timedelta) -> SharedLink:
        """A signed URL to the profile's failure data and its expiry."""
        ...

    def delete_profile(self, profile_id: str) -> None:
        """Remove every failure file of the profile (idempotent)."""
        ...


class Resyncs(Protocol):
    """``resyncfailed`` runs (DES §8.7)."""

    def start(self, profile: ExportProfile) -> ResyncStatus:
        """Queue every failed record and Failed subject of an Active profile; the run's first status."""
        ...

    def latest(self, profile_id: str) -> ResyncStatus | None:
        """The profile's last run, if any."""
        ...


class ProfileService:
    """The profile use cases behind the REST API."""

    def __init__(
        self,
        store: ControlStore,
        metadata: MetadataCache,
        checks: Checks,
        runners: Runners,
        failures: FailureLinks,
        resyncs: Resyncs,
        *,
        host_suffixes: tuple[str, ...],
        clock: Clock,
        failure_url_ttl: timedelta = timedelta(hours=24),
    ) -> None:
        self._store = store
        self._metadata = metadata
        self._checks = checks
        self._runners = runners
        self._failures = failures
        self._resyncs = resyncs
        self._host_suffixes = host_suffixes
        self._clock = clock
        self._url_ttl = failure_url_ttl
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # ----- reads -----------------------------------------------------------------------------------

    def list(self, organization: Organization) -> list[ExportProfile]:
        """The organization's profiles, by creation time."""
        return self._store.profiles.list(organization.id)

    def get(self, profile_id: str, organization: Organization | None = None) -> ExportProfile:
        """A profile by id; 404 when unknown or of another organization than ``organization``."""
        profile = self._store.profiles.get(profile_id.lower())
        if profile is None or (organization is not None and profile.organization_id != organization.id):
            raise profile_not_found(profile_id)
        return profile

    def status(self, profile: ExportProfile) -> ProfileStatus:
        """The ``?status=true`` block."""
        states = self._store.states.list(profile.id)
        return profile_status(profile, states, self._clock(), self._resyncs.latest(profile.id))

    # ----- create, replace, delete ----------------------------------------------------------------

    def create(self, body: object, organization: Organization, query_organization_id: str | None) -> ExportProfile:
        """Create a Draft profile from a §2.1 body; 400 ``ValidationFailed`` with every failing field."""
        others = [profile.name for profile in self.list(organization)]
        self._check_body(body, organization, query_organization_id, others, stored=None)
        assert isinstance(body, Mapping)
        profile = self._spelled(build_profile(body, organization_id=organization.id, stored=None), organization)
        return self._store.profiles.save(profile)

    def replace(self, stored: ExportProfile, body: object, organization: Organization) -> ExportProfile:
        """PUT: a full replace of the mutable fields (DES §2.1, §4.3); subjects added, removed and re-added."""
        with self._operation(stored.id):
            stored = self.get(stored.id)
            if isinstance(body, Mapping) and body.get("OrganizationId") is None:  # omitted immutable: kept (§2.1)
                body = {**body, "OrganizationId": stored.organization_id}
            others = [p.name for p in self.list(organization) if p.id != stored.id]
            self._check_body(body, organization, None, others, stored=stored)
            assert isinstance(body, Mapping)
            profile = self._spelled(
                build_profile(body, organization_id=stored.organization_id, stored=stored), organization
            )
            active = stored.state is ProfileState.ACTIVE
            if active:
                self._runners.stop(stored.id)
            try:
                saved = self._store.profiles.save(profile)
                self._apply_selection(saved)
            finally:
                if active:
                    self._runners.refresh(stored.id)
            return saved

    def delete(self, profile: ExportProfile) -> None:
        """Remove the profile, its control data and failure files; 409 ``ProfileActive`` while Active."""
        with self._operation(profile.id):
            profile = self.get(profile.id)
            refusal = can_delete(profile.state)
            if refusal is not None:
                raise _conflict(refusal)
            self._runners.stop(profile.id)
            self._store.profiles.delete(profile.id)
            self._failures.delete_profile(profile.id)

    # ----- lifecycle ------------------------------------------------------------------------------

    def lifecycle(self, profile: ExportProfile, call: LifecycleCall, organization: Organization) -> ExportProfile:
        """Run a lifecycle call (DES §4.2): pre-flight checks, then the state change; sync runs in the background."""
        with self._operation(profile.id):
            profile = self.get(profile.id)
            decision = decide(call, profile.state, profile.activation_mode)
            if isinstance(decision, Refusal):
                raise _conflict(decision)
            if call is LifecycleCall.DEACTIVATE:
                return self._deactivate(profile, decision.changed)
            result = self._checks.test(profile, organization)
            if not result.succeeded:
                raise Problem(ProblemKind.CONFLICT, "PreflightFailed", "Activation checks failed.", test_result=result)
            if call is LifecycleCall.ACTIVATE_DATA and decision.mode is not None and decision.mode.value == "DataOnly":
                missing = self._checks.missing_tables(profile, organization)
                if missing:
                    raise Problem(ProblemKind.CONFLICT, "SchemaMissing", "Destination tables are missing.", missing)
            now = self._clock()
            updated = profile.model_copy(
                update={
                    "state": decision.state,
                    "activation_mode": decision.mode,
                    "last_error": None,
                    "first_activated_on": profile.first_activated_on or now,
                }
            )
            self._runners.stop(profile.id)
            saved = self._store.profiles.save(updated)
            self._reattempt_failed(saved)
            self._runners.refresh(profile.id)
            return saved

    def test(self, profile: ExportProfile, organization: Organization) -> TestResult:
        """``GET profiles/{id}/test``."""
        return self._checks.test(profile, organization)

    def field_problems(self, body: object) -> tuple[ErrorDetail, ...]:
        """The §2.3 field rules of a body whose organization is not known (the metadata rules need one)."""
        return validate_profile_body(body, host_suffixes=self._host_suffixes)

    def validate(self, body: object, organization: Organization, query_organization_id: str | None) -> TestResult:
        """``POST profiles/validate``: 400 only when the body is not an object; check results otherwise."""
        if not isinstance(body, Mapping):
            self._check_body(body, organization, query_organization_id, [], stored=None)
        assert isinstance(body, Mapping)
        organization_in_body = body.get("OrganizationId")
        if (
            isinstance(organization_in_body, str)
            and is_guid(organization_in_body)
            and organization_in_body.lower() != organization.id
        ):
            raise Problem(
                ProblemKind.INVALID,
                "OrganizationParametersMismatch",
                "OrganizationId does not match the organization named by the query parameters.",
            )
        return self._checks.validate(body, organization)

    def failures_link(self, profile: ExportProfile) -> SharedLink:
        """A URL to the profile's failure data, valid 24 hours (DES §8.6)."""
        return self._failures.share(profile.id, now=self._clock(), ttl=self._url_ttl)

    def resync(self, profile: ExportProfile) -> ResyncStatus:
        """Start a ``resyncfailed`` run (DES §8.7); 409 ``NotActive`` or ``OperationInProgress``."""
        with self._operation(profile.id):
            profile = self.get(profile.id)
            if profile.state is not ProfileState.ACTIVE:
                raise Problem(ProblemKind.CONFLICT, "NotActive", "The profile must be active to resync failed records.")
            run = self._resyncs.start(profile)
            self._runners.refresh(profile.id)
            return run

    # ----- internals ------------------------------------------------------------------------------

    def _check_body(
        self,
        body: object,
        organization: Organization,
        query_organization_id: str | None,
        others: Sequence[str],
        *,
        stored: ExportProfile | None,
    ) -> None:
        catalog = self._metadata.get(organization).selection_catalog() if isinstance(body, Mapping) else None
        details = body_problems(
            body,
            organization_id=organization.id,
            query_organization_id=query_organization_id,
            host_suffixes=self._host_suffixes,
            other_names=others,
            catalog=catalog,
            stored=stored,
        )
        if details:
            raise validation_failed(details)

    def _spelled(self, profile: ExportProfile, organization: Organization) -> ExportProfile:
        """Relationship names as Dataverse spells them (DES §2.1)."""
        known = {r.schema_name.lower(): r.schema_name for r in self._metadata.get(organization).relationships}
        relationships = tuple(
            selection.model_copy(update={"name": known.get(selection.name.lower(), selection.name)})
            for selection in profile.relationships
        )
        return profile.model_copy(update={"relationships": relationships})

    def _apply_selection(self, profile: ExportProfile) -> None:
        """Removed subjects -> ``Removed`` (table kept); re-added ones -> ``NotStarted`` (adopted, re-baselined)."""
        selected = {(SyncKind.ENTITY, name) for name in profile.entity_names}
        selected |= {(SyncKind.RELATIONSHIP, name.lower()) for name in profile.relationship_names}
        for state in self._store.states.list(profile.id):
            chosen = (state.key.kind, state.key.name.lower()) in selected
            if not chosen and state.phase is not EntityPhase.REMOVED:
                self._move(state, EntityPhase.REMOVED, "Removed from the profile")
            elif chosen and state.phase is EntityPhase.REMOVED:
                self._move(state, EntityPhase.NOT_STARTED, "Added to the profile again")

    def _reattempt_failed(self, profile: ExportProfile) -> None:
        """Activation re-attempts ``Failed`` subjects (DES §4.2, §4.4)."""
        for state in self._store.states.list(profile.id):
            if state.phase is EntityPhase.FAILED and _is_selected(profile, state.key):
                target = EntityPhase.DELTA if state.last_delta_link else EntityPhase.INITIAL_SYNC
                if profile.activation_mode is not None and profile.activation_mode.value == "MetadataOnly":
                    target = EntityPhase.NOT_STARTED
                self._move(state, target, "Re-attempted by activation")

    def _move(self, state: EntityState, phase: EntityPhase, reason: str) -> None:
        self._store.states.set_phase(state.key, phase, expected_revision=state.revision, reason=reason)

    def _deactivate(self, profile: ExportProfile, changed: bool) -> ExportProfile:
        self._runners.stop(profile.id)
        if not changed:
            return profile
        updated = profile.model_copy(update={"state": ProfileState.INACTIVE, "activation_mode": None})
        return self._store.profiles.save(updated)

    @contextmanager
    def _operation(self, profile_id: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.setdefault(profile_id, threading.Lock())
        if not lock.acquire(blocking=False):
            raise Problem(
                ProblemKind.CONFLICT,
                "OperationInProgress",
                "Another operation on this profile is in progress; try again when it completes.",
            )
        try:
            yield
        finally:
            lock.release()


def record_profile_error(store: ControlStore, profile_id: str, message: str | None, *, failed: bool) -> None:
    """Set a profile's profile-wide ``LastError``; ``failed`` also moves an Active profile to ``Failed`` (§4.1).

    One locked read-modify-write, so an API change saved meanwhile is never overwritten by a stale copy.
    """

    def change(profile: ExportProfile) -> ExportProfile | None:
        if profile.last_error == message and not failed:
            return None
        update: dict[str, object] = {"last_error": message}
        if failed and profile.state is ProfileState.ACTIVE:
            update.update(state=ProfileState.FAILED, activation_mode=None)
        return profile.model_copy(update=update)

    store.profiles.update(profile_id, change)


def _is_selected(profile: ExportProfile, key: SyncKey) -> bool:
    if key.kind is SyncKind.ENTITY:
        return key.name in profile.entity_names
    return key.name.lower() in {name.lower() for name in profile.relationship_names}


def _conflict(refusal: Refusal) -> Problem:
    return Problem(ProblemKind.CONFLICT, refusal.code, refusal.message)
