"""Two configurations an administrator opts into, end to end through the REST API over an emulator process.

Azure Key Vault (DES §1.7, §5 checks 5-6): the service reads a profile's connection string from the emulator's Key
Vault with its own identity (``[key_vault]`` client credentials against the emulator's identity provider); the
secret must carry a tag named after the organization whose value is the tenant id. The value (a PostgreSQL URL with
a password) never appears in a response or a log line.

API keys (§3.1 ``auth.mode = "apikey"``): static keys from ``env:`` and ``file:`` references, each bound to
organization ids or ``*``; a key manages its organizations with no Dataverse role check, and nothing else is
accepted: no other key, no Entra token, no ``aad/challenge``.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from test_api_support import (
    METADATA,
    ORG_SECRET,
    PROFILES,
    ServiceEnv,
    body_of,
    emulator_admin,
    emulator_process,
    service_env,
)
from test_destination_servers import plain_connection, server_url, unique_prefix

from dataexport.cli.demo import write_secret
from dataexport.cli.emulator_process import EmulatorInfo

VAULT_PASSWORD = f"vault-only-{secrets.token_hex(8)}"
SYNC_TIMEOUT_S = 120.0
KEY_OWN_VARIABLE = "DATAEXPORT_TEST_API_KEY_OWN"
KEY_OTHER_VARIABLE = "DATAEXPORT_TEST_API_KEY_OTHER"
KEY_ALL_FILE = "secrets/api-key-all"


@dataclass(frozen=True)
class Emulated:
    """The emulator process and what its ``contoso`` organization is."""

    info: EmulatorInfo
    root: Path
    organization_id: str
    tenant_id: str
    accounts: int


@pytest.fixture(scope="module")
def emulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulated]:
    root = tmp_path_factory.mktemp("vault-keys")
    with emulator_process(root) as info:
        org = emulator_admin(info, "GET", "orgs")["orgs"][0]
        yield Emulated(info, root, org["organization_id"], org["tenant_id"], int(org["counts"]["account"]))


def dataverse_requests_since(info: EmulatorInfo, seq: int) -> list[dict[str, Any]]:
    """The emulator's request log entries after ``seq`` (the Web API calls the service made)."""
    entries: list[dict[str, Any]] = emulator_admin(info, "GET", f"requests?since={seq}")["entries"]
    return entries


def last_request(info: EmulatorInfo) -> int:
    return int(emulator_admin(info, "GET", "requests?limit=1")["last_seq"])


# ----- Azure Key Vault ----------------------------------------------------------------------------------------


def key_vault_toml(info: EmulatorInfo) -> str:
    """``[key_vault]``: the emulator's host accepted exactly, the org's app as the service identity."""
    host = httpx.URL(info.base_url).host
    return f"""
[key_vault]
host_suffixes = ["{host}"]
tenant_id = "{info.tenant_id}"
client_id = "{info.client_id}"
client_secret = "file:{ORG_SECRET}"
authority = "{info.base_url}"
ca_file = "{info.ca_path}"
"""


@dataclass(frozen=True)
class VaultSite:
    env: ServiceEnv
    emulated: Emulated
    destination: str

    def secret_url(self, name: str) -> str:
        return f"{self.emulated.info.base_url}/secrets/{name}/"

    def store(self, name: str, tags: dict[str, str]) -> str:
        """Put the destination connection string in the vault as ``name``; its reference URL."""
        emulator_admin(self.emulated.info, "PUT", f"keyvault/secrets/{name}", {"value": self.destination, "tags": tags})
        return self.secret_url(name)

    def own_tags(self) -> dict[str, str]:
        """The §5 tag, in upper case: GUIDs compare case-insensitively."""
        return {self.emulated.organization_id.upper(): self.emulated.tenant_id.upper()}


@pytest.fixture(scope="module")
def vault(emulated: Emulated) -> Iterator[VaultSite]:
    """The service (scheduler started) with a vault identity; the destination is a PostgreSQL URL with a password."""
    url = make_url(server_url("postgresql")).set(password=VAULT_PASSWORD)
    destination = url.render_as_string(hide_password=False)
    extra = key_vault_toml(emulated.info)
    with service_env(
        emulated.root / "vault-service", emulated.info, start=True, extra=extra, secrets=(destination, VAULT_PASSWORD)
    ) as env:
        env.accept_terms()
        yield VaultSite(env, emulated, destination)


