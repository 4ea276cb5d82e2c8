"""What the identity endpoints need to know about tenants, apps and users: the :class:`IdentityDirectory`.

The emulator's application implements it over its orgs and configuration; :class:`StaticDirectory` is a
fixed, in-memory implementation for tests and for serving identity on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Protocol

from dataverse_emulator.clock import Clock
from dataverse_emulator.identity.keys import KeyRing
from dataverse_emulator.identity.tokens import TokenIssuer


@dataclass(frozen=True)
class Application:
    """A registered app: credentials for the token endpoint and the object id of its service principal."""

    client_id: str
    secret: str = field(repr=False)
    object_id: str
    tenant_id: str


@dataclass(frozen=True)
class UserLogin:
    """A user allowed the password grant (delegated tokens for tests)."""

    oid: str
    upn: str
    name: str
    password: str = field(repr=False)
    tenant_id: str


class IdentityDirectory(Protocol):
    """Read-only view of the identity configuration. Implementations must be safe to call from any thread."""

    def tenant_id(self, tenant: str) -> str | None:
        """The tenant GUID for a GUID or a domain name (``contoso.onmicrosoft.com``); ``None`` if unknown.

        Matching is case-insensitive. ``common``/``organizations`` are unknown unless configured.
        """
        ...

    def application(self, client_id: str) -> Application | None:
        """The app registered with ``client_id`` (case-insensitive GUID), or ``None``."""
        ...

    def user_by_login(self, username: str) -> UserLogin | None:
        """The user whose UPN is ``username`` (case-insensitive), or ``None``."""
        ...

    @property
    def check_secrets(self) -> bool:
        """``False`` accepts any client secret and user password (the app or user must still exist)."""
        ...

    @property
    def public_url(self) -> str | None:
        """The externally visible base URL; ``None`` uses the request's scheme and ``Host``."""
        ...

    @property
    def token_version(self) -> Literal["1.0", "2.0"]:
        """Format of tokens from the v2 token endpoint (the v1 endpoint always issues ``"1.0"``)."""
        ...

    @property
    def default_tenant_id(self) -> str:
        """Tenant GUID named in the Key Vault's 401 challenge."""
        ...

    @property
    def keyring(self) -> KeyRing:
        """Keys that sign and validate tokens."""
        ...

    @property
    def issuer(self) -> TokenIssuer:
        """Mints tokens (over the same key ring and clock)."""
        ...

    @property
    def clock(self) -> Clock:
        """Emulator time for token lifetimes and error timestamps."""
        ...


@dataclass(frozen=True)
class StaticDirectory:
    """A fixed :class:`IdentityDirectory`: tenants, apps and users given up front.

    Attributes:
        issuer: token issuer; its key ring and clock are the directory's.
        default_tenant_id: the vault's tenant, and a known tenant.
        domains: domain name → tenant GUID (lower-case keys).
        applications: apps (looked up case-insensitively by client id).
        users: users for the password grant (looked up case-insensitively by UPN).
    """

    issuer: TokenIssuer
    default_tenant_id: str
    domains: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    applications: tuple[Application, ...] = ()
    users: tuple[UserLogin, ...] = ()
    check_secrets: bool = True
    public_url: str | None = None
    token_version: Literal["1.0", "2.0"] = "1.0"

    @property
    def keyring(self) -> KeyRing:
        return self.issuer.keyring

    @property
    def clock(self) -> Clock:
        return self.issuer.clock

    def tenant_id(self, tenant: str) -> str | None:
        tenants = [
            self.default_tenant_id,
            *self.domains.values(),
            *(app.tenant_id for app in self.applications),
        ]
        by_key = {tid.lower(): tid for tid in tenants} | {domain.lower(): tid for domain, tid in self.domains.items()}
        return by_key.get(tenant.lower())

    def application(self, client_id: str) -> Application | None:
        return next((app for app in self.applications if app.client_id.lower() == client_id.lower()), None)

    def user_by_login(self, username: str) -> UserLogin | None:
        return next((user for user in self.users if user.upn.lower() == username.lower()), None)
