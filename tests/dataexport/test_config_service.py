"""The service configuration (des.md §1.8): file discovery, defaults, environment overrides and every error."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from dataexport.config.loading import ServiceConfigError, build_service_config, load_service_config
from dataexport.config.service import ServiceConfig, ensure_url_signing_key

TENANT = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
CLIENT = "11111111-2222-3333-4444-555555555555"
ORG_GUID = "5f0b8c5e-3c1d-4a8e-9a53-2f8f1a7c6d10"

CONTOSO = f"""
[organizations.Contoso]
url = "https://contoso.crm11.dynamics.com/"
tenant_id = "{TENANT.upper()}"
client_id = "{CLIENT}"
client_secret = "env:CONTOSO_SECRET"
"""


def _write(folder: Path, text: str, name: str = "dataexport.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _problem_lines(error: pytest.ExceptionInfo[ServiceConfigError]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


# ----- defaults and discovery -------------------------------------------------------------------------------


def test_without_a_file_the_defaults_apply_in_the_working_directory(tmp_path: Path) -> None:
    config = load_service_config(environ={}, cwd=tmp_path)

    assert config.base_dir == tmp_path
    assert config.data_dir == tmp_path / "var"
    assert config.control_db == "sqlite:///control.db"
    assert config.control_db_url == f"sqlite:///{tmp_path}/var/control.db"
    assert config.url_signing_key == f"file:{tmp_path}/var/url-signing.key"
    assert config.failure_store.root == tmp_path / "var/failures"
    assert (config.host, config.port, config.public_url, config.organizations) == ("127.0.0.1", 8080, None, {})
    assert (config.polling.min_interval, config.polling.max_interval) == (0.5, 15.0)
    assert (config.sync.untracked_reread_interval, config.sync.workers) == (60.0, 4)
    assert config.key_vault.host_suffixes == (".vault.azure.net",)
    assert config.key_vault.client_id is None
    assert (config.auth.mode, config.auth.cache_seconds, config.auth.api_keys) == ("entra", 300, ())
    fs = config.failure_store
    assert (fs.backend, fs.write_record_data, fs.retention_days, fs.url_ttl_seconds) == ("local", True, 30, 86400)


def test_dataexport_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    _write(tmp_path, 'data_dir = "state"\nport = 9000\n')

    config = load_service_config(environ={}, cwd=tmp_path)

    assert (config.data_dir, config.port) == (tmp_path / "state", 9000)


def test_relative_paths_resolve_against_the_config_folder_not_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "etc/ca.pem").parent.mkdir(parents=True)
    (tmp_path / "etc/ca.pem").write_text("pem")
    text = CONTOSO + 'ca_file = "ca.pem"\n\n[failure_store]\nroot = "../logs"\n'
    _write(tmp_path / "etc", 'data_dir = "var"\ncontrol_db = "sqlite:///db/control.db"\n' + text)
    elsewhere = tmp_path / "elsewhere"

    config = load_service_config(environ={"DATAEXPORT_CONFIG": "../etc/dataexport.toml"}, cwd=elsewhere)

    assert config.base_dir == tmp_path / "etc"
    assert config.data_dir == tmp_path / "etc/var"
    assert config.control_db_url == f"sqlite:///{tmp_path}/etc/var/db/control.db"
    assert config.failure_store.root == tmp_path / "logs"
    assert config.organizations["Contoso"].ca_file == tmp_path / "etc/ca.pem"


def test_the_path_argument_wins_over_the_variable(tmp_path: Path) -> None:
    chosen = _write(tmp_path / "a", "port = 1111\n")
    _write(tmp_path / "b", "port = 2222\n")

    config = load_service_config(chosen, environ={"DATAEXPORT_CONFIG": str(tmp_path / "b/dataexport.toml")})

    assert config.port == 1111


def test_an_organization_block_is_normalized(tmp_path: Path) -> None:
    config = load_service_config(_write(tmp_path, CONTOSO), environ={})

    org = config.organizations["Contoso"]
    assert (org.name, org.url, org.tenant_id, org.client_id) == (
        "Contoso",
        "https://contoso.crm11.dynamics.com",
        TENANT,
        CLIENT,
    )
    assert (org.client_secret, org.authority, org.ca_file) == (
        "env:CONTOSO_SECRET",
        "https://login.microsoftonline.com",
        None,
    )


def test_absolute_or_server_database_urls_are_kept(tmp_path: Path) -> None:
    for url in ("sqlite:////srv/control.db", "postgresql+psycopg://svc@db/control", "sqlite:///:memory:"):
        assert build_service_config({"control_db": url}, base_dir=tmp_path).control_db_url == url


def test_key_vault_references_follow_the_configured_host_suffixes(tmp_path: Path) -> None:
    vault_ref = "https://127.0.0.1:8443/secrets/contoso-app/"
    text = CONTOSO.replace("env:CONTOSO_SECRET", vault_ref) + '\n[key_vault]\nhost_suffixes = ["127.0.0.1"]\n'

    config = load_service_config(_write(tmp_path, text), environ={})

    assert config.organizations["Contoso"].client_secret == vault_ref


def test_the_configuration_is_frozen(tmp_path: Path) -> None:
    config = load_service_config(environ={}, cwd=tmp_path)
    with pytest.raises(ValidationError):
        config.port = 1  # type: ignore[misc]


# ----- environment overrides ------------------------------------------------------------------------------


def test_environment_variables_override_file_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, CONTOSO + "\n[polling]\nmax_interval = 5\n")
    environ = {
        "DATAEXPORT_POLLING__MAX_INTERVAL": "30",
        "DATAEXPORT_ORGANIZATIONS__CONTOSO__CLIENT_SECRET": "file:secrets/contoso",
        "DATAEXPORT_FAILURE_STORE__WRITE_RECORD_DATA": "false",
        "DATAEXPORT_PORT": "9443",
        "DATAEXPORT_URL": "https://not-a-setting.example",  # the CLI's, ignored here
    }

    config = load_service_config(path, environ=environ)

    assert config.polling.max_interval == 30.0
    assert config.organizations["Contoso"].client_secret == "file:secrets/contoso"
    assert list(config.organizations) == ["Contoso"]
    assert (config.failure_store.write_record_data, config.port) == (False, 9443)


def test_the_environment_can_declare_a_whole_organization(tmp_path: Path) -> None:
    prefix = "DATAEXPORT_ORGANIZATIONS__FABRIKAM__"
    environ = {
        f"{prefix}URL": "https://fabrikam.crm.dynamics.com",
        f"{prefix}TENANT_ID": TENANT,
        f"{prefix}CLIENT_ID": CLIENT,
        f"{prefix}CLIENT_SECRET": "env:FABRIKAM_SECRET",
        f"{prefix}AUTHORITY": "https://127.0.0.1:8443",
    }

    config = load_service_config(environ=environ, cwd=tmp_path)

    org = config.organizations["fabrikam"]
    assert (org.name, org.url, org.authority) == (
        "fabrikam",
        "https://fabrikam.crm.dynamics.com",
        "https://127.0.0.1:8443",
    )


def test_lists_come_from_json_or_comma_separated_text(tmp_path: Path) -> None:
    environ = {
        "DATAEXPORT_KEY_VAULT__HOST_SUFFIXES": " .vault.azure.net , localhost ",
        "DATAEXPORT_AUTH__ISSUERS": '["https://sts.windows.net/a/", "https://login.example/b/v2.0"]',
        "DATAEXPORT_AUTH__MODE": "apikey",
        "DATAEXPORT_AUTH__API_KEYS": f'[{{"key": "env:REPORTING_KEY", "organizations": ["{ORG_GUID.upper()}"]}}]',
    }

    config = load_service_config(environ=environ, cwd=tmp_path)

    assert config.key_vault.host_suffixes == (".vault.azure.net", "localhost")
    assert config.auth.issuers == ("https://sts.windows.net/a/", "https://login.example/b/v2.0")
    assert config.auth.api_keys[0].key == "env:REPORTING_KEY"
    assert config.auth.api_keys[0].organizations == (ORG_GUID,)


# ----- errors ---------------------------------------------------------------------------------------------


ENV_ERRORS = [
    ({"DATAEXPORT_POLLING__MAX_INTERVAL": "soon"}, "polling.max_interval", "valid number"),
    ({"DATAEXPORT_POLLING__MAX_INTERVAL": "0.1"}, "polling.max_interval", "must not be below polling.min_interval"),
    ({"DATAEXPORT_POLLING__MAXINTERVAL": "3"}, "polling.maxinterval", "is not a known setting"),
    ({"DATAEXPORT_PORT": "70000"}, "port", "65535"),
    ({"DATAEXPORT_SYNC__WORKERS": "0"}, "sync.workers", "greater than or equal to 1"),
    ({"DATAEXPORT_AUTH__MODE": "basic"}, "auth.mode", "'entra' or 'apikey'"),
    ({"DATAEXPORT_AUTH__MODE": "apikey"}, "auth.api_keys", "at least one key"),
    ({"DATAEXPORT_PUBLIC_URL": "ftp://export"}, "public_url", "https://"),
    ({"DATAEXPORT_CONTROL_DB": "control.db"}, "control_db", "database URL"),
    ({"DATAEXPORT_KEY_VAULT__HOST_SUFFIXES": "localhost:8443"}, "key_vault.host_suffixes[0]", "without a port"),
    ({"DATAEXPORT_KEY_VAULT__CLIENT_ID": CLIENT}, "key_vault.tenant_id", "required when key_vault.client_id"),
    (
        {"DATAEXPORT_KEY_VAULT__CLIENT_SECRET": "https://kv.vault.azure.net/secrets/x/"},
        "key_vault.client_secret",
        "env: or file:",
    ),
    ({"DATAEXPORT_FAILURE_STORE__BACKEND": "azure_blob"}, "failure_store.account_url", "azure_blob"),
    ({"DATAEXPORT_FAILURE_STORE__RETENTION_DAYS": "-1"}, "failure_store.retention_days", "greater than or equal"),
    ({"DATAEXPORT_AUTH__CA_FILE": "missing.pem"}, "auth.ca_file", "existing file"),
    ({"DATAEXPORT_URL_SIGNING_KEY": "plain-text-key"}, "url_signing_key", "secret reference"),
    ({"DATAEXPORT_ORGANIZATIONS__X__URL": "https://x.crm.dynamics.com"}, "organizations.x.tenant_id", "is required"),
    ({"DATAEXPORT_AUTH__API_KEYS": "[{"}, "", "is not valid JSON"),
]


@pytest.mark.parametrize(("environ", "key", "rule"), ENV_ERRORS)
def test_each_environment_error_names_the_key_the_rule_and_the_variable(
    tmp_path: Path, environ: dict[str, str], key: str, rule: str
) -> None:
    with pytest.raises(ServiceConfigError) as raised:
        load_service_config(environ=environ, cwd=tmp_path)

    (variable,) = environ
    assert isinstance(raised.value, ValueError)
    assert any(line.startswith(f"{key} ") or not key for line in _problem_lines(raised)), _problem_lines(raised)
    matching = [p for p in raised.value.problems if p.key == key]
    assert matching and rule in matching[0].rule, raised.value.problems
    assert matching[0].source == variable and variable in str(raised.value)


FILE_ERRORS = [
    (
        CONTOSO.replace("https://contoso.crm11.dynamics.com/", "http://contoso.crm11.dynamics.com"),
        "organizations.Contoso.url",
        "https://",
    ),
    (CONTOSO.replace(TENANT.upper(), "not-a-guid"), "organizations.Contoso.tenant_id", "GUID"),
    (CONTOSO + 'colour = "blue"\n', "organizations.Contoso.colour", "is not a known setting"),
    (
        CONTOSO + CONTOSO.replace("Contoso", "Again"),
        "organizations.Again.url",
        "same organization as organizations.Contoso",
    ),
    ("[organizations.'bad name']\n", "organizations.bad name.name", "letters, digits"),
    ("port = '80x'\n", "port", "valid integer"),
    ('base_dir = "/"\n', "base_dir", "is not a setting"),
    ("[auth]\napi_keys = [{ key = 'env:K', organizations = [] }]\n", "auth.api_keys[0].organizations", "at least one"),
    ("[auth]\napi_keys = [{ key = 'env:K', organizations = ['org'] }]\n", "auth.api_keys[0].organizations[0]", "GUID"),
    (
        CONTOSO.replace("env:CONTOSO_SECRET", "https://kv.vault.azure.net/secrets/app/0123456789abcdef"),
        "organizations.Contoso.client_secret",
        "without a version",
    ),
]


@pytest.mark.parametrize(("text", "key", "rule"), FILE_ERRORS)
def test_each_file_error_names_the_key_the_rule_and_the_file(tmp_path: Path, text: str, key: str, rule: str) -> None:
    path = _write(tmp_path, text)

    with pytest.raises(ServiceConfigError) as raised:
        load_service_config(path, environ={})

    matching = [p for p in raised.value.problems if p.key == key]
    assert matching and rule in matching[0].rule, raised.value.problems
    assert matching[0].source == str(path) and str(path) in str(raised.value)


def test_secret_looking_values_are_never_echoed(tmp_path: Path) -> None:
    text = CONTOSO.replace("env:CONTOSO_SECRET", "Sup3rS3cret!value") + '\n[auth]\ncache_seconds = "n0pe-t0ken"\n'
    environ = {
        "DATAEXPORT_AUTH__API_KEYS": '[{"key": "sk-live-0123456789", "organizations": ["*"]}]',
        "DATAEXPORT_CONTROL_DB": "Server=db;Password=hunter2",
    }

    with pytest.raises(ServiceConfigError) as raised:
        load_service_config(_write(tmp_path, text), environ=environ)

    message = str(raised.value)
    keys = {problem.key for problem in raised.value.problems}
    assert {"organizations.Contoso.client_secret", "auth.api_keys[0].key", "auth.cache_seconds"} <= keys
    for value in ("Sup3rS3cret", "sk-live-0123456789", "hunter2", "n0pe-t0ken"):
        assert value not in message


def test_the_control_db_rule_names_the_variable_not_the_url(tmp_path: Path) -> None:
    with pytest.raises(ServiceConfigError) as raised:
        load_service_config(environ={"DATAEXPORT_CONTROL_DB": "Password=hunter2"}, cwd=tmp_path)

    assert [(p.key, p.source) for p in raised.value.problems] == [("control_db", "DATAEXPORT_CONTROL_DB")]
    assert "hunter2" not in str(raised.value)


def test_a_missing_file_named_by_the_variable_says_so(tmp_path: Path) -> None:
    with pytest.raises(ServiceConfigError) as raised:
        load_service_config(environ={"DATAEXPORT_CONFIG": "nowhere.toml"}, cwd=tmp_path)

    message = str(raised.value)
    assert "cannot be read" in message and str(tmp_path / "nowhere.toml") in message and "DATAEXPORT_CONFIG" in message


def test_invalid_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "port = 8080\nhost = \n")

    with pytest.raises(ServiceConfigError) as raised:
        load_service_config(path, environ={})

    assert "not valid TOML" in str(raised.value) and "line 2" in str(raised.value) and str(path) in str(raised.value)


# ----- the URL signing key ----------------------------------------------------------------------------------


def test_the_default_signing_key_is_generated_once_and_private(tmp_path: Path) -> None:
    config = load_service_config(environ={}, cwd=tmp_path)
    key_file = tmp_path / "var/url-signing.key"

    ensure_url_signing_key(config)
    first = key_file.read_text().strip()
    ensure_url_signing_key(config)

    assert len(first) == 64 and int(first, 16) >= 0
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_an_operator_provided_signing_key_is_left_alone(tmp_path: Path) -> None:
    config = load_service_config(environ={"DATAEXPORT_URL_SIGNING_KEY": "env:SIGNING_KEY"}, cwd=tmp_path)

    ensure_url_signing_key(config)

    assert config.url_signing_key == "env:SIGNING_KEY"
    assert not (tmp_path / "var").exists()


def test_direct_construction_takes_absolute_paths(tmp_path: Path) -> None:
    config = ServiceConfig(base_dir=tmp_path, data_dir=tmp_path / "data")

    assert config.failure_store.root == tmp_path / "data/failures"
    assert config.url_signing_key == f"file:{tmp_path}/data/url-signing.key"
