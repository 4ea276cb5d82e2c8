"""Admin access control, organization lifecycle and reset (spec §9.3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from test_admin_support import AdminEnv, admin_env

from dataverse_emulator.app import create_app
from dataverse_emulator.emulator import Emulator
from dataverse_emulator.settings import Settings


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[AdminEnv]:
    with admin_env(tmp_path) as built:
        yield built


# ----- access -------------------------------------------------------------------------------------------


def test_a_remote_client_without_the_key_is_refused(env: AdminEnv) -> None:
    for method, path in [("GET", "orgs"), ("POST", "faults"), ("POST", "reset"), ("PUT", "keyvault/secrets/x")]:
        response = env.client.request(method, f"/_emulator/{path}", json={})
        assert response.status_code == 403, path
        assert "X-Emulator-Admin-Key" in response.json()["error"]["message"]
    wrong = env.client.get("/_emulator/orgs", headers={"X-Emulator-Admin-Key": "guess"})
    assert wrong.status_code == 403
    assert env.store.counter > 0, "nothing was reset"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_loopback_clients_need_no_key(tmp_path: Path, host: str) -> None:
    emulator = Emulator(Settings(data_dir=tmp_path))
    client = TestClient(create_app(emulator.settings, emulator), client=(host, 50000))
    assert client.get("/_emulator/orgs").json() == {"orgs": []}


def test_a_configured_admin_key_is_accepted(tmp_path: Path) -> None:
    emulator = Emulator(Settings(data_dir=tmp_path, admin_key="configured-key"))
    client = TestClient(create_app(emulator.settings, emulator))
    assert client.get("/_emulator/clock", headers={"X-Emulator-Admin-Key": "configured-key"}).status_code == 200
    assert (
        client.get("/_emulator/clock", headers={"X-Emulator-Admin-Key": emulator.persistent.admin_key}).status_code
        == 200
    )


# ----- organizations ----------------------------------------------------------------------------------------


def test_orgs_are_generated_listed_and_dropped(env: AdminEnv) -> None:
    created = env.admin("POST", "orgs", {"unique_name": "fabrikam", "scale": 2, "seed": 5, "counts": {"task": 1}})
    assert created.status_code == 201
    body = created.json()
    assert body["base_path"] == "/fabrikam/api/data/v9.2/"
    assert body["counts"]["account"] == 2
    assert body["counts"]["task"] == 1
    listed = {org["name"]: org for org in env.ok("GET", "orgs")["orgs"]}
    assert set(listed) == {"contoso", "fabrikam"}
    assert listed["contoso"]["is_default"] is True
    assert listed["fabrikam"]["is_default"] is False
    token = env.token(org="fabrikam")
    assert len(env.api("GET", "/fabrikam/api/data/v9.2/accounts", token=token).json()["value"]) == 2
    assert env.admin("DELETE", "orgs/fabrikam").status_code == 204
    assert env.admin("DELETE", "orgs/fabrikam").status_code == 404
    assert [org["name"] for org in env.ok("GET", "orgs")["orgs"]] == ["contoso"]


def test_tracking_overrides_untrack_tables(env: AdminEnv) -> None:
    env.ok("POST", "orgs", {"unique_name": "untracked", "scale": 1, "tracking_overrides": {"account": False}})
    store = env.emulator.org("untracked")
    assert store is not None
    assert store.catalog.table("account").change_tracking is False  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "'unique_name'"),
        ({"unique_name": "has space"}, "'unique_name'"),
        ({"unique_name": "x", "profile": "huge"}, "profile"),
        ({"unique_name": "x", "scale": -1}, "'scale'"),
        ({"unique_name": "x", "counts": {"account": "many"}}, "'counts'"),
        ({"unique_name": "x", "tracking_overrides": {"nothing": True}}, "nothing"),
        ({"unique_name": "x", "tenant_id": "00000000-0000-0000-0000-000000000000"}, "'tenant_id'"),
        ({"unique_name": "x", "colour": "blue"}, "colour"),
    ],
)
def test_invalid_org_requests_are_400(env: AdminEnv, body: dict[str, Any], named: str) -> None:
    response = env.admin("POST", "orgs", body)
    assert response.status_code == 400
    assert named in response.json()["error"]["message"]


def test_a_body_that_is_not_an_object_is_400(env: AdminEnv) -> None:
    response = env.admin("POST", "orgs", [1, 2])
    assert response.status_code == 400
    assert "JSON object" in response.json()["error"]["message"]


# ----- reset --------------------------------------------------------------------------------------------------


def test_reset_returns_to_the_configured_start(env: AdminEnv) -> None:
    env.ok("POST", "orgs", {"unique_name": "fabrikam", "scale": 2, "counts": {"task": 1}})
    start = {org["name"]: (org["counter"], org["counts"]) for org in env.ok("GET", "orgs")["orgs"]}
    env.ok("POST", "orgs/contoso/workload", {"seed": 3, "creates": 5, "deletes": 2})
    env.ok("POST", "orgs/fabrikam/schema", {"op": "remove_table", "table": "task"})
    env.ok("POST", "faults", {"rules": [{"match": {"entity_set": "leads"}, "action": {"status": 500}}]})
    env.ok("POST", "throttling", {"requests": 1000})
    env.ok("POST", "change-tracking", {"expire_days": 2, "expired_style": "410"})
    env.ok("POST", "clock", {"now": "2030-01-01T00:00:00Z", "frozen": True})
    env.api("GET", "accounts")

    assert env.ok("POST", "reset") == {"orgs": ["contoso", "fabrikam"]}

    after = {org["name"]: (org["counter"], org["counts"]) for org in env.ok("GET", "orgs")["orgs"]}
    assert after == start
    assert env.ok("GET", "faults")["rules"] == []
    assert env.ok("GET", "throttling")["enabled"] is False
    assert env.ok("GET", "change-tracking") == {"expire_days": 7.0, "expired_style": "400"}
    assert env.ok("GET", "clock")["frozen"] is False
    assert env.ok("GET", "requests")["entries"] == []
    assert env.api("GET", "leads").status_code == 200
