"""Fault plans against the real Web API (spec §6.4, §9.3 ``/faults``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_admin_support import AdminEnv, admin_env

EXPIRED = "0x80044352"


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[AdminEnv]:
    with admin_env(tmp_path) as built:
        yield built


def plan(env: AdminEnv, *rules: dict[str, Any], seed: int = 7) -> dict[str, Any]:
    return env.ok("POST", "faults", {"seed": seed, "rules": list(rules)})  # type: ignore[no-any-return]


@pytest.mark.parametrize("style", ["400", "410"])
def test_expire_token_answers_like_an_expired_delta_token(env: AdminEnv, style: str) -> None:
    env.ok("POST", "change-tracking", {"expired_style": style})
    _, delta_link = env.baseline("contacts")
    plan(
        env,
        {"match": {"has_query": "$deltatoken", "entity_set": "contacts"}, "action": {"expire_token": True}, "times": 1},
    )
    expired = env.api("GET", delta_link.replace("$deltatoken", "%24deltatoken"))
    assert expired.status_code == int(style)
    assert expired.json()["error"]["code"] == EXPIRED
    assert expired.json()["error"]["message"].startswith("Version stamp associated with the client has expired")
    if style == "410":
        assert expired.headers["Location"] == "http://testserver/api/data/v9.2/contacts"
    assert env.api("GET", delta_link).status_code == 200, "times=1: the next delta request goes through"


def test_disable_tracking_switches_tracking_off_until_enabled_again(env: AdminEnv) -> None:
    _, delta_link = env.baseline("contacts")
    version = env.store.metadata_version
    plan(env, {"match": {"entity_set": "contacts", "has_query": "$deltatoken"}, "action": {"disable_tracking": True}})
    lost = env.api("GET", delta_link)
    assert lost.status_code == 400
    assert lost.json()["error"] == {
        "code": "0x80040203",
        "message": "Change tracking is not enabled for the entity 'contact'.",
    }
    assert env.store.metadata_version == version + 1
    env.ok("DELETE", "faults")
    metadata = env.api("GET", "EntityDefinitions(LogicalName='contact')?$select=ChangeTrackingEnabled").json()
    assert metadata["ChangeTrackingEnabled"] is False
    baseline = env.api("GET", "contacts", headers={"Prefer": "odata.track-changes"})
    assert baseline.status_code == 400, "tracking stays off after the fault is cleared"
    env.ok("POST", "orgs/contoso/schema", {"op": "enable_tracking", "table": "contact"})
    assert env.baseline("contacts")[1]


def test_drop_pk_removes_the_primary_key_from_the_first_row(env: AdminEnv) -> None:
    plan(env, {"match": {"entity_set": "accounts"}, "action": {"malform": "drop_pk"}})
    rows = env.api("GET", "accounts?$select=name").json()["value"]
    assert "accountid" not in rows[0]
    assert all("accountid" in row for row in rows[1:])


def test_page_matches_the_page_number_of_a_sequence(env: AdminEnv) -> None:
    plan(env, {"match": {"entity_set": "contacts", "page": 2}, "action": {"status": 503}})
    prefer = {"Prefer": "odata.track-changes, odata.maxpagesize=4"}
    token = env.token()
    first = env.api("GET", "contacts", token=token, headers=prefer)
    assert first.status_code == 200
    second = env.api("GET", first.json()["@odata.nextLink"], token=token, headers=prefer)
    assert second.status_code == 503
    assert second.json()["error"]["message"] == "The service is temporarily unavailable. Please try again later."


def test_min_pagesize_selects_large_pages(env: AdminEnv) -> None:
    plan(env, {"match": {"entity_set": "accounts", "min_pagesize": 1001}, "action": {"status": 500}})
    assert env.api("GET", "accounts").status_code == 500, "no maxpagesize means 5000"
    assert env.api("GET", "accounts", headers={"Prefer": "odata.maxpagesize=1000"}).status_code == 200
    assert env.api("GET", "accounts", headers={"Prefer": "odata.maxpagesize=1001"}).status_code == 500


def test_duplicate_row_repeats_a_row_across_real_pages(env: AdminEnv) -> None:
    plan(env, {"match": {"entity_set": "contacts", "page": 2}, "action": {"malform": "duplicate_row"}})
    rows, _ = env.baseline("contacts", page_size=5)
    ids = [row["contactid"] for row in rows]
    assert ids[4] == ids[5]
    assert len(set(ids)) == len(ids) - 1


def test_the_token_endpoint_can_fail_too(env: AdminEnv) -> None:
    plan(env, {"match": {"path_regex": "/oauth2/", "method": "POST"}, "action": {"status": 503}, "times": 1})
    tenant = env.emulator.persistent.tenant_id
    form = {
        "grant_type": "client_credentials",
        "client_id": env.emulator.persistent.client_id,
        "client_secret": env.emulator.persistent.client_secret,
        "scope": "http://testserver/.default",
    }
    assert env.client.post(f"/{tenant}/oauth2/v2.0/token", data=form).status_code == 503
    assert env.client.post(f"/{tenant}/oauth2/v2.0/token", data=form).status_code == 200


def test_identity_selects_one_caller(env: AdminEnv) -> None:
    user = env.emulator.identities("contoso").user("admin")
    plan(env, {"match": {"identity": user.oid}, "action": {"status": 401}})
    assert env.api("GET", "accounts", token=env.token(user="admin")).status_code == 401
    assert env.api("GET", "accounts", token=env.token()).status_code == 200


def test_fault_state_reports_matches_and_firings(env: AdminEnv) -> None:
    plan(
        env,
        {
            "match": {"method": "GET", "entity_set": "accounts", "nth": [2, 3]},
            "action": {"status": 429, "retry_after": 3},
        },
        {"match": {"any": True}, "action": {"delay_ms": 1}, "times": 1},
    )
    token = env.token()
    statuses = [env.api("GET", "accounts", token=token).status_code for _ in range(4)]
    assert statuses == [200, 429, 429, 200]
    state = env.ok("GET", "faults")
    assert state["seed"] == 7
    assert [(r["matched"], r["fired"]) for r in state["rules"]] == [(4, 2), (4, 1)]
    assert state["rules"][0]["action"] == {"status": 429, "retry_after": 3}
    env.ok("DELETE", "faults")
    assert env.ok("GET", "faults")["rules"] == []


def test_a_bad_plan_is_refused_with_the_rule_named(env: AdminEnv) -> None:
    response = env.admin(
        "POST", "faults", {"rules": [{"match": {}, "action": {"status": 500}}, {"match": {"nth": 0.5}}]}
    )
    assert response.status_code == 400
    assert "rules[1]" in response.json()["error"]["message"]
    response = env.admin("POST", "faults", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]