def check_results(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["Name"]: item for item in result["Results"]}


def validate(site: VaultSite, uri: str) -> dict[str, dict[str, Any]]:
    env = site.env
    body = env.profile_body(KeyVaultUri=uri, Name=f"v{uuid.uuid4().hex[:8]}", TablePrefix=unique_prefix())
    response = env.call("POST", f"{PROFILES}/validate", params={"organizationId": env.org_id}, json_body=body)
    assert response.status_code == 200, response.text
    return check_results(body_of(response))


def destination_rows(destination: str, table: str) -> int:
    with plain_connection(destination) as connection:
        exists = connection.execute(text("SELECT to_regclass(:name)"), {"name": f'dbo."{table}"'}).scalar()
        if exists is None:
            return -1
        return int(connection.execute(text(f'SELECT count(*) FROM dbo."{table}"')).scalar_one())


def wait_for_rows(destination: str, table: str, expected: int) -> int:
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    rows = destination_rows(destination, table)
    while rows < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        rows = destination_rows(destination, table)
    return rows


def test_a_tagged_vault_secret_passes_the_checks_and_rows_arrive(vault: VaultSite) -> None:
    env = vault.env
    uri = vault.store("reporting-sql", vault.own_tags())

    checks = validate(vault, uri)

    assert checks["SecretAccess"]["Status"] == "Passed", checks["SecretAccess"]
    assert checks["SecretAuthorization"]["Status"] == "Passed", checks["SecretAuthorization"]
    assert checks["DestinationConnection"]["Status"] == "Passed", checks["DestinationConnection"]
    prefix = unique_prefix()
    profile = env.create_profile(KeyVaultUri=uri, TablePrefix=prefix, Name="vault-backed")
    assert profile["KeyVaultUri"] == uri
    activated = env.call("POST", f"{PROFILES}/{profile['Id']}/activate")
    assert activated.status_code == 200, activated.text
    assert body_of(activated)["State"] == "Active"
    try:
        rows = wait_for_rows(vault.destination, f"{prefix}_account", vault.emulated.accounts)
        status = env.call("GET", f"{PROFILES}/{profile['Id']}", params={"status": "true"})
        assert rows == vault.emulated.accounts, status.text
    finally:
        assert env.call("POST", f"{PROFILES}/{profile['Id']}/deactivate").status_code == 200


FOREIGN_TAGS: dict[str, Callable[[str, str], dict[str, str]]] = {
    "another-organization": lambda organization, tenant: {str(uuid.uuid4()): tenant},
    "another-tenant": lambda organization, tenant: {organization: str(uuid.uuid4())},
    "no-tags": lambda organization, tenant: {},
}


@pytest.mark.parametrize("tagging", FOREIGN_TAGS)
def test_a_secret_not_tagged_for_this_organization_blocks_activation(vault: VaultSite, tagging: str) -> None:
    env = vault.env
    tagged = FOREIGN_TAGS[tagging](vault.emulated.organization_id, vault.emulated.tenant_id)
    uri = vault.store(f"foreign-{uuid.uuid4().hex[:8]}", tagged)
    profile = env.create_profile(KeyVaultUri=uri, TablePrefix=unique_prefix(), Name=f"f{uuid.uuid4().hex[:8]}")

    tested = env.call("GET", f"{PROFILES}/{profile['Id']}/test")
    activated = env.call("POST", f"{PROFILES}/{profile['Id']}/activate")

    assert tested.status_code == 200, tested.text
    checks = check_results(body_of(tested))
    assert checks["SecretAccess"]["Status"] == "Passed"
    assert checks["SecretAuthorization"]["Status"] == "Failed"
    assert vault.emulated.organization_id in checks["SecretAuthorization"]["Message"]
    assert activated.status_code == 409, activated.text
    error = body_of(activated)["Error"]
    assert error["Code"] == "PreflightFailed"
    assert check_results(error["TestResult"])["SecretAuthorization"]["Status"] == "Failed"
    assert body_of(env.call("GET", f"{PROFILES}/{profile['Id']}"))["State"] == "Draft"


