"""Admin minting (``POST /_emulator/tokens``) and signing-key rotation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from test_identity_support import APP_OID, CLIENT_ID, DOMAIN, ORG_URL, TENANT_ID, USER_OID, USER_UPN, make_directory

from dataverse_emulator.clock import Clock
from dataverse_emulator.identity.admin import AdminRequestError, admin_identity_routes, parse_token_request
from dataverse_emulator.identity.bearer import BearerError, validate_bearer
from dataverse_emulator.identity.directory import StaticDirectory
from dataverse_emulator.identity.keys import DEFAULT_KID, KeyRing

BASE = "http://testserver"


@pytest.fixture
def directory() -> StaticDirectory:
    clock = Clock()
    clock.set(datetime(2024, 5, 2, 8, 0, tzinfo=UTC), frozen=True)
    return make_directory(KeyRing.load_or_create(None), clock)


@pytest.fixture
def client(directory: StaticDirectory) -> Iterator[TestClient]:
    with TestClient(Starlette(routes=admin_identity_routes(directory))) as client:
        yield client


def _validate(directory: StaticDirectory, token: str) -> dict[str, Any]:
    identity = validate_bearer(
        f"Bearer {token}", keyring=directory.keyring, clock=directory.clock, audiences=[ORG_URL], base_url=BASE
    )
    return dict(identity.claims)


def test_minimal_app_token_defaults(directory: StaticDirectory) -> None:
    request = parse_token_request({"client_id": CLIENT_ID, "aud": ORG_URL}, directory)

    assert (request.tenant_id, request.kind, request.oid, request.version, request.expires_in) == (
        TENANT_ID,
        "app",
        APP_OID,
        "1.0",
        3599,
    )


def test_user_token_by_upn_and_domain_tenant(directory: StaticDirectory) -> None:
    body = {"tenant": DOMAIN, "kind": "user", "client_id": CLIENT_ID, "aud": ORG_URL, "upn": USER_UPN}
    request = parse_token_request(body, directory)
    assert (request.tenant_id, request.oid, request.kind) == (TENANT_ID, USER_OID, "user")


def test_foreign_tenant_guid_is_used_as_is(directory: StaticDirectory) -> None:
    foreign = "12345678-1234-4234-8234-123456789abc"
    body = {"tenant": foreign, "client_id": "x", "oid": "y", "aud": ORG_URL}
    assert parse_token_request(body, directory).tenant_id == foreign


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ({"aud": ORG_URL}, "'client_id' is required"),
        ({"client_id": CLIENT_ID}, "'aud' is required"),
        ({"client_id": "unknown", "aud": ORG_URL}, "give 'oid'"),
        ({"client_id": CLIENT_ID, "aud": ORG_URL, "kind": "robot"}, "'kind' must be one of"),
        ({"client_id": CLIENT_ID, "aud": ORG_URL, "kind": "user"}, "'upn' of a configured user"),
        ({"client_id": CLIENT_ID, "aud": ORG_URL, "expires_in": "soon"}, "'expires_in' must be an integer"),
        ({"client_id": CLIENT_ID, "aud": ORG_URL, "extra_claims": []}, "'extra_claims'"),
        ({"client_id": CLIENT_ID, "aud": ORG_URL, "tenant": "nope.example"}, "not a known domain"),
    ],
)
def test_invalid_bodies(directory: StaticDirectory, body: object, message: str) -> None:
    with pytest.raises(AdminRequestError, match=message):
        parse_token_request(body, directory)


def test_minted_tokens_cover_the_negative_cases(client: TestClient, directory: StaticDirectory) -> None:
    def mint(**fields: object) -> str:
        response = client.post("/_emulator/tokens", json={"client_id": CLIENT_ID, "aud": ORG_URL} | fields)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    assert _validate(directory, mint(extra_claims={"roles": ["x"]}))["roles"] == ["x"]
    for token, reason in [
        (mint(expires_in=-600), "expired"),
        (mint(aud="https://wrong.example.test"), "audience"),
        (mint(sign_with="unknown-kid"), "unknown key"),
    ]:
        with pytest.raises(BearerError, match=reason):
            _validate(directory, token)


def test_mint_response_and_bad_request(client: TestClient) -> None:
    body = client.post("/_emulator/tokens", json={"client_id": CLIENT_ID, "aud": ORG_URL, "version": "2.0"}).json()
    assert body["kid"] == DEFAULT_KID
    assert body["expires_on"] == int(datetime(2024, 5, 2, 9, 0, tzinfo=UTC).timestamp()) - 1
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["ver"] == "2.0"

    bad = client.post("/_emulator/tokens", content=b"nope")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "BadRequest")


def test_key_rotation(client: TestClient, directory: StaticDirectory) -> None:
    old_token = client.post("/_emulator/tokens", json={"client_id": CLIENT_ID, "aud": ORG_URL}).json()["access_token"]

    added = client.post("/_emulator/keys", json={"kid": "emu-next"})
    assert added.status_code == 201
    assert added.json() == {"kid": "emu-next", "signing_kid": DEFAULT_KID}
    assert client.post("/_emulator/keys", json={"kid": "emu-next"}).status_code == 400
    assert client.put("/_emulator/keys/signing", json={"kid": "missing"}).status_code == 404
    assert client.put("/_emulator/keys/signing", json={"kid": "emu-next"}).json() == {
        "signing_kid": "emu-next",
        "kids": [DEFAULT_KID, "emu-next"],
    }

    new = client.post("/_emulator/tokens", json={"client_id": CLIENT_ID, "aud": ORG_URL}).json()
    assert new["kid"] == "emu-next"
    _validate(directory, new["access_token"])
    _validate(directory, old_token)  # old keys stay published
    auto = client.post("/_emulator/keys", json={"use": True}).json()
    assert auto["signing_kid"] == auto["kid"] == client.get("/_emulator/keys").json()["signing_kid"]
