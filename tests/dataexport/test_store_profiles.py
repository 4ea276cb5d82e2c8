"""Organizations and profiles in the control database, and deleting a profile's control data."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from test_store_support import START, MovableClock

from dataexport.domain.failures import ChangeType, FailureEntry
from dataexport.domain.guards import Tombstone
from dataexport.domain.profile import ExportProfile, ProfileState, Selection
from dataexport.store import ControlDatabaseFault, ControlStore, RetryItem, SyncKey
from dataexport.store.values import Organization

pytest_plugins = ["test_store_support"]

ORG_ID = "3f1c0000-0000-4000-8000-000000000001"
PROFILE_ID = "b7d4c3a2-0000-4000-8000-000000000001"


CONTOSO = Organization(
    id=ORG_ID,
    url="https://Contoso.crm11.dynamics.com/",
    friendly_name="Contoso",
    unique_name="org8a1b2c3d",
    tenant_id="9a000000-0000-4000-8000-000000000000",
    region="GBR",
)


def profile(**changes: object) -> ExportProfile:
    base = ExportProfile(
        id=PROFILE_ID,
        name="Reporting",
        organization_id=ORG_ID,
        key_vault_uri="https://contoso-kv.vault.azure.net/secrets/reporting-sql/",
        entities=(Selection(name="account"), Selection(name="contact")),
    )
    return base.model_copy(update=changes)


def test_organizations_are_saved_with_a_normalized_url(control_store: ControlStore, store_clock: MovableClock) -> None:
    saved = control_store.organizations.save(CONTOSO)
    assert saved.url == "https://contoso.crm11.dynamics.com"
    assert control_store.organizations.find_by_url("HTTPS://contoso.crm11.dynamics.com/") == saved
    assert control_store.organizations.get(ORG_ID) == saved
    store_clock.advance(60)
    renamed = control_store.organizations.save(replace(CONTOSO, friendly_name="Contoso Ltd"))
    assert (renamed.friendly_name, renamed.created_at, renamed.modified_at) == ("Contoso Ltd", START, store_clock.now)
    assert control_store.organizations.list() == [renamed]


def test_privacy_terms_acceptance_is_kept_from_the_first_time(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    control_store.organizations.save(CONTOSO)
    accepted = control_store.organizations.accept_privacy_terms(ORG_ID, accepted_by="admin@contoso")
    store_clock.advance(60)
    again = control_store.organizations.accept_privacy_terms(ORG_ID, accepted_by="someone-else")
    assert accepted == again and again is not None
    assert (again.privacy_terms_accepted_at, again.privacy_terms_accepted_by) == (START, "admin@contoso")
    assert control_store.organizations.save(replace(CONTOSO, region="FRA")).privacy_terms_accepted_at == START
    assert control_store.organizations.accept_privacy_terms("unknown", accepted_by="x") is None


def test_profiles_round_trip_their_document(control_store: ControlStore, store_clock: MovableClock) -> None:
    control_store.organizations.save(CONTOSO)
    saved = control_store.profiles.save(profile())
    assert (saved.created_on, saved.modified_on) == (START, START)
    assert control_store.profiles.get(PROFILE_ID) == saved
    store_clock.advance(60)
    updated = control_store.profiles.save(profile(state=ProfileState.ACTIVE, retry_count=3))
    assert (updated.created_on, updated.modified_on, updated.state) == (START, store_clock.now, ProfileState.ACTIVE)
    assert control_store.profiles.list(ORG_ID) == [updated]
    assert control_store.profiles.list("other-org") == []
    assert control_store.profiles.get("missing") is None


def test_update_changes_the_stored_copy_in_one_transaction(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    control_store.organizations.save(CONTOSO)
    control_store.profiles.save(profile())
    control_store.profiles.save(profile(name="Renamed"))  # a writer the updater's own copy has not seen
    store_clock.advance(30)
    updated = control_store.profiles.update(PROFILE_ID, lambda stored: stored.model_copy(update={"last_error": "down"}))
    assert updated is not None and (updated.name, updated.last_error) == ("Renamed", "down")
    assert (updated.created_on, updated.modified_on) == (START, store_clock.now)
    assert control_store.profiles.get(PROFILE_ID) == updated
    assert control_store.profiles.update(PROFILE_ID, lambda stored: None) is None
    assert control_store.profiles.get(PROFILE_ID) == updated
    assert control_store.profiles.update("missing", lambda stored: stored) is None


def test_a_profile_needs_a_registered_organization(control_store: ControlStore) -> None:
    with pytest.raises(ControlDatabaseFault):
        control_store.profiles.save(profile())


def test_deleting_a_profile_removes_all_its_control_data(control_store: ControlStore) -> None:
    control_store.organizations.save(CONTOSO)
    control_store.profiles.save(profile())
    key, kept = SyncKey(PROFILE_ID, "account"), SyncKey("other-profile", "account")
    for subject in (key, kept):
        control_store.states.ensure(subject)
        assert control_store.leases.acquire(subject, "w", timedelta(seconds=30)) is not None
        control_store.tombstones.record(subject, [Tombstone("id-1", 1, START)])
        control_store.retries.enqueue(subject, [RetryItem("id-2", ChangeType.NEW, 1, "x", START, START)])
        control_store.retries.give_up_at_once(subject, RetryItem("id-3", ChangeType.NEW, 1, "x", START, START))
        control_store.seen.record(subject, ["id-4"])
        control_store.ledger.append(
            subject.profile_id, [FailureEntry("account", None, START, ChangeType.UPDATE, "outage")]
        )
    assert control_store.profiles.delete(PROFILE_ID) is True
    assert control_store.profiles.get(PROFILE_ID) is None
    assert control_store.states.load(key) is None and control_store.leases.current(key) is None
    assert control_store.tombstones.load(key, ["id-1"]) == {} and control_store.retries.queued_count(key) == 0
    assert (
        control_store.failed.count(key) == 0
        and control_store.seen.count(key) == 0
        and control_store.ledger.count(PROFILE_ID) == 0
    )
    assert control_store.states.load(kept) is not None and control_store.ledger.count("other-profile") == 2
    assert control_store.profiles.delete(PROFILE_ID) is False
