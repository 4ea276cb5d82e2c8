"""The Key Vault store against the emulator's identity provider and Key Vault, over HTTPS with the real SDK."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import pytest
from azure.identity import ClientSecretCredential, DefaultAzureCredential
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dataexport.config.service import KeyVaultConfig
from dataexport.domain.secret_refs import SecretReference, SecretReferenceKind, parse_secret_reference
from dataexport.errors import SecretAccessDenied, SecretNotFound, SecretUnavailable, TerminalError, TransientError
from dataexport.secrets.keyvault import KeyVaultSecretStore, build_vault_credential, build_vault_store
from dataexport.secrets.local import LocalSecretStore
from dataverse_emulator.clock import Clock
from dataverse_emulator.identity.directory import Application, StaticDirectory
from dataverse_emulator.identity.keys import KeyRing
from dataverse_emulator.identity.routes import identity_routes
from dataverse_emulator.identity.tls import TlsFiles, ensure_certificates
from dataverse_emulator.identity.tokens import TokenIssuer
from dataverse_emulator.keyvault import SecretVault, admin_put_secret, keyvault_routes
from support.servers import serve_on_loopback

TENANT_ID = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
ORG_ID = "5f0b8c5e-3c1d-4a8e-9a53-2f8f1a7c6d10"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "vault-identity-secret"
CONNECTION = "postgresql://u:Pa55w0rd@db.example/rep"


@dataclass(frozen=True)
class VaultSite:
    """The emulator's identity provider and Key Vault on one HTTPS port."""

    base: str
    vault: SecretVault
    tls: TlsFiles

    def reference(self, name: str, host: str = "127.0.0.1") -> SecretReference:
        port = self.base.rsplit(":", 1)[1]
        return parse_secret_reference(f"https://{host}:{port}/secrets/{name}/", (host,))

    def credential(self, secret: str = CLIENT_SECRET, authority: str | None = None) -> ClientSecretCredential:
        return ClientSecretCredential(
            TENANT_ID,
            CLIENT_ID,
            secret,
            authority=authority or self.base,
            disable_instance_discovery=True,
            connection_verify=str(self.tls.ca_pem),
        )

    def store(self, credential: ClientSecretCredential | None = None, **options: object) -> KeyVaultSecretStore:
        return KeyVaultSecretStore(
            credential or self.credential(),
            ("127.0.0.1", "localhost"),
            connection_verify=str(self.tls.ca_pem),
            retry_total=0,
            **options,  # type: ignore[arg-type]
        )


def _directory(keyring: KeyRing) -> StaticDirectory:
    return StaticDirectory(
        issuer=TokenIssuer(keyring, Clock()),
        default_tenant_id=TENANT_ID,
        applications=(Application(CLIENT_ID, CLIENT_SECRET, "aaaaaaaa-0000-4000-8000-000000000001", TENANT_ID),),
    )


async def _busy(_request: Request) -> JSONResponse:
    return JSONResponse({"error": {"code": "ServiceUnavailable", "message": "try later"}}, status_code=503)


def _vault_app(directory: StaticDirectory, vault: SecretVault) -> Starlette:
    busy = [Route(path, _busy, methods=["GET"]) for path in ("/secrets/busy", "/secrets/busy/")]
    return Starlette(routes=[*busy, *identity_routes(directory), *keyvault_routes(vault, directory)])


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return ensure_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def site(tls: TlsFiles) -> Iterator[VaultSite]:
    directory = _directory(KeyRing.load_or_create(None))
    vault = SecretVault.load_or_create(None, directory.clock)
    admin_put_secret(vault, "reporting-sql", {"value": CONNECTION, "tags": {ORG_ID: TENANT_ID}})
    with serve_on_loopback(_vault_app(directory, vault), certfile=tls.cert_pem, keyfile=tls.key_pem) as port:
        yield VaultSite(f"https://127.0.0.1:{port}", vault, tls)


@pytest.fixture(scope="module")
def foreign_authority(tls: TlsFiles) -> Iterator[str]:
    """Another identity provider (its own signing keys) that also knows the app: its tokens are not the vault's."""
    app = Starlette(routes=identity_routes(_directory(KeyRing.load_or_create(None))))
    with serve_on_loopback(app, certfile=tls.cert_pem, keyfile=tls.key_pem) as port:
        yield f"https://127.0.0.1:{port}"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_resolve_reads_the_latest_value_and_tags(site: VaultSite) -> None:
    store = site.store()
    reference = site.reference("reporting-sql")

    secret = store.read(reference)

    assert store.resolve(reference) == CONNECTION
    assert dict(secret.tags) == {ORG_ID: TENANT_ID} == dict(store.read_tags(reference))
    assert CONNECTION not in repr(secret)
    assert isinstance(secret.tags, MappingProxyType)


def test_a_rotated_secret_is_read_at_the_next_call(site: VaultSite) -> None:
    admin_put_secret(site.vault, "rotating", {"value": "first"})
    store = site.store()
    reference = site.reference("rotating")
    assert store.resolve(reference) == "first"

    admin_put_secret(site.vault, "rotating", {"value": "second", "tags": {"a": "b"}})

    assert store.resolve(reference) == "second"
    assert dict(store.read_tags(reference)) == {"a": "b"}


