"""The emulated Key Vault: versioned secrets, the bearer challenge, and the real SDK end to end."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient
from starlette.applications import Starlette
from starlette.testclient import TestClient
from test_identity_support import CLIENT_ID, CLIENT_SECRET, ORG_URL, TENANT_ID, make_directory, serve_https

from dataverse_emulator.clock import Clock
from dataverse_emulator.identity.directory import StaticDirectory
from dataverse_emulator.identity.keys import KeyRing
from dataverse_emulator.identity.routes import identity_routes
from dataverse_emulator.identity.tls import ensure_certificates
from dataverse_emulator.identity.tokens import TokenRequest
from dataverse_emulator.keyvault import (
    SecretVault,
    admin_put_secret,
    api_version_problem,
    keyvault_admin_routes,
    keyvault_routes,
)

VAULT = "https://vault.azure.net"
BASE = "http://testserver"
CREATED = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def keyring() -> KeyRing:
    return KeyRing.load_or_create(None)


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.set(CREATED, frozen=True)
    return clock


@pytest.fixture
def directory(keyring: KeyRing, clock: Clock) -> StaticDirectory:
    return make_directory(keyring, clock)


@pytest.fixture
def vault(clock: Clock) -> SecretVault:
    return SecretVault.load_or_create(None, clock)


def _app(vault: SecretVault, directory: StaticDirectory) -> Starlette:
    routes = [*identity_routes(directory), *keyvault_routes(vault, directory), *keyvault_admin_routes(vault)]
    return Starlette(routes=routes)


@pytest.fixture
def client(vault: SecretVault, directory: StaticDirectory) -> Iterator[TestClient]:
    with TestClient(_app(vault, directory)) as client:
        yield client


def _bearer(directory: StaticDirectory, aud: str = VAULT + "/", **changes: Any) -> dict[str, str]:
    request = replace(TokenRequest(TENANT_ID, "app", CLIENT_ID, "sp", aud), **changes)
    return {"Authorization": f"Bearer {directory.issuer.mint(request, base_url=BASE)}"}


# ----- the store ------------------------------------------------------------------------------


def test_each_set_is_a_new_version_and_get_reads_latest_or_given(vault: SecretVault, clock: Clock) -> None:
    first = vault.set_secret("Db-Password", "one", {"org": "tenant"})
    clock.advance(60)
    second = vault.set_secret("db-password", "two")

    assert len(first) == len(second) == 32 and first != second
    assert int(first, 16) >= 0
    latest = vault.get("DB-PASSWORD")
    assert latest is not None
    assert (latest.name, latest.version, latest.value, dict(latest.tags)) == ("Db-Password", second, "two", {})
    old = vault.get("db-password", first)
    assert old is not None and (old.value, dict(old.tags)) == ("one", {"org": "tenant"})
    assert old.created == int(CREATED.timestamp()) and latest.created == old.created + 60
    assert vault.get("db-password", "0" * 32) is None


def test_delete_removes_every_version(vault: SecretVault) -> None:
    vault.set_secret("gone", "x")
    assert vault.delete_secret("GONE") is True
    assert vault.get("gone") is None
    assert vault.delete_secret("gone") is False


@pytest.mark.parametrize("name", ["", "has_underscore", "a" * 128, "dots.not.allowed"])
def test_invalid_names_are_refused(vault: SecretVault, name: str) -> None:
    with pytest.raises(ValueError, match="secret name"):
        vault.set_secret(name, "x")


def test_vault_persists_privately(tmp_path: Path, clock: Clock) -> None:
    vault = SecretVault.load_or_create(tmp_path / "data", clock)
    version = vault.set_secret("conn", "secret-value", {"a": "b"}, content_type="text/plain")
    path = tmp_path / "data/keyvault.json"

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reloaded = SecretVault.load_or_create(tmp_path / "data", clock).get("conn")
    assert reloaded == vault.get("conn")
    assert reloaded is not None and reloaded.version == version


def test_secret_values_stay_out_of_reprs(vault: SecretVault) -> None:
    vault.set_secret("hidden", "do-not-print")
    assert "do-not-print" not in repr(vault.get("hidden"))


@pytest.mark.parametrize(
    ("api_version", "accepted"),
    [
        *[("7.0", True), ("7.4", True), ("7.6-preview.1", True), ("2025-07-01", True), ("2026-04-01", True)],
        *[("6.0", False), ("2016-10-01", False), ("latest", False), (None, False)],
    ],
)
def test_api_versions(api_version: str | None, accepted: bool) -> None:
    assert (api_version_problem(api_version) is None) is accepted


# ----- HTTP -------------------------------------------------------------------------------------


def test_get_latest_and_versioned_secret(client: TestClient, vault: SecretVault, directory: StaticDirectory) -> None:
    first = vault.set_secret("conn", "v1", {"org-id": TENANT_ID})
    second = vault.set_secret("conn", "v2", {"org-id": TENANT_ID})
    auth = _bearer(directory)

    latest = client.get("/secrets/conn", params={"api-version": "7.4"}, headers=auth).json()
    slash = client.get("/secrets/conn/", params={"api-version": "7.4"}, headers=auth).json()
    older = client.get(f"/secrets/conn/{first}", params={"api-version": "7.0"}, headers=auth).json()

    created = int(CREATED.timestamp())
    assert (
        latest
        == slash
        == {
            "value": "v2",
            "id": f"{BASE}/secrets/conn/{second}",
            "attributes": {
                "enabled": True,
                "created": created,
                "updated": created,
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
            "tags": {"org-id": TENANT_ID},
        }
    )
    assert (older["value"], older["id"]) == ("v1", f"{BASE}/secrets/conn/{first}")


@pytest.mark.parametrize("case", ["no header", "basic", "wrong audience", "expired", "unknown key"])
def test_unauthorized_requests_get_the_vault_challenge(
    client: TestClient, vault: SecretVault, directory: StaticDirectory, case: str
) -> None:
    vault.set_secret("conn", "v1")
    headers = {
        "no header": {},
        "basic": {"Authorization": "Basic eDp5"},
        "wrong audience": _bearer(directory, aud=ORG_URL),
        "expired": _bearer(directory, expires_in=-3600),
        "unknown key": _bearer(directory, sign_with="elsewhere"),
    }[case]

    response = client.get("/secrets/conn", params={"api-version": "7.4"}, headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer authorization="{BASE}/{TENANT_ID}", resource="https://vault.azure.net"'
    )
    error = response.json()["error"]
    assert error["code"] == "Unauthorized" and error["message"]
    assert "v1" not in response.text


def test_unknown_secret_or_version(client: TestClient, vault: SecretVault, directory: StaticDirectory) -> None:
    vault.set_secret("conn", "v1")
    auth = _bearer(directory)
    missing = client.get("/secrets/nope", params={"api-version": "7.4"}, headers=auth)
    wrong_version = client.get(f"/secrets/conn/{'0' * 32}", params={"api-version": "7.4"}, headers=auth)

    assert missing.status_code == wrong_version.status_code == 404
    assert missing.json() == {
        "error": {"code": "SecretNotFound", "message": "A secret with (name/id) nope was not found in this key vault."}
    }
    assert wrong_version.json()["error"]["code"] == "SecretNotFound"


def test_old_or_missing_api_version(client: TestClient, vault: SecretVault, directory: StaticDirectory) -> None:
    vault.set_secret("conn", "v1")
    for params in ({"api-version": "2016-10-01"}, {}):
        response = client.get("/secrets/conn", params=params, headers=_bearer(directory))
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "BadParameter"


def test_admin_put_and_delete(client: TestClient, vault: SecretVault) -> None:
    put = client.put("/_emulator/keyvault/secrets/conn", json={"value": "v1", "tags": {"org": "t"}})
    assert put.status_code == 200
    stored = vault.get("conn")
    assert stored is not None
    assert put.json() == {"name": "conn", "version": stored.version, "tags": {"org": "t"}}
    assert "v1" not in put.text

    assert client.put("/_emulator/keyvault/secrets/conn", json={"value": 3}).status_code == 400
    assert client.put("/_emulator/keyvault/secrets/bad_name", json={"value": "x"}).status_code == 400
    assert client.put("/_emulator/keyvault/secrets/conn", content=b"{not json").status_code == 400
    assert client.delete("/_emulator/keyvault/secrets/conn").status_code == 204
    assert client.delete("/_emulator/keyvault/secrets/conn").status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ({"value": "x", "tags": {"a": 1}}, "tags"),
        ({"value": "x", "content_type": 1}, "content_type"),
    ],
)
def test_admin_put_validation(vault: SecretVault, body: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        admin_put_secret(vault, "conn", body)


# ----- the real SDK over HTTPS ------------------------------------------------------------------


def test_secret_client_reads_a_secret_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tls = ensure_certificates(tmp_path / "tls")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_pem))
    directory = make_directory(KeyRing.load_or_create(None), Clock())
    vault = SecretVault.load_or_create(None, directory.clock)
    version = vault.set_secret("dataexport-sql", "Server=db;Password=p@ss", {"org-1": TENANT_ID})

    with serve_https(_app(vault, directory), tls) as port:
        base = f"https://127.0.0.1:{port}"
        credential = ClientSecretCredential(
            TENANT_ID,
            CLIENT_ID,
            CLIENT_SECRET,
            authority=base,
            disable_instance_discovery=True,
            connection_verify=str(tls.ca_pem),
        )
        client = SecretClient(
            vault_url=f"{base}/",
            credential=credential,
            verify_challenge_resource=False,
            connection_verify=str(tls.ca_pem),
        )
        secret = client.get_secret("dataexport-sql")
        pinned = client.get_secret("dataexport-sql", version)
        with pytest.raises(ResourceNotFoundError):
            client.get_secret("missing")

    assert secret.value == pinned.value == "Server=db;Password=p@ss"
    assert secret.properties.tags == {"org-1": TENANT_ID}
    assert secret.properties.version == version
    assert secret.id == f"{base}/secrets/dataexport-sql/{version}"
    assert json.dumps(secret.properties.enabled) == "true"