def test_a_missing_vault_secret_is_a_failed_check_never_a_500(vault: VaultSite) -> None:
    env = vault.env
    uri = vault.secret_url("no-such-secret")

    checks = validate(vault, uri)
    profile = env.create_profile(KeyVaultUri=uri, TablePrefix=unique_prefix(), Name="missing-secret")
    tested = env.call("GET", f"{PROFILES}/{profile['Id']}/test")
    activated = env.call("POST", f"{PROFILES}/{profile['Id']}/activate")

    assert checks["SecretAccess"]["Status"] == "Failed"
    assert "does not exist" in checks["SecretAccess"]["Message"]
    assert checks["SecretAuthorization"]["Status"] == "Skipped"
    assert tested.status_code == 200, tested.text
    assert check_results(body_of(tested))["SecretAccess"]["Status"] == "Failed"
    assert activated.status_code == 409, activated.text
    assert body_of(activated)["Error"]["Code"] == "PreflightFailed"


def test_a_vault_url_on_a_host_not_configured_is_an_invalid_key_vault_uri(vault: VaultSite) -> None:
    env = vault.env
    port = httpx.URL(vault.emulated.info.base_url).port
    body = env.profile_body(KeyVaultUri=f"https://127.0.0.1:{port}/secrets/reporting-sql/", Name="wrong-host")

    response = env.call("POST", PROFILES, params={"organizationId": env.org_id}, json_body=body)

    assert response.status_code == 400, response.text
    details = body_of(response)["Error"]["Details"]
    assert {(d["Field"], d["Code"]) for d in details} == {("KeyVaultUri", "InvalidFormat")}


def test_entra_mode_asks_dataverse_who_the_caller_is_and_offers_the_challenge(vault: VaultSite) -> None:
    """The counterpart of the API-key tests below: there the same calls make no role lookup and no challenge."""
    env, info = vault.env, vault.emulated.info
    before = last_request(info)

    allowed = env.call("GET", f"{METADATA}/discover", token="teamadmin", params={"organizationId": env.org_id})
    challenge = env.call("GET", "/crm/exporter/aad/challenge", token=None)

    assert allowed.status_code == 200, allowed.text
    assert any(entry["entity_set"] == "systemusers" for entry in dataverse_requests_since(info, before))
    assert challenge.status_code == 401
    assert challenge.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")


# ----- API keys -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeySite:
    env: ServiceEnv
    emulated: Emulated
    own: str
    everything: str
    other: str

    def call(self, method: str, path: str, key: str | None, **fields: Any) -> httpx.Response:
        """An API call presenting ``key`` as the bearer value (None: no Authorization header)."""
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return self.env.call(method, path, token=None, headers=headers, **fields)


def api_keys_toml(organization_id: str, other_organization_id: str) -> str:
    """``auth.mode = "apikey"`` (continuing the ``[auth]`` table) with one key per binding."""
    return f"""mode = "apikey"

[[auth.api_keys]]
key = "env:{KEY_OWN_VARIABLE}"
organizations = ["{organization_id}"]

[[auth.api_keys]]
key = "file:{KEY_ALL_FILE}"
organizations = ["*"]

[[auth.api_keys]]
key = "env:{KEY_OTHER_VARIABLE}"
organizations = ["{other_organization_id}"]
"""


