"""The service configuration (des.md §1.8): one TOML file, every key overridable from the environment.

The file comes from the ``path`` argument (``--config``), else ``DATAEXPORT_CONFIG``, else ``./dataexport.toml``
when present; without one the built-in defaults apply::

    data_dir = "var"                          # relative paths resolve against this file's folder
    control_db = "sqlite:///control.db"       # three slashes: a file in data_dir
    public_url = "https://export.example.com"

    [organizations.contoso]
    url = "https://contoso.crm.dynamics.com"
    tenant_id = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
    client_id = "11111111-2222-3333-4444-555555555555"
    client_secret = "env:CONTOSO_SECRET"      # a secret reference (§1.7), never the secret

    [key_vault]
    host_suffixes = [".vault.azure.net"]

Environment variables override keys: ``DATAEXPORT_`` + the key path in upper case, levels joined by ``__``
(``DATAEXPORT_POLLING__MAX_INTERVAL=30``). They can create a whole organization block; lists take JSON
(``["a","b"]``) or comma-separated text. Variables naming no top-level key (``DATAEXPORT_URL`` of the CLI)
are ignored. :mod:`.loading` reads it; every problem raises its ``ServiceConfigError`` naming the key, the
rule and where the value came from, never the value itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from dataexport.blobs.signing import ensure_key_file
from dataexport.domain.profile_rules import is_guid
from dataexport.domain.secret_refs import (
    DEFAULT_HOST_SUFFIXES,
    VERSION_MESSAGE,
    SecretReferenceKind,
    parse_secret_reference,
    secret_reference_problem,
)

ENV_PREFIX = "DATAEXPORT_"
CONFIG_VARIABLE = "DATAEXPORT_CONFIG"
DEFAULT_FILE_NAME = "dataexport.toml"
DEFAULT_DATA_DIR = "var"
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
SIGNING_KEY_FILE = "url-signing.key"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_HOST_SUFFIX = re.compile(r"^\.?[a-z0-9-]+(\.[a-z0-9-]+)*$", re.IGNORECASE)
_RELATIVE_SQLITE = re.compile(r"^(sqlite(?:\+\w+)?):///(?!/)(.+)$")


# ----- field rules ------------------------------------------------------------------------------------------


def _base_dir(info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    return base if isinstance(base, Path) else Path.cwd()


def absolute_path(path: Path, base: Path) -> Path:
    path = path.expanduser()
    return Path(os.path.abspath(path if path.is_absolute() else base / path))


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    return absolute_path(value, _base_dir(info))


def _existing_file(value: Path, info: ValidationInfo) -> Path:
    path = _resolve_path(value, info)
    if not path.is_file():
        raise ValueError(f"must name an existing file; {path} is not one")
    return path


def _web_url(value: str) -> str:
    parts = urlsplit(value.strip())
    secure = parts.scheme == "https" and bool(parts.hostname)
    if not secure and not (parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS):
        raise ValueError("must be an https:// URL (http:// only for localhost)")
    return value.strip().rstrip("/")


def _guid(value: str) -> str:
    if not is_guid(value.strip()):
        raise ValueError("must be a GUID (8-4-4-4-12 hexadecimal digits)")
    return value.strip().lower()


def _reference(value: str, info: ValidationInfo) -> str:
    suffixes = (info.context or {}).get("host_suffixes", DEFAULT_HOST_SUFFIXES)
    problem = secret_reference_problem(value.strip(), tuple(suffixes))
    if problem == VERSION_MESSAGE:
        raise ValueError("must name a Key Vault secret without a version segment")
    if problem is not None:
        raise ValueError(
            "must be a secret reference: env:NAME, file:PATH, or a Key Vault secret URL "
            "(https://<vault>.vault.azure.net/secrets/<name>/) on a host listed in key_vault.host_suffixes"
        )
    return value.strip()


def _local_reference(value: str, info: ValidationInfo) -> str:
    reference = _reference(value, info)
    if parse_secret_reference(reference, ("",)).kind is SecretReferenceKind.KEY_VAULT:
        raise ValueError("must be an env: or file: reference: the vault's own credential cannot come from the vault")
    return reference


def _host_suffix(value: str) -> str:
    if not _HOST_SUFFIX.match(value.strip()):
        raise ValueError(
            'must be a host name or a suffix starting with "." (".vault.azure.net", "localhost"), without a port: '
            "a vault URL may name any port"
        )
    return value.strip().lower()


def _org_scope(value: str) -> str:
    return "*" if value.strip() == "*" else _guid(value)


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("must be 1-64 letters, digits, '-' or '_'")
    return value


def _non_empty(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("needs at least one entry")
    return value


def _rule(key: str, rule: str) -> PydanticCustomError:
    """A cross-field problem pinned to ``key`` of the model being validated."""
    return PydanticCustomError("config_rule", "{rule}", {"rule": rule, "key": key})


OrganizationScopes = Annotated[tuple[Annotated[str, AfterValidator(_org_scope)], ...], AfterValidator(_non_empty)]
HostSuffixes = Annotated[tuple[Annotated[str, AfterValidator(_host_suffix)], ...], AfterValidator(_non_empty)]
ConfigPath = Annotated[Path, AfterValidator(_resolve_path)]
CaFile = Annotated[Path, AfterValidator(_existing_file)]
WebUrl = Annotated[str, AfterValidator(_web_url)]
Guid = Annotated[str, AfterValidator(_guid)]
SecretRef = Annotated[str, AfterValidator(_reference)]
LocalSecretRef = Annotated[str, AfterValidator(_local_reference)]
_MODEL = ConfigDict(frozen=True, extra="forbid")


# ----- the models -------------------------------------------------------------------------------------------


class OrganizationConfig(BaseModel):
    """One Dataverse organization (§1.1); ``name`` is its key under ``organizations``."""

    model_config = _MODEL
    name: Annotated[str, AfterValidator(_name)]
    url: WebUrl
    tenant_id: Guid
    client_id: Guid
    client_secret: SecretRef
    authority: WebUrl = DEFAULT_AUTHORITY
    ca_file: CaFile | None = None


class ApiKeyConfig(BaseModel):
    """An API key (a secret reference) and the organizations (GUIDs, or ``*``) it may act on."""

    model_config = _MODEL
    key: SecretRef
    organizations: OrganizationScopes


class AuthConfig(BaseModel):
    """API authentication (§3.1): Entra ID bearer tokens, or API keys."""

    model_config = _MODEL
    mode: Literal["entra", "apikey"] = "entra"
    issuers: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()
    api_keys: tuple[ApiKeyConfig, ...] = ()
    ca_file: CaFile | None = None
    cache_seconds: Annotated[int, Field(ge=0)] = 300

    @model_validator(mode="after")
    def _keys_for_apikey_mode(self) -> AuthConfig:
        if self.mode == "apikey" and not self.api_keys:
            raise _rule("api_keys", "needs at least one key when auth.mode is apikey")
        return self


class PollingConfig(BaseModel):
    """Adaptive delta polling (§7.1), in seconds."""

    model_config = _MODEL
    min_interval: Annotated[float, Field(gt=0)] = 0.5
    max_interval: Annotated[float, Field(gt=0)] = 15.0

    @model_validator(mode="after")
    def _ordered(self) -> PollingConfig:
        if self.max_interval < self.min_interval:
            raise _rule("max_interval", "must not be below polling.min_interval")
        return self


class SyncConfig(BaseModel):
    """Sync scheduling: the untracked re-read interval (minutes, §6.6) and ``workers``, the steps that run at
    once across every profile of the service (each profile's runner also uses at most that many threads)."""

    model_config = _MODEL
    untracked_reread_interval: Annotated[float, Field(gt=0)] = 60.0
    workers: Annotated[int, Field(ge=1, le=256)] = 4


class KeyVaultConfig(BaseModel):
    """Accepted vault hosts (§1.7) and the service identity; without ``client_id``, DefaultAzureCredential."""

    model_config = _MODEL
    host_suffixes: HostSuffixes = DEFAULT_HOST_SUFFIXES
    tenant_id: Guid | None = None
    client_id: Guid | None = None
    client_secret: LocalSecretRef | None = None
    authority: WebUrl = DEFAULT_AUTHORITY
    ca_file: CaFile | None = None

    @model_validator(mode="after")
    def _complete_credentials(self) -> KeyVaultConfig:
        if self.client_id is not None:
            for key in ("tenant_id", "client_secret"):
                if getattr(self, key) is None:
                    raise _rule(key, "is required when key_vault.client_id is set")
        return self


class FailureStoreConfig(BaseModel):
    """Where failure logs go (§8.4) and how long their URLs and files live."""

    model_config = _MODEL
    backend: Literal["local", "azure_blob"] = "local"
    root: ConfigPath = Field(default=Path(DEFAULT_DATA_DIR) / "failures", validate_default=True)
    account_url: WebUrl | None = None
    connection_string: SecretRef | None = None
    write_record_data: bool = True
    retention_days: Annotated[int, Field(ge=1)] = 30
    url_ttl_seconds: Annotated[int, Field(ge=1)] = 86400

    @model_validator(mode="after")
    def _blob_target(self) -> FailureStoreConfig:
        if self.backend == "azure_blob" and self.account_url is None and self.connection_string is None:
            raise _rule("account_url", "or failure_store.connection_string is required when the backend is azure_blob")
        return self


class ServiceConfig(BaseModel):
    """The whole configuration. Build it with :func:`load_service_config` or :func:`build_service_config`.

    Paths are absolute: relative ones resolve against ``base_dir`` (the config file's folder, else the
    working directory), as ``file:`` references do.
    """

    model_config = _MODEL
    base_dir: Path
    data_dir: ConfigPath = Path(DEFAULT_DATA_DIR)
    control_db: str = "sqlite:///control.db"
    public_url: WebUrl | None = None
    host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    organizations: dict[str, OrganizationConfig] = Field(default_factory=dict)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    polling: PollingConfig = Field(default_factory=PollingConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    key_vault: KeyVaultConfig = Field(default_factory=KeyVaultConfig)
    failure_store: FailureStoreConfig = Field(default_factory=FailureStoreConfig)
    url_signing_key: SecretRef = f"file:{DEFAULT_DATA_DIR}/{SIGNING_KEY_FILE}"

    @model_validator(mode="before")
    @classmethod
    def _derived_defaults(cls, data: object, info: ValidationInfo) -> object:
        """Fills ``base_dir``, the organization names and the defaults that live in ``data_dir``."""
        if not isinstance(data, Mapping):
            return data
        values = dict(data)
        given = values.get("base_dir")
        base = Path(given) if isinstance(given, str | Path) and not info.context else _base_dir(info)
        values["base_dir"] = absolute_path(base, Path.cwd())
        raw_dir = values.get("data_dir", DEFAULT_DATA_DIR)
        if isinstance(raw_dir, str | Path):
            data_dir = values["data_dir"] = absolute_path(Path(raw_dir), base)
            values.setdefault("url_signing_key", default_url_signing_key(data_dir))
            store = values.get("failure_store", {})
            if isinstance(store, Mapping) and "root" not in store:
                values["failure_store"] = {**store, "root": data_dir / "failures"}
        organizations = values.get("organizations")
        if isinstance(organizations, Mapping):
            values["organizations"] = {
                name: {**block, "name": name} if isinstance(block, Mapping) else block
                for name, block in organizations.items()
            }
        return values

    @model_validator(mode="after")
    def _cross_checks(self) -> ServiceConfig:
        if not _URL_SCHEME.match(self.control_db):
            raise _rule("control_db", "must be a database URL (sqlite:///control.db, postgresql://host/db)")
        seen: dict[str, str] = {}
        for name, organization in self.organizations.items():
            other = seen.setdefault(organization.url.lower(), name)
            if other != name:
                raise _rule(f"organizations.{name}.url", f"is the same organization as organizations.{other}.url")
        return self

    @property
    def control_db_url(self) -> str:
        """``control_db`` with a three-slash SQLite path made absolute in ``data_dir``."""
        match = _RELATIVE_SQLITE.match(self.control_db)
        if match is None or match.group(2).startswith(":memory:"):
            return self.control_db
        return f"{match.group(1)}:///{self.data_dir / match.group(2)}"


def default_url_signing_key(data_dir: Path) -> str:
    """The default ``url_signing_key`` reference: ``file:<data_dir>/url-signing.key``."""
    return f"file:{data_dir / SIGNING_KEY_FILE}"


def ensure_url_signing_key(config: ServiceConfig) -> None:
    """Create the default signing key file (32 random bytes as hex, mode 0600) when it is configured and missing.

    A key named by any other reference is the operator's to provide; it is left alone.
    """
    if config.url_signing_key == default_url_signing_key(config.data_dir):
        ensure_key_file(config.data_dir / SIGNING_KEY_FILE)
