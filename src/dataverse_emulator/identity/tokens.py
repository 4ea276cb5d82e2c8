"""Minting the emulator's access tokens: RS256 JWTs with Entra ID's claims (spec §7.4).

:func:`token_claims` decides the payload (pure); :class:`TokenIssuer` stamps it with the Clock and signs.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import jwt

from dataverse_emulator.clock import Clock
from dataverse_emulator.identity.keys import KeyRing
from dataverse_emulator.identity.urls import issuer_url

DEFAULT_EXPIRES_IN = 3599


@dataclass(frozen=True)
class TokenRequest:
    """What to put in a token.

    Attributes:
        tenant_id: tenant GUID (``tid``).
        kind: ``"app"`` (client credentials) or ``"user"`` (delegated).
        client_id: the calling application (``appid`` in v1, ``azp`` in v2).
        oid: object id of the service principal (apps) or the user.
        aud: the resource; a trailing ``/`` is dropped.
        version: ``"1.0"`` or ``"2.0"`` token format.
        expires_in: lifetime in seconds; zero or negative mints an already expired token.
        extra_claims: added last, overriding the standard claims (``roles``, ``appidacr`` "2", oddities).
        sign_with: kid to sign with; ``None`` = the ring's signing key; a kid outside the ring signs with a
            detached key, so the token cannot validate.
        upn: user principal name (users; also ``preferred_username`` and v1 ``unique_name``).
        name: display name (users).
    """

    tenant_id: str
    kind: Literal["app", "user"]
    client_id: str
    oid: str
    aud: str
    version: Literal["1.0", "2.0"] = "1.0"
    expires_in: int = DEFAULT_EXPIRES_IN
    extra_claims: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    sign_with: str | None = None
    upn: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    """A signed token and the lifetime stamped into it (epoch seconds)."""

    access_token: str
    issued_at: int
    expires_on: int
    kid: str


class TokenIssuer:
    """Signs tokens with the key ring, dating them by the emulator Clock."""

    def __init__(self, keyring: KeyRing, clock: Clock) -> None:
        self.keyring = keyring
        self.clock = clock

    def issuer_for(self, base_url: str, tenant_id: str, version: str) -> str:
        """The ``iss`` for ``tenant_id`` served from ``base_url`` (see :func:`issuer_url`)."""
        return issuer_url(base_url, tenant_id, version)

    def mint(self, request: TokenRequest, *, base_url: str) -> str:
        """A signed RS256 JWT for ``request`` whose ``iss`` names ``base_url``."""
        return self.issue(request, base_url=base_url).access_token

    def issue(self, request: TokenRequest, *, base_url: str) -> IssuedToken:
        """Like :meth:`mint`, also returning the timestamps and kid (token endpoints report them)."""
        issued_at = int(self.clock.now().timestamp())
        claims = token_claims(
            request,
            issuer=self.issuer_for(base_url, request.tenant_id, request.version),
            issued_at=issued_at,
            unique_id=_unique_id(),
        )
        kid = request.sign_with or self.keyring.signing_kid
        key = self.keyring.private_key(kid) if kid in self.keyring.kids else self.keyring.detached_key(kid)
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "x5t": kid})
        return IssuedToken(token, issued_at, issued_at + request.expires_in, kid)


def token_claims(request: TokenRequest, *, issuer: str, issued_at: int, unique_id: str) -> dict[str, object]:
    """The JWT payload for ``request`` (spec §7.4 table), ``extra_claims`` applied last."""
    is_app = request.kind == "app"
    v1 = request.version == "1.0"
    claims: dict[str, object] = {
        "aud": request.aud.rstrip("/"),
        "iss": issuer,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + request.expires_in,
        "appid" if v1 else "azp": request.client_id,
        "appidacr" if v1 else "azpacr": "1" if is_app else "0",
        "idtyp": request.kind,
        "oid": request.oid,
        "sub": request.oid if is_app else pairwise_subject(request),
        "tid": request.tenant_id,
        "uti": unique_id,
        "jti": unique_id,
        "ver": request.version,
    }
    if not is_app:
        claims |= _user_claims(request, v1=v1)
    claims |= dict(request.extra_claims)
    return claims


def pairwise_subject(request: TokenRequest) -> str:
    """A stable subject per (tenant, app, user), as Entra gives users a pairwise ``sub``."""
    digest = hashlib.sha256(f"{request.tenant_id}|{request.client_id}|{request.oid}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _user_claims(request: TokenRequest, *, v1: bool) -> dict[str, object]:
    upn = request.upn or f"{request.oid}@emulator.invalid"
    claims: dict[str, object] = {
        "scp": "user_impersonation",
        "upn": upn,
        "preferred_username": upn,
        "name": request.name or upn,
    }
    if v1:
        claims["unique_name"] = upn
    return claims


def _unique_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
