"""A minimal Azure Key Vault: the Key Vault SDK and secret references work offline (spec §7.10).

:class:`SecretVault` keeps versioned secrets (``data_dir/keyvault.json``, mode 0600, or memory only).
:func:`keyvault_routes` serves ``GET /secrets/<name>[/<version>]`` to callers with an emulator token for
``https://vault.azure.net``, answering others with the bearer challenge the SDK follows.
:func:`keyvault_admin_routes` sets and deletes secrets under ``/_emulator/keyvault/secrets/<name>``
(no access control of its own: mount it behind the admin surface's check).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dataverse_emulator.clock import Clock
from dataverse_emulator.identity.bearer import BearerError, validate_bearer
from dataverse_emulator.identity.directory import IdentityDirectory
from dataverse_emulator.identity.private_files import write_private
from dataverse_emulator.identity.urls import base_url_of

VAULT_RESOURCE = "https://vault.azure.net"
VAULT_FILE = "keyvault.json"
LATEST_API_VERSION = "7.4"
_SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_NUMBERED_VERSION = re.compile(r"^(\d+)\.(\d+)(-preview(\.\d+)?)?$")
_DATED_VERSION = re.compile(r"^(\d{4}-\d{2}-\d{2})(-preview(\.\d+)?)?$")
# Dated API versions succeed 7.6; 2016-10-01 and older predate 7.0.
_OLDEST_DATED_VERSION = "2016-10-02"


@dataclass(frozen=True)
class SecretVersion:
    """One version of a secret. ``created``/``updated`` are epoch seconds of the emulator Clock."""

    name: str
    version: str
    value: str = field(repr=False)
    tags: Mapping[str, str]
    created: int
    updated: int
    content_type: str | None = None


class SecretVault:
    """Versioned secrets with case-insensitive names, as in Key Vault. Thread-safe."""

    def __init__(self, clock: Clock, path: Path | None = None, secrets: list[SecretVersion] | None = None) -> None:
        """Use :meth:`load_or_create`. ``secrets`` are versions oldest first; ``path`` is where to save."""
        self._clock = clock
        self._path = path
        self._versions: dict[str, list[SecretVersion]] = {}
        for secret in secrets or []:
            self._versions.setdefault(secret.name.lower(), []).append(secret)
        self._lock = threading.Lock()

    @classmethod
    def load_or_create(cls, data_dir: Path | None, clock: Clock) -> SecretVault:
        """The vault saved in ``data_dir/keyvault.json``, or an empty one; ``None`` keeps it in memory only.

        Raises:
            ValueError: the file exists but is not a vault this class wrote.
        """
        if data_dir is None:
            return cls(clock)
        path = data_dir / VAULT_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            return cls(clock, path)
        try:
            versions = [_version_from_json(item) for item in json.loads(path.read_text())["versions"]]
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path} is not an emulator key vault: fix or remove it") from error
        return cls(clock, path, versions)

    def set_secret(
        self, name: str, value: str, tags: Mapping[str, str] | None = None, *, content_type: str | None = None
    ) -> str:
        """Store ``value`` as a new version of ``name`` (creating the secret) and return the version id.

        Version ids are 32 lowercase hex digits. The secret keeps the spelling of its first version's name.

        Raises:
            ValueError: ``name`` is not 1-127 letters, digits and dashes.
        """
        if not _SECRET_NAME.fullmatch(name):
            raise ValueError(f"secret name {name!r} is invalid: use 1-127 letters, digits and dashes")
        now = int(self._clock.now().timestamp())
        with self._lock:
            history = self._versions.setdefault(name.lower(), [])
            display_name = history[0].name if history else name
            secret = SecretVersion(
                display_name,
                uuid.uuid4().hex,
                value,
                MappingProxyType(dict(tags or {})),
                now,
                now,
                content_type,
            )
            history.append(secret)
            self._save()
        return secret.version

    def delete_secret(self, name: str) -> bool:
        """Remove ``name`` and all its versions; ``False`` when there was no such secret."""
        with self._lock:
            removed = self._versions.pop(name.lower(), None) is not None
            if removed:
                self._save()
        return removed

    def get(self, name: str, version: str | None = None) -> SecretVersion | None:
        """The latest version of ``name``, or the given ``version`` (case-insensitive); ``None`` if absent."""
        with self._lock:
            history = list(self._versions.get(name.lower(), []))
        if version is None:
            return history[-1] if history else None
        return next((item for item in history if item.version == version.lower()), None)

    def _save(self) -> None:
        if self._path is None:
            return
        versions = [_version_to_json(item) for history in self._versions.values() for item in history]
        write_private(self._path, json.dumps({"versions": versions}, indent=2).encode())


def secret_bundle(secret: SecretVersion, base_url: str) -> dict[str, object]:
    """The Key Vault ``SecretBundle`` JSON for ``secret`` served from ``base_url``."""
    bundle: dict[str, object] = {
        "value": secret.value,
        "id": f"{base_url.rstrip('/')}/secrets/{secret.name}/{secret.version}",
        "attributes": {
            "enabled": True,
            "created": secret.created,
            "updated": secret.updated,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90,
        },
    }
    if secret.tags:
        bundle["tags"] = dict(secret.tags)
    if secret.content_type is not None:
        bundle["contentType"] = secret.content_type
    return bundle


def api_version_problem(api_version: str | None) -> str | None:
    """Why ``api-version`` is refused (missing, malformed or older than 7.0), or ``None`` when accepted."""
    if not api_version:
        return f"the api-version query parameter is required: add ?api-version={LATEST_API_VERSION}"
    numbered = _NUMBERED_VERSION.fullmatch(api_version)
    dated = _DATED_VERSION.fullmatch(api_version)
    if (numbered and int(numbered.group(1)) >= 7) or (dated and dated.group(1) >= _OLDEST_DATED_VERSION):
        return None
    return f"the specified version ({api_version}) is not supported: use 7.0 or later, e.g. {LATEST_API_VERSION}"


def challenge_header(base_url: str, tenant_id: str) -> str:
    """The ``WWW-Authenticate`` challenge that tells the SDK where to get a vault token."""
    return f'Bearer authorization="{base_url.rstrip("/")}/{tenant_id}", resource="{VAULT_RESOURCE}"'


def keyvault_routes(vault: SecretVault, directory: IdentityDirectory) -> list[BaseRoute]:
    """``GET /secrets/{name}``, ``/secrets/{name}/`` (latest) and ``/secrets/{name}/{version}``."""

    async def get_secret(request: Request) -> Response:
        base_url = base_url_of(request, directory.public_url)
        try:
            validate_bearer(
                request.headers.get("authorization"),
                keyring=directory.keyring,
                clock=directory.clock,
                audiences=[VAULT_RESOURCE],
                base_url=base_url,
            )
        except BearerError as error:
            headers = {"WWW-Authenticate": challenge_header(base_url, directory.default_tenant_id)}
            return _vault_error(401, "Unauthorized", error.message, headers)
        problem = api_version_problem(request.query_params.get("api-version"))
        if problem is not None:
            return _vault_error(400, "BadParameter", problem)
        name, version = request.path_params["name"], request.path_params.get("version")
        secret = vault.get(name, version)
        if secret is None:
            return _not_found(name if version is None else f"{name}/{version}")
        return JSONResponse(secret_bundle(secret, base_url))

    return [
        Route("/secrets/{name}", get_secret, methods=["GET"]),
        Route("/secrets/{name}/", get_secret, methods=["GET"]),
        Route("/secrets/{name}/{version}", get_secret, methods=["GET"]),
    ]


def admin_put_secret(vault: SecretVault, name: str, body: object) -> dict[str, object]:
    """Set ``name`` from an admin body ``{"value": str, "tags"?: {str: str}, "content_type"?: str}``.

    Returns ``{"name", "version", "tags"}`` (never the value).

    Raises:
        ValueError: the body or the name is invalid (the message names the field).
    """
    if not isinstance(body, dict) or not isinstance(body.get("value"), str):
        raise ValueError("the body must be a JSON object with a string 'value'")
    tags = body.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise ValueError("'tags' must be a JSON object of strings")
    content_type = body.get("content_type")
    if content_type is not None and not isinstance(content_type, str):
        raise ValueError("'content_type' must be a string")
    version = vault.set_secret(name, body["value"], {str(k): v for k, v in tags.items()}, content_type=content_type)
    return {"name": name, "version": version, "tags": tags}


def admin_delete_secret(vault: SecretVault, name: str) -> bool:
    """Delete ``name`` and all its versions; ``False`` when it did not exist."""
    return vault.delete_secret(name)


def keyvault_admin_routes(vault: SecretVault) -> list[BaseRoute]:
    """``PUT`` (200 with the new version, 400 for a bad body) and ``DELETE`` (204, or 404) of
    ``/_emulator/keyvault/secrets/{name}``."""

    async def put_secret(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"null")
            return JSONResponse(admin_put_secret(vault, request.path_params["name"], body))
        except ValueError as error:
            return _vault_error(400, "BadParameter", str(error))

    async def delete_secret(request: Request) -> Response:
        name = request.path_params["name"]
        return Response(status_code=204) if admin_delete_secret(vault, name) else _not_found(name)

    return [
        Route("/_emulator/keyvault/secrets/{name}", put_secret, methods=["PUT"]),
        Route("/_emulator/keyvault/secrets/{name}", delete_secret, methods=["DELETE"]),
    ]


def _not_found(name: str) -> Response:
    message = f"A secret with (name/id) {name} was not found in this key vault."
    return _vault_error(404, "SecretNotFound", message)


def _vault_error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _version_to_json(secret: SecretVersion) -> dict[str, object]:
    return {
        "name": secret.name,
        "version": secret.version,
        "value": secret.value,
        "tags": dict(secret.tags),
        "created": secret.created,
        "updated": secret.updated,
        "content_type": secret.content_type,
    }


def _version_from_json(item: dict[str, object]) -> SecretVersion:
    tags = item["tags"]
    if not isinstance(tags, dict):
        raise TypeError("tags must be an object")
    return SecretVersion(
        name=str(item["name"]),
        version=str(item["version"]),
        value=str(item["value"]),
        tags=MappingProxyType({str(k): str(v) for k, v in tags.items()}),
        created=int(str(item["created"])),
        updated=int(str(item["updated"])),
        content_type=None if item.get("content_type") is None else str(item["content_type"]),
    )
