"""Profile files: valid files load; bad ones report every problem with the DES §2.3 messages."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from dataexport.config.profile_file import PROFILE_NAMESPACE, ProfileFileError, load_profile_file
from dataexport.domain.secret_refs import SecretReferenceKind
from dataexport.errors import SecretUnavailable
from dataexport.secrets.local import LocalSecretStore

GOOD_TOML = """
Name = "Reporting"
KeyVaultUri = "file:secrets/destination"
TablePrefix = "crm"
Entities = [{ Name = "Account" }, { Name = "contact" }]

[Organization]
Url = "https://localhost:8443/"
TenantId = "9F8E7D6C-5B4A-4392-8170-6F5E4D3C2B1A"
ClientId = "11111111-2222-3333-4444-555555555555"
ClientSecret = "env:ORG_SECRET"
Authority = "https://localhost:8443"
CaFile = "ca.pem"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_toml_file_loads_with_defaults_and_relative_paths(tmp_path: Path) -> None:
    loaded = load_profile_file(write(tmp_path, "p.toml", GOOD_TOML))
    assert loaded.profile.id == str(uuid.uuid5(PROFILE_NAMESPACE, "reporting"))
    assert loaded.profile.entity_names == ("account", "contact")
    assert loaded.profile.retry_count == 12 and loaded.profile.retry_interval == 5
    assert loaded.organization.url == "https://localhost:8443"
    assert loaded.organization.tenant_id == "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
    assert loaded.organization.client_secret.kind is SecretReferenceKind.ENV
    assert loaded.organization.ca_file == tmp_path / "ca.pem"
    assert loaded.data_dir == tmp_path / "var"
    assert loaded.control_db == "sqlite:///control.db"


def test_the_same_profile_as_json(tmp_path: Path) -> None:
    document = {
        "Id": "3f1d2e3c-4b5a-4697-8877-665544332211",
        "Name": "Reporting",
        "KeyVaultUri": "env:DESTINATION",
        "Entities": [{"Name": "account"}],
        "Organization": {
            "Url": "http://127.0.0.1:9000",
            "TenantId": str(uuid.uuid4()),
            "ClientId": str(uuid.uuid4()),
            "ClientSecret": "file:/run/secret",
        },
    }
    loaded = load_profile_file(write(tmp_path, "p.json", json.dumps(document)))
    assert loaded.profile.id == "3f1d2e3c-4b5a-4697-8877-665544332211"
    assert loaded.organization.authority == "https://login.microsoftonline.com"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    bad = """
Name = ""
KeyVaultUri = "https://example.com/not-a-vault"
TablePrefix = "this_prefix_is_far_too_long"
RetryCount = 99
RetryInterval = "5"
Entities = []

[Organization]
Url = "http://crm.example.com"
TenantId = "not-a-guid"
ClientSecret = "s3cr3t-value"
Colour = "blue"
"""
    with pytest.raises(ProfileFileError) as caught:
        load_profile_file(write(tmp_path, "bad.toml", bad))
    found = {(d.field, d.code) for d in caught.value.details}
    assert {
        ("Name", "Required"),
        ("KeyVaultUri", "InvalidFormat"),
        ("TablePrefix", "InvalidFormat"),
        ("RetryCount", "OutOfRange"),
        ("RetryInterval", "InvalidType"),
        ("Entities", "Required"),
        ("Organization.Url", "InvalidFormat"),
        ("Organization.TenantId", "InvalidFormat"),
        ("Organization.ClientId", "Required"),
        ("Organization.ClientSecret", "InvalidFormat"),
        ("Organization.Colour", "Unknown"),
    } <= found
    text = str(caught.value)
    assert "RetryCount must be between 0 and 20." in text
    assert "s3cr3t-value" not in text


def test_unparseable_files_say_so(tmp_path: Path) -> None:
    with pytest.raises(ProfileFileError, match="not valid TOML"):
        load_profile_file(write(tmp_path, "broken.toml", "Name = ["))
    with pytest.raises(ProfileFileError, match="not valid JSON"):
        load_profile_file(write(tmp_path, "broken.json", "{"))
    with pytest.raises(ProfileFileError, match="Unreadable"):
        load_profile_file(tmp_path / "missing.toml")


def test_local_secret_store_reads_env_and_files_without_echoing_values(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "destination").write_text("sqlite:///x.db\n", encoding="utf-8")
    loaded = load_profile_file(write(tmp_path, "p.toml", GOOD_TOML))
    store = LocalSecretStore(tmp_path, environ={"ORG_SECRET": "the-value"})
    assert store.resolve(loaded.organization.client_secret) == "the-value"
    from dataexport.domain.secret_refs import parse_secret_reference

    assert store.resolve(parse_secret_reference(loaded.profile.key_vault_uri)) == "sqlite:///x.db"
    with pytest.raises(SecretUnavailable, match="ORG_SECRET is not set"):
        LocalSecretStore(tmp_path, environ={}).resolve(loaded.organization.client_secret)
    with pytest.raises(SecretUnavailable, match="cannot read"):
        store.resolve(parse_secret_reference("file:secrets/missing"))
