"""The secret resolver (env:, file:, Key Vault through the emulator) and the Key Vault tag rule (§5 check 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_secrets_keyvault import CLIENT_ID, CLIENT_SECRET, CONNECTION, ORG_ID, TENANT_ID, VaultSite, site, tls

from dataexport.config.loading import build_service_config
from dataexport.config.service import ServiceConfig
from dataexport.domain.secret_refs import parse_secret_reference
from dataexport.errors import SecretUnavailable
from dataexport.secrets.keyvault import KeyVaultSecretStore, build_vault_store
from dataexport.secrets.local import LocalSecretStore
from dataexport.secrets.resolver import SecretResolver, VaultStore, tag_check_problem
from dataverse_emulator.keyvault import admin_put_secret

__all__ = ["site", "tls"]  # the emulator vault fixtures, shared with the Key Vault store tests

OTHER_ORG = "0b0b0b0b-1111-4222-8333-444444444444"


def _config(tmp_path: Path, site: VaultSite) -> ServiceConfig:
    document = {
        "key_vault": {
            "host_suffixes": ["127.0.0.1"],
            "tenant_id": TENANT_ID,
            "client_id": CLIENT_ID,
            "client_secret": "file:secrets/vault-client",
            "authority": site.base,
            "ca_file": str(site.tls.ca_pem),
        }
    }
    return build_service_config(document, base_dir=tmp_path)


def test_local_references_resolve_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets/destination").write_text("sqlite:///rep.db\n")
    config = build_service_config({}, base_dir=tmp_path)
    resolver = SecretResolver.from_config(config, environ={"DEST": " mssql://u:p@h/db "})

    assert resolver.resolve(parse_secret_reference("file:secrets/destination")) == "sqlite:///rep.db"
    assert resolver.resolve(parse_secret_reference("env:DEST")) == "mssql://u:p@h/db"
    assert resolver.read_tags(parse_secret_reference("env:DEST")) is None
    assert resolver.read_tags(parse_secret_reference("file:secrets/destination")) is None


def test_key_vault_references_go_to_the_configured_vault(tmp_path: Path, site: VaultSite) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets/vault-client").write_text(CLIENT_SECRET)
    resolver = SecretResolver.from_config(_config(tmp_path, site), environ={})
    reference = site.reference("reporting-sql")

    assert resolver.resolve(reference) == CONNECTION
    tags = resolver.read_tags(reference)
    assert tags is not None and dict(tags) == {ORG_ID: TENANT_ID}
    assert tag_check_problem(tags, ORG_ID.upper(), TENANT_ID, "reporting-sql") is None
    assert tag_check_problem(tags, OTHER_ORG, TENANT_ID, "reporting-sql") == (
        f"Secret 'reporting-sql' has no tag named '{OTHER_ORG}'."
    )


def test_the_vault_store_is_built_once_and_only_for_a_vault_reference(tmp_path: Path, site: VaultSite) -> None:
    environ = {"DEST": "sqlite:///rep.db", "VAULT_CLIENT": CLIENT_SECRET}
    local = LocalSecretStore(tmp_path, environ)
    config = _config(tmp_path, site).key_vault.model_copy(update={"client_secret": "env:VAULT_CLIENT"})
    built: list[KeyVaultSecretStore] = []

    def build() -> VaultStore:
        built.append(build_vault_store(config, local))
        return built[-1]

    resolver = SecretResolver(local, build)
    assert resolver.resolve(parse_secret_reference("env:DEST")) == "sqlite:///rep.db"
    assert built == []

    reference = site.reference("reporting-sql")
    assert resolver.resolve(reference) == CONNECTION
    assert resolver.read_tags(reference) is not None
    assert len(built) == 1


def test_a_vault_whose_credential_cannot_be_read_yet_is_built_at_a_later_call(tmp_path: Path, site: VaultSite) -> None:
    resolver = SecretResolver.from_config(_config(tmp_path, site), environ={})
    reference = site.reference("reporting-sql")

    with pytest.raises(SecretUnavailable, match="secrets/vault-client"):
        resolver.resolve(reference)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets/vault-client").write_text(CLIENT_SECRET)

    assert resolver.resolve(reference) == CONNECTION


def test_without_a_vault_a_key_vault_reference_is_refused_clearly(tmp_path: Path, site: VaultSite) -> None:
    resolver = SecretResolver(LocalSecretStore(tmp_path, {}))
    reference = site.reference("reporting-sql")

    for read in (resolver.resolve, resolver.read_tags):
        with pytest.raises(SecretUnavailable, match="no Key Vault is configured"):
            read(reference)


def test_a_rotated_vault_secret_is_read_at_the_next_call(tmp_path: Path, site: VaultSite) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets/vault-client").write_text(CLIENT_SECRET)
    resolver = SecretResolver.from_config(_config(tmp_path, site), environ={})
    admin_put_secret(site.vault, "resolver-rotating", {"value": "old"})
    reference = site.reference("resolver-rotating")
    assert resolver.resolve(reference) == "old"

    admin_put_secret(site.vault, "resolver-rotating", {"value": "new"})

    assert resolver.resolve(reference) == "new"


# ----- the tag rule ---------------------------------------------------------------------------------------------


def test_the_tag_rule_compares_guids_case_insensitively() -> None:
    tags = {ORG_ID.upper(): f" {TENANT_ID.upper()} ", "other": "x"}
    assert tag_check_problem(tags, ORG_ID, TENANT_ID, "reporting-sql") is None


@pytest.mark.parametrize("tags", [None, {}, {"org": TENANT_ID}, {TENANT_ID: ORG_ID}])
def test_a_secret_without_the_organization_tag_fails(tags: dict[str, str] | None) -> None:
    assert tag_check_problem(tags, ORG_ID, TENANT_ID, "reporting-sql") == (
        f"Secret 'reporting-sql' has no tag named '{ORG_ID}'."
    )


def test_a_tag_with_another_tenant_fails_and_names_both() -> None:
    problem = tag_check_problem({ORG_ID: OTHER_ORG}, ORG_ID, TENANT_ID, "reporting-sql")

    assert problem == (
        f"Secret 'reporting-sql' tag '{ORG_ID}' has value '{OTHER_ORG}', expected the tenant id '{TENANT_ID}'."
    )