def test_a_secret_without_tags_has_an_empty_mapping(site: VaultSite) -> None:
    admin_put_secret(site.vault, "untagged", {"value": "x"})
    assert dict(site.store().read_tags(site.reference("untagged"))) == {}


def test_a_vault_host_with_a_port_matches_an_exact_host_suffix(site: VaultSite) -> None:
    reference = site.reference("reporting-sql", host="localhost")
    # The emulator's tokens name the host they were issued at: get them from localhost too.
    credential = site.credential(authority=site.base.replace("127.0.0.1", "localhost"))

    assert reference.kind is SecretReferenceKind.KEY_VAULT and ":" in reference.target.split("/")[2]
    assert site.store(credential).resolve(reference) == CONNECTION


def test_a_missing_secret_is_terminal_and_named(site: VaultSite) -> None:
    reference = site.reference("no-such-secret")

    with pytest.raises(SecretNotFound) as raised:
        site.store().resolve(reference)

    assert isinstance(raised.value, TerminalError)
    assert reference.text in str(raised.value) and "create it" in str(raised.value)


def test_a_refused_client_secret_is_access_denied(site: VaultSite) -> None:
    store = site.store(site.credential(secret="not-the-secret"))

    with pytest.raises(SecretAccessDenied) as raised:
        store.resolve(site.reference("reporting-sql"))

    message = str(raised.value)
    assert "cannot get a Key Vault token" in message and "key_vault.client_id" in message
    assert "not-the-secret" not in message and CONNECTION not in message


def test_a_token_the_vault_does_not_trust_is_access_denied(site: VaultSite, foreign_authority: str) -> None:
    store = site.store(site.credential(authority=foreign_authority))

    with pytest.raises(SecretAccessDenied) as raised:
        store.resolve(site.reference("reporting-sql"))

    assert "HTTP 401" in str(raised.value) and "reporting-sql" in str(raised.value)


def test_a_host_outside_the_suffixes_is_refused_before_any_request(site: VaultSite) -> None:
    store = KeyVaultSecretStore(site.credential(secret="never-used"), (".vault.azure.net",), retry_total=0)
    url = site.reference("reporting-sql").text

    with pytest.raises(SecretAccessDenied, match=r"not in key_vault\.host_suffixes"):
        store.resolve(SecretReference(SecretReferenceKind.KEY_VAULT, url, url))


def test_a_vault_that_is_down_is_transient(site: VaultSite) -> None:
    url = f"https://127.0.0.1:{_closed_port()}/secrets/reporting-sql/"
    reference = parse_secret_reference(url, ("127.0.0.1",))

    with pytest.raises(SecretUnavailable) as raised:
        site.store(timeout=5.0).resolve(reference)

    assert isinstance(raised.value, TransientError)
    assert url in str(raised.value) and "retried later" in str(raised.value)


def test_a_vault_answering_503_is_transient(site: VaultSite) -> None:
    with pytest.raises(SecretUnavailable, match="HTTP 503"):
        site.store().resolve(site.reference("busy"))


def test_an_unreachable_identity_provider_is_transient(site: VaultSite) -> None:
    store = site.store(site.credential(authority=f"https://127.0.0.1:{_closed_port()}"))

    with pytest.raises(SecretUnavailable, match="identity provider cannot be reached"):
        store.resolve(site.reference("reporting-sql"))


def test_a_non_vault_reference_is_a_caller_error(site: VaultSite) -> None:
    with pytest.raises(ValueError, match="not a Key Vault secret URL"):
        site.store().resolve(parse_secret_reference("env:SOMETHING"))


# ----- building from the configuration ----------------------------------------------------------------------


def _config(site: VaultSite, **changes: object) -> KeyVaultConfig:
    values: dict[str, object] = {
        "host_suffixes": ("127.0.0.1",),
        "tenant_id": TENANT_ID,
        "client_id": CLIENT_ID,
        "client_secret": "env:VAULT_CLIENT_SECRET",
        "authority": site.base,
        "ca_file": site.tls.ca_pem,
    }
    return KeyVaultConfig.model_validate(values | changes)


def test_a_store_built_from_the_configuration_reads_the_vault(site: VaultSite, tmp_path: Path) -> None:
    local = LocalSecretStore(tmp_path, {"VAULT_CLIENT_SECRET": CLIENT_SECRET})

    store = build_vault_store(_config(site), local)

    assert store.resolve(site.reference("reporting-sql")) == CONNECTION


def test_the_vault_credential_needs_its_local_secret(site: VaultSite, tmp_path: Path) -> None:
    with pytest.raises(SecretUnavailable, match="VAULT_CLIENT_SECRET is not set"):
        build_vault_credential(_config(site), LocalSecretStore(tmp_path, {}))


def test_without_a_client_id_the_default_azure_credential_is_used(site: VaultSite, tmp_path: Path) -> None:
    config = KeyVaultConfig()

    credential = build_vault_credential(config, LocalSecretStore(tmp_path, {}))

    assert isinstance(credential, DefaultAzureCredential)