@pytest.fixture(scope="module")
def keys(emulated: Emulated) -> Iterator[KeySite]:
    """The service in API-key mode; the keys are read from the environment and a file when it is built."""
    own, everything, other = (secrets.token_urlsafe(32) for _ in range(3))
    root = emulated.root / "apikey-service"
    write_secret(root / KEY_ALL_FILE, everything)
    extra = api_keys_toml(emulated.organization_id, str(uuid.uuid4()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_OWN_VARIABLE, own)
        patch.setenv(KEY_OTHER_VARIABLE, other)
        with service_env(root, emulated.info, extra=extra, secrets=(own, everything, other)) as env:
            yield KeySite(env, emulated, own, everything, other)


def test_a_key_manages_its_organization_without_a_dataverse_role_check(keys: KeySite) -> None:
    org = keys.emulated.organization_id
    query = {"organizationId": org}
    keys.call("GET", f"{METADATA}/organizations", keys.own)  # registers the organization (reads Dataverse)
    before = last_request(keys.emulated.info)

    listed = keys.call("GET", f"{METADATA}/organizations", keys.own)
    accepted = keys.call("POST", f"{METADATA}/acceptprivacyterms", keys.own, params=query)
    created = keys.call("POST", PROFILES, keys.own, params=query, json_body=keys.env.profile_body(Name="by-key"))
    read = keys.call("GET", f"{PROFILES}/{body_of(created)['Id']}", keys.everything)
    profiles = keys.call("GET", PROFILES, keys.everything, params=query)

    assert listed.status_code == 200 and [o["OrganizationId"] for o in listed.json()] == [org]
    assert accepted.status_code == 204, accepted.text
    assert created.status_code == 201, created.text
    assert read.status_code == 200 and body_of(read)["Name"] == "by-key"
    assert profiles.status_code == 200 and "by-key" in [p["Name"] for p in profiles.json()]
    lookups = [e for e in dataverse_requests_since(keys.emulated.info, before) if e["entity_set"] == "systemusers"]
    assert lookups == [], "an API key caused a System Administrator lookup in Dataverse"


def test_a_key_bound_to_another_organization_is_refused_here(keys: KeySite) -> None:
    org = keys.emulated.organization_id
    query = {"organizationId": org}
    keys.call("POST", f"{METADATA}/acceptprivacyterms", keys.own, params=query)
    created = keys.call("POST", PROFILES, keys.own, params=query, json_body=keys.env.profile_body(Name="not-theirs"))
    assert created.status_code == 201, created.text
    profile_id = body_of(created)["Id"]

    listed = keys.call("GET", f"{METADATA}/organizations", keys.other)
    refused = {
        "discover": keys.call("GET", f"{METADATA}/discover", keys.other, params=query),
        "accept": keys.call("POST", f"{METADATA}/acceptprivacyterms", keys.other, params=query),
        "list": keys.call("GET", PROFILES, keys.other, params=query),
        "create": keys.call("POST", PROFILES, keys.other, params=query, json_body=keys.env.profile_body(Name="x")),
    }
    hidden = {
        "read": keys.call("GET", f"{PROFILES}/{profile_id}", keys.other),
        "activate": keys.call("POST", f"{PROFILES}/{profile_id}/activate", keys.other),
        "delete": keys.call("DELETE", f"{PROFILES}/{profile_id}", keys.other),
    }

    assert listed.status_code == 200 and listed.json() == []
    assert {name: r.status_code for name, r in refused.items()} == dict.fromkeys(refused, 403)
    assert {body_of(r)["Error"]["Code"] for r in refused.values()} == {"NotSystemAdministrator"}
    assert {name: r.status_code for name, r in hidden.items()} == dict.fromkeys(hidden, 404)
    assert keys.call("GET", f"{PROFILES}/{profile_id}", keys.own).status_code == 200


def test_only_a_configured_key_is_accepted(keys: KeySite) -> None:
    admin_jwt = keys.env.token("admin")
    presented = {
        "wrong key": secrets.token_urlsafe(32),
        "the key's reference": f"env:{KEY_OWN_VARIABLE}",
        "an Entra token of an administrator": admin_jwt,
        "a key with a character more": keys.own + "x",
    }

    answers = {name: keys.call("GET", f"{METADATA}/organizations", value) for name, value in presented.items()}
    missing = keys.call("GET", f"{METADATA}/organizations", None)

    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(presented, 401)
    assert {body_of(r)["Error"]["Code"] for r in answers.values()} == {"Unauthorized"}
    assert missing.status_code == 401
    keys.env.watch.check("\n".join(r.text for r in answers.values()), "a 401 answer")


def test_the_aad_challenge_is_not_offered_in_apikey_mode(keys: KeySite) -> None:
    anonymous = keys.call("GET", "/crm/exporter/aad/challenge", None)
    with_key = keys.call("GET", "/crm/exporter/aad/challenge", keys.own)

    assert anonymous.status_code == 404 and with_key.status_code == 404
    assert "WWW-Authenticate" not in anonymous.headers
    assert body_of(anonymous)["Error"]["Code"] == "NotFound"
