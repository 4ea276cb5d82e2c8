"""Who is calling the API: a value built once per request by :mod:`.tokens` or :mod:`.apikeys`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

#: In an API key's organizations: every organization the service knows.
ALL_ORGANIZATIONS = "*"


class PrincipalKind(StrEnum):
    """How the caller proved who it is."""

    USER = "user"  # a delegated Entra ID token; subject = the user's object id (``oid``)
    APPLICATION = "application"  # an app-only Entra ID token; subject = the client id (``appid`` / ``azp``)
    API_KEY = "api_key"  # a configured static key; subject = the key's name


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    Attributes:
        kind: how the caller authenticated.
        subject: the Entra object id (users), client id (applications) or key name (API keys), lower-case
            for GUIDs; with ``kind`` it identifies the caller.
        tenant_id: the Entra tenant (``tid``) of a token; ``None`` for API keys.
        name: a display name when the token carries one (``name``, ``upn``, ``app_displayname``).
        organizations: for API keys only, the organization ids the key may manage (``"*"`` = all); ``None``
            for tokens, whose rights are looked up in each organization.
    """

    kind: PrincipalKind
    subject: str
    tenant_id: str | None = None
    name: str | None = None
    organizations: frozenset[str] | None = None

    @property
    def display(self) -> str:
        """A readable one-line description for logs and "accepted by" records; never contains a secret."""
        label = {
            PrincipalKind.USER: "user",
            PrincipalKind.APPLICATION: "application",
            PrincipalKind.API_KEY: "API key",
        }[self.kind]
        if self.kind is PrincipalKind.API_KEY:
            return f"{label} '{self.subject}'"
        if self.name:
            return f"{label} {self.name} ({self.subject})"
        return f"{label} {self.subject}"
