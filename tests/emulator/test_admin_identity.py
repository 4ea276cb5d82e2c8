"""Admin identity operations: tokens, signing keys, users, Key Vault secrets (spec §9.3)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from test_admin_support import AdminEnv, admin_env

from dataverse_emulator.generator import SYSTEM_ADMINISTRATOR_TEMPLATE_ID


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[AdminEnv]:
    with admin_env(tmp_path) as built:
        yield built


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})  # type: ignore[no-any-return]


def who_am_i(env: AdminEnv, token: str) -> Any:
    return env.api("GET", "WhoAmI", token=token)


# ----- tokens -----------------------------------------------------------------------------------------------


def test_a_default_token_is_the_default_apps_for_the_default_org(env: AdminEnv) -> None:
    body = env.ok("POST", "tokens", {})
    assert set(body) >= {"access_token", "expires_on"}
    payload = claims(body["access_token"])
    persistent = env.emulator.persistent
    assert (payload["appid"], payload["oid"], payload["idtyp"]) == (
        persistent.client_id,
        persistent.app_object_id,
        "app",
    )
    assert payload["aud"] == "http://testserver"
    app_user = env.emulator.identities("contoso").user("app")
    assert who_am_i(env, body["access_token"]).json()["UserId"] == app_user.systemuserid


def test_sample_user_keys_mint_user_tokens(env: AdminEnv) -> None:
    identities = env.emulator.identities("contoso")
    token = env.token(user="teamadmin")
    payload = claims(token)
    assert (payload["idtyp"], payload["oid"]) == ("user", identities.user("teamadmin").oid)
    assert who_am_i(env, token).json()["UserId"] == identities.user("teamadmin").systemuserid
    assert who_am_i(env, env.token(user="disabled")).status_code == 403


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"expires_in": -3600}, 401),
        ({"aud": "https://elsewhere.example"}, 401),
        ({"sign_with": "unpublished-kid"}, 401),
        ({"kind": "user", "oid": "11111111-2222-4333-8444-555555555555"}, 401),
        ({"version": "2.0", "extra_claims": {"roles": ["x"]}}, 200),
    ],
)
def test_tokens_can_be_expired_misdirected_or_foreign(env: AdminEnv, body: dict[str, Any], status: int) -> None:
    assert who_am_i(env, env.token(**body)).status_code == status


def test_token_fields_are_validated(env: AdminEnv) -> None:
    for body, named in [
        ({"user": "nobody"}, "nobody"),
        ({"org": "elsewhere"}, "'org'"),
        ({"kind": "robot"}, "'kind'"),
        ({"expires_in": "soon"}, "'expires_in'"),
        ({"scope": "x"}, "scope"),
    ]:
        response = env.admin("POST", "tokens", body)
        assert response.status_code == 400, body
        assert named in response.json()["error"]["message"]


def test_keys_can_be_added_and_chosen_for_signing(env: AdminEnv) -> None:
    old_token = env.token()
    added = env.ok("POST", "keys", {"kid": "rotated-2", "use": True})
    assert added["added"] is True
    assert added["signing_kid"] == "rotated-2"
    assert env.ok("GET", "keys")["kids"][-1] == "rotated-2"
    new_token = env.token()
    assert jwt.get_unverified_header(new_token)["kid"] == "rotated-2"
    assert who_am_i(env, new_token).status_code == 200
    assert who_am_i(env, old_token).status_code == 200, "old keys stay published"
    back = env.ok("POST", "keys", {"kid": "emu-2024-1", "use": True})
    assert (back["added"], back["signing_kid"]) == (False, "emu-2024-1")


# ----- users --------------------------------------------------------------------------------------------------


def test_a_new_user_with_a_role_can_call_the_web_api(env: AdminEnv) -> None:
    oid = str(uuid.uuid4())
    written = env.ok(
        "POST",
        "orgs/contoso/users",
        {"oid": oid, "first_name": "Robin", "last_name": "Quill", "upn": "robin@example.test", "roles": ["sysadmin"]},
    )["users"][0]
    assert written["created"] is True
    assert written["oid"] == oid
    sysadmin = env.emulator.identities("contoso").role("sysadmin").roleid
    assert written["roles"] == [sysadmin]
    token = env.token(kind="user", oid=oid)
    assert who_am_i(env, token).json()["UserId"] == written["systemuserid"]
    roles = env.api(
        "GET",
        f"systemusers({written['systemuserid']})/systemuserroles_association?$select=_roletemplateid_value",
        token=token,
    ).json()["value"]
    assert [r["_roletemplateid_value"] for r in roles] == [SYSTEM_ADMINISTRATOR_TEMPLATE_ID]


def test_users_can_be_disabled_and_their_memberships_replaced(env: AdminEnv) -> None:
    identities = env.emulator.identities("contoso")
    _, delta_link = env.baseline("teammemberships")
    changed = env.ok(
        "POST",
        "orgs/contoso/users",
        {"users": [{"user": "user", "disabled": True, "teams": ["Administrators team"], "roles": []}]},
    )["users"][0]
    assert changed["created"] is False
    assert changed["disabled"] is True
    assert changed["teams"] == [identities.team("administrators").teamid]
    assert changed["roles"] == []
    assert who_am_i(env, env.token(user="user")).status_code == 403
    delta = env.api("GET", delta_link).json()["value"]
    assert sum(1 for row in delta if row.get("reason") == "deleted") == 1, "the default team link went"
    assert sum(1 for row in delta if "teammembershipid" in row) == 1
    env.ok("POST", "orgs/contoso/users", {"user": "user", "disabled": False})
    assert who_am_i(env, env.token(user="user")).status_code == 200


def test_an_application_user_can_be_added(env: AdminEnv) -> None:
    app_id = str(uuid.uuid4())
    written = env.ok("POST", "orgs/contoso/users", {"application_id": app_id})["users"][0]
    row = env.store.get("systemuser", written["systemuserid"])
    assert row is not None
    assert (row.data["applicationid"], row.data["accessmode"]) == (app_id, 4)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"user": "ghost"}, "ghost"),
        ({"first_name": "Nobody"}, "'oid'"),
        ({"user": "admin", "roles": ["Astronaut"]}, "Astronaut"),
        ({"oid": "not-a-guid"}, "'oid'"),
        ({"user": "admin", "favourite": 1}, "favourite"),
        ({"users": {"user": "admin"}}, "'users'"),
    ],
)
def test_invalid_user_requests_are_400(env: AdminEnv, body: dict[str, Any], named: str) -> None:
    response = env.admin("POST", "orgs/contoso/users", body)
    assert response.status_code == 400
    assert named in response.json()["error"]["message"]


# ----- Key Vault secrets -----------------------------------------------------------------------------------------


def test_secrets_are_set_as_versions_and_deleted(env: AdminEnv) -> None:
    first = env.ok("PUT", "keyvault/secrets/db-password", {"value": "one", "tags": {"env": "test"}})
    second = env.ok("PUT", "keyvault/secrets/db-password", {"value": "two"})
    assert first["version"] != second["version"]
    latest = env.emulator.vault.get("db-password")
    assert latest is not None and latest.value == "two"
    assert env.admin("DELETE", "keyvault/secrets/db-password").status_code == 204
    assert env.admin("DELETE", "keyvault/secrets/db-password").status_code == 404
    bad = env.admin("PUT", "keyvault/secrets/db-password", {"value": 5})
    assert bad.status_code == 400
    assert "'value'" in bad.json()["error"]["message"]
