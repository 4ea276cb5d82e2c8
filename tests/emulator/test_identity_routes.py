"""Token, discovery and JWKS endpoints over HTTP (in process, Starlette TestClient)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from test_identity_support import (
    APP_OID,
    CLIENT_ID,
    CLIENT_SECRET,
    DOMAIN,
    FOREIGN_CLIENT_ID,
    ORG_URL,
    TENANT_ID,
    USER_OID,
    USER_PASSWORD,
    USER_UPN,
    make_directory,
)

from dataverse_emulator.clock import Clock
from dataverse_emulator.identity.bearer import validate_bearer
from dataverse_emulator.identity.directory import StaticDirectory
from dataverse_emulator.identity.keys import KeyRing
from dataverse_emulator.identity.routes import identity_routes

BASE = "http://testserver"
V2_TOKEN = f"/{TENANT_ID}/oauth2/v2.0/token"
V1_TOKEN = f"/{TENANT_ID}/oauth2/token"
APP_FORM = {
    "grant_type": "client_credentials",
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "scope": f"{ORG_URL}/.default",
}


@pytest.fixture(scope="module")
def keyring() -> KeyRing:
    return KeyRing.load_or_create(None)


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.set(datetime(2024, 5, 2, 8, 20, tzinfo=UTC), frozen=True)
    return clock


def _client(directory: StaticDirectory) -> TestClient:
    return TestClient(Starlette(routes=identity_routes(directory)))


@pytest.fixture
def directory(keyring: KeyRing, clock: Clock) -> StaticDirectory:
    return make_directory(keyring, clock)


@pytest.fixture
def client(directory: StaticDirectory) -> Iterator[TestClient]:
    with _client(directory) as client:
        yield client


def _claims(directory: StaticDirectory, token: str, audience: str = ORG_URL) -> dict[str, Any]:
    identity = validate_bearer(
        f"Bearer {token}", keyring=directory.keyring, clock=directory.clock, audiences=[audience], base_url=BASE
    )
    return dict(identity.claims)


def _assert_entra_error(response: Any, status: int, error: str, code: int) -> None:
    body = response.json()
    assert response.status_code == status, body
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert body["timestamp"] == "2024-05-02 08:20:00Z"
    assert {"trace_id", "correlation_id"} <= body.keys()


def test_v2_client_credentials_issues_a_v1_app_token(client: TestClient, directory: StaticDirectory) -> None:
    response = client.post(V2_TOKEN, data=APP_FORM | {"client_info": "1"}, headers={"x-client-sku": "MSAL.Python"})

    body = response.json()
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("no-store")
    assert body.keys() == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert (body["token_type"], body["expires_in"], body["ext_expires_in"]) == ("Bearer", 3599, 3599)
    claims = _claims(directory, body["access_token"])
    assert (claims["ver"], claims["iss"], claims["aud"]) == ("1.0", f"{BASE}/{TENANT_ID}/", ORG_URL)
    assert (claims["appid"], claims["oid"], claims["idtyp"], claims["appidacr"]) == (CLIENT_ID, APP_OID, "app", "1")


def test_domain_tenant_and_basic_authentication(client: TestClient, directory: StaticDirectory) -> None:
    form = {"grant_type": "client_credentials", "scope": f"{ORG_URL}//.default"}
    response = client.post(f"/{DOMAIN}/oauth2/v2.0/token", data=form, auth=(CLIENT_ID, CLIENT_SECRET))

    assert response.status_code == 200, response.json()
    assert _claims(directory, response.json()["access_token"])["tid"] == TENANT_ID


def test_v2_tokens_when_configured(keyring: KeyRing, clock: Clock) -> None:
    directory = make_directory(keyring, clock, token_version="2.0")
    with _client(directory) as client:
        token = client.post(V2_TOKEN, data=APP_FORM).json()["access_token"]
        v1_token = client.post(V1_TOKEN, data=APP_FORM | {"resource": ORG_URL}).json()["access_token"]

    claims = _claims(directory, token)
    assert (claims["ver"], claims["iss"], claims["azp"], claims["azpacr"]) == (
        "2.0",
        f"{BASE}/{TENANT_ID}/v2.0",
        CLIENT_ID,
        "1",
    )
    assert _claims(directory, v1_token)["ver"] == "1.0"


def test_v1_endpoint_takes_resource_and_answers_with_strings(client: TestClient, directory: StaticDirectory) -> None:
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    body = client.post(V1_TOKEN, data=form | {"resource": f"{ORG_URL}/"}).json()

    issued_at = int(datetime(2024, 5, 2, 8, 20, tzinfo=UTC).timestamp())
    assert {key: body[key] for key in ("expires_in", "ext_expires_in", "expires_on", "not_before", "resource")} == {
        "expires_in": "3599",
        "ext_expires_in": "3599",
        "expires_on": str(issued_at + 3599),
        "not_before": str(issued_at),
        "resource": f"{ORG_URL}/",
    }
    assert _claims(directory, body["access_token"])["aud"] == ORG_URL


def test_client_assertion_is_accepted_unverified(client: TestClient, directory: StaticDirectory) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "scope": f"{ORG_URL}/.default",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": "header.payload.signature",
    }
    body = client.post(V2_TOKEN, data=form).json()

    assert _claims(directory, body["access_token"])["appidacr"] == "2"


def test_password_grant_issues_a_user_token(client: TestClient, directory: StaticDirectory) -> None:
    form = {
        "grant_type": "password",
        "client_id": CLIENT_ID,
        "username": USER_UPN.upper(),
        "password": USER_PASSWORD,
        "scope": f"openid profile offline_access {ORG_URL}/user_impersonation",
    }
    body = client.post(V2_TOKEN, data=form).json()

    claims = _claims(directory, body["access_token"])
    assert (claims["idtyp"], claims["oid"], claims["upn"], claims["scp"]) == (
        "user",
        USER_OID,
        USER_UPN,
        "user_impersonation",
    )
    assert (claims["appid"], claims["appidacr"], claims["name"]) == (CLIENT_ID, "0", "Alex Doe")


def test_password_grant_on_v1(client: TestClient, directory: StaticDirectory) -> None:
    form = {"grant_type": "password", "client_id": CLIENT_ID, "username": USER_UPN, "password": USER_PASSWORD}
    body = client.post(V1_TOKEN, data=form | {"resource": ORG_URL}).json()

    assert _claims(directory, body["access_token"])["oid"] == USER_OID


def test_correlation_id_echoes_client_request_id(client: TestClient) -> None:
    request_id = "0f0e0d0c-0b0a-4909-8807-060504030201"
    response = client.post(
        V2_TOKEN, data=APP_FORM | {"client_secret": "wrong"}, headers={"client-request-id": request_id}
    )
    assert response.json()["correlation_id"] == request_id


@pytest.mark.parametrize(
    ("path", "changes", "status", "error", "code"),
    [
        (V2_TOKEN, {"client_secret": "wrong"}, 401, "invalid_client", 7000215),
        (V2_TOKEN, {"client_secret": ""}, 401, "invalid_client", 7000218),
        (V2_TOKEN, {"client_id": "99999999-2222-3333-4444-555555555555"}, 401, "invalid_client", 700016),
        (V2_TOKEN, {"client_id": FOREIGN_CLIENT_ID, "client_secret": "other"}, 401, "invalid_client", 700016),
        (V2_TOKEN, {"client_id": ""}, 400, "invalid_request", 900144),
        (V2_TOKEN, {"grant_type": ""}, 400, "invalid_request", 900144),
        (V2_TOKEN, {"grant_type": "authorization_code"}, 400, "unsupported_grant_type", 70003),
        (V2_TOKEN, {"scope": ""}, 400, "invalid_request", 900144),
        (V2_TOKEN, {"scope": f"{ORG_URL}/user_impersonation"}, 400, "invalid_scope", 1002012),
        (V2_TOKEN, {"scope": f"{ORG_URL}/.default https://other.test/.default"}, 400, "invalid_scope", 1002012),
        (V1_TOKEN, {}, 400, "invalid_request", 900144),
        ("/contoso.example/oauth2/v2.0/token", {}, 400, "invalid_request", 90002),
        ("/common/oauth2/v2.0/token", {}, 400, "invalid_request", 90002),
    ],
)
def test_token_errors_in_entra_shape(
    client: TestClient, path: str, changes: dict[str, str], status: int, error: str, code: int
) -> None:
    _assert_entra_error(client.post(path, data=APP_FORM | changes), status, error, code)


def test_error_descriptions_never_echo_the_secret(client: TestClient) -> None:
    body = client.post(V2_TOKEN, data=APP_FORM | {"client_secret": "guess-1234"}).json()
    assert "guess-1234" not in str(body)
    assert CLIENT_SECRET not in str(body)


@pytest.mark.parametrize(
    ("changes", "error", "code"),
    [
        ({"password": "wrong"}, "invalid_grant", 50126),
        ({"username": "nobody@example.onmicrosoft.com"}, "invalid_grant", 50034),
        ({"scope": f"{ORG_URL}/user_impersonation https://other.test/user_impersonation"}, "invalid_scope", 70011),
        ({"scope": f"{ORG_URL}/Write.All"}, "invalid_scope", 70011),
        ({"scope": "openid profile"}, "invalid_scope", 70011),
        ({"client_secret": "wrong"}, "invalid_client", 7000215),
    ],
)
def test_password_grant_errors(client: TestClient, changes: dict[str, str], error: str, code: int) -> None:
    form = {
        "grant_type": "password",
        "client_id": CLIENT_ID,
        "username": USER_UPN,
        "password": USER_PASSWORD,
        "scope": f"{ORG_URL}/.default",
    }
    response = client.post(V2_TOKEN, data=form | changes)
    _assert_entra_error(response, 401 if error == "invalid_client" else 400, error, code)


def test_basic_header_must_agree_with_body_client_id(client: TestClient) -> None:
    form = APP_FORM | {"client_id": FOREIGN_CLIENT_ID}
    _assert_entra_error(
        client.post(V2_TOKEN, data=form, auth=(CLIENT_ID, CLIENT_SECRET)), 400, "invalid_request", 90023
    )
    bad_basic = {"Authorization": "Basic " + base64.b64encode(b"no-separator").decode()}
    _assert_entra_error(client.post(V2_TOKEN, data=APP_FORM, headers=bad_basic), 401, "invalid_client", 7000216)


def test_secret_checking_can_be_switched_off(keyring: KeyRing, clock: Clock) -> None:
    with _client(make_directory(keyring, clock, check_secrets=False)) as client:
        assert client.post(V2_TOKEN, data=APP_FORM | {"client_secret": "anything"}).status_code == 200
        assert client.post(V2_TOKEN, data=APP_FORM | {"client_secret": ""}).status_code == 200
        unknown = APP_FORM | {"client_id": "99999999-2222-3333-4444-555555555555"}
        assert client.post(V2_TOKEN, data=unknown).status_code == 401


def test_v2_discovery_document_resolves_a_domain(client: TestClient) -> None:
    document = client.get(f"/{DOMAIN}/v2.0/.well-known/openid-configuration").json()

    tenant_base = f"{BASE}/{TENANT_ID}"
    assert document["issuer"] == f"{tenant_base}/v2.0"
    assert document["authorization_endpoint"] == f"{tenant_base}/oauth2/v2.0/authorize"
    assert document["token_endpoint"] == f"{tenant_base}/oauth2/v2.0/token"
    assert document["jwks_uri"] == f"{tenant_base}/discovery/v2.0/keys"
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "client_secret_basic" in document["token_endpoint_auth_methods_supported"]


def test_v1_discovery_document(client: TestClient) -> None:
    document = client.get(f"/{TENANT_ID}/.well-known/openid-configuration").json()

    assert document["issuer"] == f"{BASE}/{TENANT_ID}/"
    assert document["token_endpoint"] == f"{BASE}/{TENANT_ID}/oauth2/token"
    assert document["jwks_uri"] == f"{BASE}/{TENANT_ID}/discovery/keys"


def test_discovery_issuer_matches_the_tokens(client: TestClient) -> None:
    token = client.post(V2_TOKEN, data=APP_FORM).json()["access_token"]
    document = client.get(f"/{TENANT_ID}/.well-known/openid-configuration").json()
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == document["issuer"]


def test_discovery_uses_host_header_or_public_url(keyring: KeyRing, clock: Clock, client: TestClient) -> None:
    path = f"/{TENANT_ID}/v2.0/.well-known/openid-configuration"
    by_host = client.get(path, headers={"Host": "LocalHost:8443"}).json()
    assert by_host["issuer"] == f"http://localhost:8443/{TENANT_ID}/v2.0"

    with _client(make_directory(keyring, clock, public_url="https://emulator.test:9443/")) as public:
        document = public.get(path).json()
        token = public.post(V2_TOKEN, data=APP_FORM).json()["access_token"]
    assert document["token_endpoint"] == f"https://emulator.test:9443/{TENANT_ID}/oauth2/v2.0/token"
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == f"https://emulator.test:9443/{TENANT_ID}/"


def test_discovery_for_an_unknown_tenant(client: TestClient) -> None:
    _assert_entra_error(
        client.get("/nope.example/v2.0/.well-known/openid-configuration"), 400, "invalid_request", 90002
    )


@pytest.mark.parametrize(
    "path",
    [f"/{TENANT_ID}/discovery/v2.0/keys", f"/{DOMAIN}/discovery/keys", "/common/discovery/v2.0/keys"],
)
def test_jwks_everywhere(client: TestClient, keyring: KeyRing, path: str) -> None:
    assert client.get(path).json() == keyring.jwks()


def test_instance_discovery_points_back_at_the_host(client: TestClient) -> None:
    endpoint = f"https://localhost:8443/{TENANT_ID}/oauth2/v2.0/authorize"
    response = client.get(
        "/common/discovery/instance", params={"api-version": "1.1", "authorization_endpoint": endpoint}
    )

    body = response.json()
    assert (
        body["tenant_discovery_endpoint"] == f"https://localhost:8443/{TENANT_ID}/v2.0/.well-known/openid-configuration"
    )
    assert body["metadata"][0]["aliases"] == ["localhost:8443"]


@pytest.mark.parametrize(
    ("endpoint", "error"), [("http://x/t/oauth2/v2.0/authorize", "invalid_instance"), ("", "invalid_request")]
)
def test_instance_discovery_errors(client: TestClient, endpoint: str, error: str) -> None:
    response = client.get("/common/discovery/instance", params={"authorization_endpoint": endpoint})
    assert (response.status_code, response.json()["error"]) == (400, error)
