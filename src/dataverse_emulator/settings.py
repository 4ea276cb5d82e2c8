"""Settings of one emulator process, and the state it keeps in its data directory.

``DIR/emulator.json`` holds what must survive restarts besides the orgs: the tenant id, the default
application's client id and secret, and the admin key. ``DIR/credentials.json`` is written on every
start for scripts and people (base URL, tenant, client id and secret, CA path).
"""

from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson


@dataclass(frozen=True)
class Settings:
    """What ``dataverse-emulator serve`` was asked for."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    tls: bool = False
    public_url: str | None = None
    admin_key: str | None = None
    check_secrets: bool = True
    check_audience: bool = True
    token_version: str = "1.0"
    debug: bool = False
    extra_hosts: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class PersistentIdentity:
    """Identifiers generated on first start and kept in ``DIR/emulator.json``."""

    tenant_id: str
    tenant_domain: str
    client_id: str
    client_secret: str
    app_object_id: str
    admin_key: str

    @classmethod
    def load_or_create(cls, data_dir: Path) -> PersistentIdentity:
        path = data_dir / "emulator.json"
        if path.exists():
            return cls(**orjson.loads(path.read_bytes()))
        data_dir.mkdir(parents=True, exist_ok=True)
        created = cls(
            tenant_id=str(uuid.uuid4()),
            tenant_domain="emulator.onmicrosoft.com",
            client_id=str(uuid.uuid4()),
            client_secret=secrets.token_urlsafe(30),
            app_object_id=str(uuid.uuid4()),
            admin_key=secrets.token_urlsafe(24),
        )
        write_private(path, orjson.dumps(created.__dict__, option=orjson.OPT_INDENT_2))
        return created


def write_private(path: Path, content: bytes) -> None:
    """Write a file readable by its owner only (it holds secrets)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    path.chmod(0o600)
