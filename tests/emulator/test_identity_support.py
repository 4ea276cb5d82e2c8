"""Shared pieces for the identity, Key Vault and TLS tests (no tests here).

A fixed directory (one tenant with a domain, one app, one user) and an HTTPS server running a Starlette
app in a background thread, for the end-to-end tests with real client libraries.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import MappingProxyType
from typing import Literal

from starlette.types import ASGIApp

from dataverse_emulator.clock import Clock
from dataverse_emulator.identity.directory import Application, StaticDirectory, UserLogin
from dataverse_emulator.identity.keys import KeyRing
from dataverse_emulator.identity.tls import TlsFiles
from dataverse_emulator.identity.tokens import TokenIssuer
from support.servers import serve_on_loopback

TENANT_ID = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
DOMAIN = "example.onmicrosoft.com"
OTHER_TENANT_ID = "0b0b0b0b-1111-4222-8333-444444444444"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "s3cr3t-value"
APP_OID = "aaaaaaaa-0000-4000-8000-000000000001"
FOREIGN_CLIENT_ID = "22222222-2222-3333-4444-555555555555"
USER_UPN = "alex@example.onmicrosoft.com"
USER_PASSWORD = "correct horse battery staple"
USER_OID = "bbbbbbbb-0000-4000-8000-000000000002"
ORG_URL = "https://org.example.test"


def make_directory(
    keyring: KeyRing,
    clock: Clock | None = None,
    *,
    check_secrets: bool = True,
    public_url: str | None = None,
    token_version: Literal["1.0", "2.0"] = "1.0",
) -> StaticDirectory:
    """The test tenant: ``DOMAIN`` → ``TENANT_ID``, app ``CLIENT_ID``, user ``USER_UPN``; a foreign app."""
    return StaticDirectory(
        issuer=TokenIssuer(keyring, clock or Clock()),
        default_tenant_id=TENANT_ID,
        domains=MappingProxyType({DOMAIN: TENANT_ID}),
        applications=(
            Application(CLIENT_ID, CLIENT_SECRET, APP_OID, TENANT_ID),
            Application(FOREIGN_CLIENT_ID, "other", "cccccccc-0000-4000-8000-000000000003", OTHER_TENANT_ID),
        ),
        users=(UserLogin(USER_OID, USER_UPN, "Alex Doe", USER_PASSWORD, TENANT_ID),),
        check_secrets=check_secrets,
        public_url=public_url,
        token_version=token_version,
    )


def serve_https(app: ASGIApp, tls: TlsFiles) -> AbstractContextManager[int]:
    """Serve ``app`` over HTTPS with the emulator's certificate on a free loopback port (yielded)."""
    return serve_on_loopback(app, certfile=tls.cert_pem, keyfile=tls.key_pem)
