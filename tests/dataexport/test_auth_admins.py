"""The System Administrator check against the emulator's sample organizations (webapi §7.7, des.md §3.1).

Sample users (``dataverse_emulator.generator.identities``): ``admin`` holds the role directly, ``teamadmin``
only through a team, ``user`` holds Salesperson only, ``disabled`` holds the role but is disabled, and the
default application's user holds the role directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_source_support import BASE, ORG, EmulatorEnv, FakeTime, emulator_env

from dataexport.auth import (
    CachedAdminCheck,
    DataverseAdminLookup,
    Principal,
    PrincipalKind,
)
from dataexport.errors import SourceUnavailable
from dataexport.source.dataverse import DataverseSource
from dataexport.source.dataverse.users import SYSTEM_ADMINISTRATOR_TEMPLATE_ID

OTHER_ORG = "fabrikam"


@dataclass
class Orgs:
    env: EmulatorEnv
    sources: dict[str, DataverseSource]

    def id_of(self, name: str) -> str:
        store = self.env.emulator.org(name)
        assert store is not None
        return store.info.organization_id

    def source(self, organization_id: str) -> DataverseSource:
        return self.sources[organization_id]

    def person(self, key: str) -> Principal:
        return Principal(PrincipalKind.USER, self.env.emulator.identities(ORG).user(key).oid)

    @property
    def app(self) -> Principal:
        return Principal(PrincipalKind.APPLICATION, self.env.emulator.persistent.client_id.lower())

    def user_reads(self) -> int:
        """Web API reads of users and teams served so far."""
        return sum(1 for entry in self.env.requests() if entry["entity_set"] in ("systemusers", "teams"))


@pytest.fixture
def orgs(tmp_path: Path) -> Iterator[Orgs]:
    with emulator_env(tmp_path, scale=1) as env:
        env.admin("POST", "orgs", {"unique_name": OTHER_ORG, "scale": 1, "seed": 2})
        found = Orgs(env, {})
        found.sources[found.id_of(ORG)] = env.source(FakeTime())
        other = env.config(org_url=f"{BASE}/{OTHER_ORG}")
        found.sources[found.id_of(OTHER_ORG)] = DataverseSource(
            other, http=env.client, clock=FakeTime().clock, sleep=FakeTime().sleep
        )
        yield found


@pytest.fixture
def lookup(orgs: Orgs) -> DataverseAdminLookup:
    return DataverseAdminLookup(orgs.source)


# ----- the source's read -----------------------------------------------------------------------------------


def test_a_team_role_counts_with_the_direct_ones(orgs: Orgs) -> None:
    source = orgs.source(orgs.id_of(ORG))
    identities = orgs.env.emulator.identities(ORG)

    via_team = source.system_user_roles(object_id=identities.user("teamadmin").oid)
    direct = source.system_user_roles(object_id=identities.user("admin").oid)
    salesperson = source.system_user_roles(object_id=identities.user("user").oid)

    assert via_team is not None and direct is not None and salesperson is not None
    assert via_team.systemuser_id == identities.user("teamadmin").systemuserid
    assert SYSTEM_ADMINISTRATOR_TEMPLATE_ID in via_team.role_template_ids
    assert identities.team("administrators").teamid in via_team.team_ids
    assert SYSTEM_ADMINISTRATOR_TEMPLATE_ID in direct.role_template_ids
    assert salesperson.role_template_ids == {identities.role("salesperson").template_id}
    assert (via_team.is_system_administrator, direct.is_system_administrator) == (True, True)
    assert salesperson.is_system_administrator is False


def test_an_application_user_is_found_by_its_application_id(orgs: Orgs) -> None:
    access = orgs.source(orgs.id_of(ORG)).system_user_roles(application_id=orgs.env.emulator.persistent.client_id)

    assert access is not None
    assert access.systemuser_id == orgs.env.emulator.identities(ORG).user("app").systemuserid
    assert access.is_system_administrator


def test_someone_not_in_the_org_has_no_access_and_a_non_guid_costs_no_request(orgs: Orgs) -> None:
    source = orgs.source(orgs.id_of(ORG))

    assert source.system_user_roles(object_id=str(uuid.uuid4())) is None
    before = orgs.user_reads()
    assert source.system_user_roles(object_id="x' or 1 eq 1") is None
    assert orgs.user_reads() == before
    with pytest.raises(ValueError, match="exactly one"):
        source.system_user_roles()


# ----- the check -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [("admin", True), ("teamadmin", True), ("user", False), ("disabled", False)],
)
def test_sample_people(orgs: Orgs, lookup: DataverseAdminLookup, key: str, expected: bool) -> None:
    assert lookup.is_system_administrator(orgs.id_of(ORG), orgs.person(key)) is expected


def test_the_application_user_holding_the_role_may_manage(orgs: Orgs, lookup: DataverseAdminLookup) -> None:
    assert lookup.is_system_administrator(orgs.id_of(ORG), orgs.app) is True


def test_an_unknown_application_may_not(orgs: Orgs, lookup: DataverseAdminLookup) -> None:
    stranger = Principal(PrincipalKind.APPLICATION, str(uuid.uuid4()))

    assert lookup.is_system_administrator(orgs.id_of(ORG), stranger) is False


def test_an_admin_of_another_org_is_not_an_admin_here(orgs: Orgs, lookup: DataverseAdminLookup) -> None:
    oid = str(uuid.uuid4())
    orgs.env.admin(
        "POST", f"orgs/{OTHER_ORG}/users", {"oid": oid, "upn": "elsewhere@example.test", "roles": ["sysadmin"]}
    )
    elsewhere = Principal(PrincipalKind.USER, oid)

    assert lookup.is_system_administrator(orgs.id_of(OTHER_ORG), elsewhere) is True
    assert lookup.is_system_administrator(orgs.id_of(ORG), elsewhere) is False


def test_a_disabled_admin_of_one_org_is_judged_per_org(orgs: Orgs, lookup: DataverseAdminLookup) -> None:
    orgs.env.admin("POST", f"orgs/{OTHER_ORG}/users", {"user": "admin", "disabled": True})

    assert lookup.is_system_administrator(orgs.id_of(OTHER_ORG), orgs.person("admin")) is False
    assert lookup.is_system_administrator(orgs.id_of(ORG), orgs.person("admin")) is True


def test_api_keys_manage_their_orgs_without_asking_dataverse(orgs: Orgs, lookup: DataverseAdminLookup) -> None:
    one = Principal(PrincipalKind.API_KEY, "ci", organizations=frozenset({orgs.id_of(ORG)}))
    every = Principal(PrincipalKind.API_KEY, "ops", organizations=frozenset({"*"}))
    cached = CachedAdminCheck(lookup.is_system_administrator)
    before = len(orgs.env.requests())

    for check in (lookup, cached):
        assert check.is_system_administrator(orgs.id_of(ORG), one) is True
        assert check.is_system_administrator(orgs.id_of(ORG).upper(), one) is True
        assert check.is_system_administrator(orgs.id_of(OTHER_ORG), one) is False
        assert check.is_system_administrator(orgs.id_of(OTHER_ORG), every) is True
    assert len(orgs.env.requests()) == before


# ----- caching ---------------------------------------------------------------------------------------------


def test_answers_are_cached_yes_and_no_alike_then_expire(orgs: Orgs, lookup: DataverseAdminLookup) -> None:
    clock = FakeTime()
    check = CachedAdminCheck(lookup.is_system_administrator, ttl_seconds=300, clock=clock.clock)
    org = orgs.id_of(ORG)
    assert check.is_system_administrator(org, orgs.person("admin")) is True
    assert check.is_system_administrator(org, orgs.person("user")) is False
    reads = orgs.user_reads()

    for _ in range(3):
        assert check.is_system_administrator(org, orgs.person("admin")) is True
        assert check.is_system_administrator(org, orgs.person("user")) is False
    assert orgs.user_reads() == reads

    orgs.env.admin("POST", f"orgs/{ORG}/users", {"user": "admin", "roles": []})
    orgs.env.admin("POST", f"orgs/{ORG}/users", {"user": "user", "roles": ["sysadmin"]})
    clock.now += 299
    assert check.is_system_administrator(org, orgs.person("admin")) is True, "still the cached answer"
    clock.now += 2
    assert check.is_system_administrator(org, orgs.person("admin")) is False
    assert check.is_system_administrator(org, orgs.person("user")) is True
    assert orgs.user_reads() > reads


def test_the_cache_is_per_org_and_per_caller(orgs: Orgs, lookup: DataverseAdminLookup) -> None:
    check = CachedAdminCheck(lookup.is_system_administrator)
    orgs.env.admin("POST", f"orgs/{OTHER_ORG}/users", {"user": "admin", "roles": []})

    assert check.is_system_administrator(orgs.id_of(ORG), orgs.person("admin")) is True
    assert check.is_system_administrator(orgs.id_of(OTHER_ORG), orgs.person("admin")) is False
    assert check.is_system_administrator(orgs.id_of(ORG), orgs.person("user")) is False


def test_an_unreachable_org_raises_and_is_not_cached(orgs: Orgs, lookup: DataverseAdminLookup) -> None:
    check = CachedAdminCheck(lookup.is_system_administrator)
    orgs.env.faults({"match": {"entity_set": "systemusers"}, "action": {"status": 503}})

    with pytest.raises(SourceUnavailable):
        check.is_system_administrator(orgs.id_of(ORG), orgs.person("admin"))

    orgs.env.admin("DELETE", "faults")
    assert check.is_system_administrator(orgs.id_of(ORG), orgs.person("admin")) is True
