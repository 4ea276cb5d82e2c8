"""Profile files: an export profile (DES §2.1 shape) plus the organization's connection settings.

Used by ``dataexport sync --profile FILE`` before and without the REST API. JSON or TOML::

    Name = "reporting"
    KeyVaultUri = "file:secrets/reporting-destination"   # the destination connection string (a reference)
    TablePrefix = "crm"
    Entities = [{ Name = "account" }, { Name = "contact" }]
    Relationships = [{ Name = "accountleads_association" }]

    [Organization]
    Url = "https://contoso.crm.dynamics.com"
    TenantId = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
    ClientId = "11111111-2222-3333-4444-555555555555"
    ClientSecret = "env:CONTOSO_CLIENT_SECRET"             # a reference, never the secret
    # Authority = "https://login.microsoftonline.com"    # default; the emulator's base URL for the emulator
    # CaFile = "ca.pem"                                   # trust a private CA (the emulator's)

    # ControlDb = "sqlite:///control.db"                  # in DataDir; default
    # DataDir = "var"

Relative paths (``file:`` references, ``CaFile``, ``DataDir``) resolve against the file's folder. The
profile's ``Id`` comes from the file, else uuid5 of its ``Name`` (des.md §1.8). Every problem is
reported at once, in the §2.3 detail format.
"""

from __future__ import annotations

import json
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dataexport.domain.profile import ErrorDetail, ExportProfile
from dataexport.domain.profile_rules import is_guid, validate_profile_body
from dataexport.domain.secret_refs import SecretReference, parse_secret_reference, secret_reference_problem

PROFILE_NAMESPACE = uuid.UUID("8d0f5b1e-4c7a-4e59-9a3f-2b6c1d7e9f40")
NIL_ORGANIZATION = "00000000-0000-0000-0000-000000000000"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_ORG_KEYS = ("Url", "TenantId", "ClientId", "ClientSecret", "Authority", "CaFile")
_FILE_KEYS = ("Organization", "ControlDb", "DataDir")


class ProfileFileError(Exception):
    """The file cannot be used; ``details`` lists every problem (field, code, message)."""

    def __init__(self, path: Path, details: tuple[ErrorDetail, ...]) -> None:
        self.path = path
        self.details = details
        lines = "\n".join(f"  {d.field or '$'}: {d.code}: {d.message}" for d in details)
        super().__init__(f"Profile file {path} is invalid:\n{lines}")


@dataclass(frozen=True)
class OrganizationSettings:
    """How to reach and authenticate to one Dataverse organization; the secret stays a reference."""

    url: str
    tenant_id: str
    client_id: str
    client_secret: SecretReference
    authority: str
    ca_file: Path | None


@dataclass(frozen=True)
class ProfileFile:
    """A loaded, validated profile file."""

    path: Path
    profile: ExportProfile
    organization: OrganizationSettings
    data_dir: Path
    control_db: str

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def read_document(path: Path) -> object:
    """The parsed JSON or TOML document (by extension; ``.toml`` is TOML, anything else JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ProfileFileError(
            path, (ErrorDetail(field="$", code="Unreadable", message=str(error.strerror)),)
        ) from error
    try:
        return tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        message = f"The file is not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'}: {error}"
        raise ProfileFileError(path, (ErrorDetail(field="$", code="InvalidJson", message=message),)) from error


def _detail(field: str, code: str, message: str) -> ErrorDetail:
    return ErrorDetail(field=field, code=code, message=message)


def _is_allowed_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS


def organization_problems(section: object) -> list[ErrorDetail]:
    """Every problem of the ``Organization`` section."""
    if not isinstance(section, Mapping):
        return [_detail("Organization", "Required", "Organization is required: Url, TenantId, ClientId, ClientSecret.")]
    problems: list[ErrorDetail] = []
    for key in ("Url", "TenantId", "ClientId", "ClientSecret"):
        value = section.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(_detail(f"Organization.{key}", "Required", f"Organization.{key} is required."))
    url = section.get("Url")
    if isinstance(url, str) and url.strip() and not _is_allowed_url(url.strip()):
        problems.append(
            _detail(
                "Organization.Url",
                "InvalidFormat",
                "Organization.Url must be an https:// URL (http:// only for localhost).",
            )
        )
    for key in ("TenantId", "ClientId"):
        value = section.get(key)
        if isinstance(value, str) and value.strip() and not is_guid(value.strip()):
            problems.append(_detail(f"Organization.{key}", "InvalidFormat", f"Organization.{key} must be a GUID."))
    secret = section.get("ClientSecret")
    if isinstance(secret, str) and secret.strip() and (problem := _secret_problem(secret)):
        problems.append(_detail("Organization.ClientSecret", "InvalidFormat", problem))
    authority = section.get("Authority")
    if authority is not None and (not isinstance(authority, str) or not _is_allowed_url(authority)):
        problems.append(
            _detail(
                "Organization.Authority",
                "InvalidFormat",
                "Organization.Authority must be an https:// URL (http:// only for localhost).",
            )
        )
    unknown = sorted(set(section) - set(_ORG_KEYS))
    problems += [_detail(f"Organization.{k}", "Unknown", f"Organization.{k} is not a known setting.") for k in unknown]
    return problems


def _secret_problem(text: str) -> str | None:
    problem = secret_reference_problem(text)
    if problem is None:
        return None
    return "Organization.ClientSecret must be a secret reference (env:NAME, file:PATH or a Key Vault secret URL)."


def load_profile_file(path: Path) -> ProfileFile:
    """Load and validate a profile file; raises :class:`ProfileFileError` listing every problem."""
    document = read_document(path)
    if not isinstance(document, Mapping):
        raise ProfileFileError(path, (_detail("$", "InvalidJson", "The file must hold one object (a table)."),))
    body = {k: v for k, v in document.items() if k not in _FILE_KEYS}
    query_org = None if "OrganizationId" in body else NIL_ORGANIZATION
    details = [
        *validate_profile_body(body, query_organization_id=query_org),
        *organization_problems(document.get("Organization")),
    ]
    for key in ("ControlDb", "DataDir"):
        if key in document and not isinstance(document[key], str):
            details.append(_detail(key, "InvalidType", f"{key} must be a string."))
    if details:
        raise ProfileFileError(path, tuple(details))
    return _build(path, document, body)


def _build(path: Path, document: Mapping[str, object], body: Mapping[str, object]) -> ProfileFile:
    base = path.parent
    section = document["Organization"]
    assert isinstance(section, Mapping)
    name = str(body["Name"]).strip()
    fields = dict(body)
    fields.setdefault("Id", str(uuid.uuid5(PROFILE_NAMESPACE, name.lower())))
    fields.setdefault("OrganizationId", NIL_ORGANIZATION)
    profile = ExportProfile.model_validate(fields)
    url = str(section["Url"]).strip().rstrip("/")
    ca_file = section.get("CaFile")
    organization = OrganizationSettings(
        url=url,
        tenant_id=str(section["TenantId"]).strip().lower(),
        client_id=str(section["ClientId"]).strip().lower(),
        client_secret=parse_secret_reference(str(section["ClientSecret"]).strip()),
        authority=str(section.get("Authority") or "https://login.microsoftonline.com").rstrip("/"),
        ca_file=(base / str(ca_file)) if ca_file else None,
    )
    data_dir = base / str(document.get("DataDir") or "var")
    control_db = str(document.get("ControlDb") or "sqlite:///control.db")
    return ProfileFile(path, profile, organization, data_dir, control_db)
