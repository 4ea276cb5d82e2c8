"""Real client libraries (MSAL, azure-identity) against the token endpoint over HTTPS."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import msal
import pytest
from azure.identity import ClientSecretCredential
from starlette.applications import Starlette
from test_identity_support import (
    APP_OID,
    CLIENT_ID,
    CLIENT_SECRET,
    DOMAIN,
    ORG_URL,
    TENANT_ID,
    make_directory,
    serve_https,
)

from dataverse_emulator.clock import Clock
from dataverse_emulator.identity.bearer import BearerError, validate_bearer
from dataverse_emulator.identity.directory import StaticDirectory
from dataverse_emulator.identity.keys import KeyRing
from dataverse_emulator.identity.routes import identity_routes
from dataverse_emulator.identity.tls import ensure_certificates


@dataclass(frozen=True)
class Server:
    base_url: str
    ca_pem: Path
    directory: StaticDirectory

    def validate(self, token: str, audience: str = ORG_URL) -> dict[str, object]:
        identity = validate_bearer(
            f"Bearer {token}",
            keyring=self.directory.keyring,
            clock=self.directory.clock,
            audiences=[audience],
            base_url=self.base_url,
        )
        return dict(identity.claims)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tls = ensure_certificates(tmp_path_factory.mktemp("tls"))
    directory = make_directory(KeyRing.load_or_create(None), Clock())
    with serve_https(Starlette(routes=identity_routes(directory)), tls) as port:
        yield Server(f"https://127.0.0.1:{port}", tls.ca_pem, directory)


@pytest.fixture(autouse=True)
def trust_the_emulator_ca(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets REQUESTS_CA_BUNDLE override a session's own ``verify``, so MSAL's ``verify=`` alone
    # is not enough wherever that variable is set.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_pem))


def _msal_app(server: Server, tenant: str = TENANT_ID) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=CLIENT_SECRET,
        authority=f"{server.base_url}/{tenant}",
        instance_discovery=False,
        verify=str(server.ca_pem),
    )


def test_msal_client_credentials_token_validates(server: Server) -> None:
    result = _msal_app(server).acquire_token_for_client(scopes=[f"{ORG_URL}/.default"])

    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    claims = server.validate(result["access_token"])
    assert (claims["tid"], claims["oid"], claims["appid"]) == (TENANT_ID, APP_OID, CLIENT_ID)


def test_msal_with_a_domain_authority(server: Server) -> None:
    result = _msal_app(server, DOMAIN).acquire_token_for_client(scopes=[f"{ORG_URL}/.default"])
    assert server.validate(result["access_token"])["tid"] == TENANT_ID


def test_msal_reports_a_wrong_secret(server: Server) -> None:
    app = msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential="wrong",
        authority=f"{server.base_url}/{TENANT_ID}",
        instance_discovery=False,
        verify=str(server.ca_pem),
    )
    result = app.acquire_token_for_client(scopes=[f"{ORG_URL}/.default"])

    assert result["error"] == "invalid_client"
    assert 7000215 in result["error_codes"]


def test_validation_rejects_what_it_should(server: Server) -> None:
    token = _msal_app(server).acquire_token_for_client(scopes=[f"{ORG_URL}/.default"])["access_token"]

    with pytest.raises(BearerError, match="audience"):
        server.validate(token, audience="https://other.example.test")
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(BearerError, match="signature"):
        server.validate(f"{head}.{payload}.{flipped}")
    with pytest.raises(BearerError, match="Authorization header"):
        validate_bearer(
            None,
            keyring=server.directory.keyring,
            clock=server.directory.clock,
            audiences=None,
            base_url=server.base_url,
        )
    claims = jwt.decode(token, options={"verify_signature": False})
    stranger = jwt.encode(claims, server.directory.keyring.detached_key("stranger"), "RS256", {"kid": "stranger"})
    with pytest.raises(BearerError, match="unknown key"):
        server.validate(stranger)


def test_expired_when_the_emulator_clock_moves(server: Server) -> None:
    token = _msal_app(server).acquire_token_for_client(scopes=[f"{ORG_URL}/.default"])["access_token"]
    server.validate(token)
    clock = server.directory.clock
    clock.advance(3599 + 301)
    try:
        with pytest.raises(BearerError, match="expired"):
            server.validate(token)
    finally:
        clock.reset()


def test_azure_identity_client_secret_credential(server: Server) -> None:
    credential = ClientSecretCredential(
        TENANT_ID,
        CLIENT_ID,
        CLIENT_SECRET,
        authority=server.base_url,
        disable_instance_discovery=True,
        connection_verify=str(server.ca_pem),
    )

    access = credential.get_token(f"{ORG_URL}/.default")

    assert server.validate(access.token)["appid"] == CLIENT_ID
    assert access.expires_on > 0


def test_openid_document_over_https(server: Server) -> None:
    context = ssl.create_default_context(cafile=str(server.ca_pem))
    document = httpx.get(f"{server.base_url}/{TENANT_ID}/v2.0/.well-known/openid-configuration", verify=context).json()

    assert document["issuer"] == f"{server.base_url}/{TENANT_ID}/v2.0"
