"""Checking the bearer tokens clients present to the emulator (spec §7.4, §7.5).

Accepted: ``Authorization: Bearer <jwt>``, RS256, signed by a key of the ring (looked up by ``kid``),
inside ``nbf``/``exp`` by the emulator Clock with a bounded skew, ``iss`` one of the two issuers the
emulator names for the token's ``tid`` at this base URL, ``aud`` in the accepted list.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Literal

import jwt

from dataverse_emulator.clock import Clock
from dataverse_emulator.identity.keys import KeyRing
from dataverse_emulator.identity.urls import TOKEN_VERSIONS, issuer_url

DEFAULT_LEEWAY_SECONDS = 300
_ECHO_LIMIT = 80


class BearerError(Exception):
    """The request's token is missing or not acceptable; ``message`` says why (never the token itself)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Identity:
    """The caller a valid token names: tenant and object id, and the calling app.

    Attributes:
        tenant_id: ``tid``.
        oid: object id of the service principal (apps) or user.
        app_id: ``appid`` (v1) or ``azp`` (v2); ``None`` if the token has neither.
        kind: ``"app"`` or ``"user"`` (``idtyp``; without it, a token with ``scp`` is a user's).
        claims: every claim of the token, read-only.
    """

    tenant_id: str
    oid: str
    app_id: str | None
    kind: Literal["app", "user"]
    claims: Mapping[str, object]


def validate_bearer(
    authorization_header: str | None,
    *,
    keyring: KeyRing,
    clock: Clock,
    audiences: Collection[str] | None,
    base_url: str,
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
) -> Identity:
    """The identity of a valid ``Authorization`` header value.

    Args:
        authorization_header: the raw header, ``None`` when absent.
        keyring: keys whose signatures are accepted.
        clock: time for ``exp``/``nbf`` (the emulator Clock, never wall time).
        audiences: accepted ``aud`` values (a trailing ``/`` is ignored on both sides); ``None`` = any.
        base_url: scheme and host the request came to (or ``public_url``); fixes the accepted issuers.
        leeway_seconds: clock skew tolerated on ``exp`` and ``nbf`` (Entra validators use 5 minutes).

    Raises:
        BearerError: the header or token fails any check.
    """
    token = bearer_token(authorization_header)
    claims = _verified_claims(token, keyring)
    check_lifetime(claims, now=clock.now().timestamp(), leeway_seconds=leeway_seconds)
    tenant_id = _string_claim(claims, "tid")
    check_issuer(claims, base_url=base_url, tenant_id=tenant_id)
    if audiences is not None:
        check_audience(claims, audiences)
    return identity_of(claims, tenant_id)


def www_authenticate(base_url: str, tenant_id: str, resource: str) -> str:
    """The ``WWW-Authenticate`` value of a Dataverse 401 (spec §7.5)."""
    authorize = f"{base_url.rstrip('/')}/{tenant_id}/oauth2/authorize"
    return f"Bearer authorization_uri={authorize}, resource_id={resource.rstrip('/')}/"


def bearer_token(authorization_header: str | None) -> str:
    """The token of a ``Bearer`` header value. Raises :class:`BearerError` for anything else."""
    if not authorization_header or not authorization_header.strip():
        raise BearerError("the request has no Authorization header: send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization_header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BearerError(f"the Authorization scheme {_echo(scheme)} is not supported: use 'Bearer <token>'")
    return token.strip()


def check_lifetime(claims: Mapping[str, object], *, now: float, leeway_seconds: int) -> None:
    """Require ``exp`` (and ``nbf`` when present) to admit ``now``, give or take ``leeway_seconds``."""
    expires = _time_claim(claims, "exp", required=True)
    if expires is not None and now > expires + leeway_seconds:
        raise BearerError(f"the token expired at {_iso(expires)}: request a new token")
    not_before = _time_claim(claims, "nbf", required=False)
    if not_before is not None and now + leeway_seconds < not_before:
        raise BearerError(f"the token is not valid before {_iso(not_before)}")


def check_issuer(claims: Mapping[str, object], *, base_url: str, tenant_id: str) -> None:
    """Require ``iss`` to be the v1 or v2 issuer the emulator names for ``tenant_id`` at ``base_url``."""
    accepted = [issuer_url(base_url, tenant_id, version) for version in TOKEN_VERSIONS]
    issuer = claims.get("iss")
    if issuer not in accepted:
        raise BearerError(
            f"the token issuer {_echo(issuer)} is not accepted here: expected one of {accepted} "
            "(get the token from this emulator's token endpoint, at the same host and port)"
        )


def check_audience(claims: Mapping[str, object], audiences: Collection[str]) -> None:
    """Require one ``aud`` value to equal one of ``audiences``, ignoring trailing ``/`` on both sides."""
    raw = claims.get("aud")
    presented = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    accepted = {audience.rstrip("/") for audience in audiences}
    if not any(isinstance(value, str) and value.rstrip("/") in accepted for value in presented):
        raise BearerError(
            f"the token audience {_echo(raw)} is not accepted here: request a token for one of {sorted(accepted)}"
        )


def identity_of(claims: Mapping[str, object], tenant_id: str) -> Identity:
    """The :class:`Identity` of already validated ``claims``."""
    app_id = claims.get("appid", claims.get("azp"))
    kind: Literal["app", "user"]
    if claims.get("idtyp") in ("app", "user"):
        kind = "user" if claims["idtyp"] == "user" else "app"
    else:
        kind = "user" if "scp" in claims else "app"
    return Identity(
        tenant_id=tenant_id,
        oid=_string_claim(claims, "oid"),
        app_id=app_id if isinstance(app_id, str) else None,
        kind=kind,
        claims=MappingProxyType(dict(claims)),
    )


def _verified_claims(token: str, keyring: KeyRing) -> dict[str, object]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as error:
        raise BearerError("the bearer token is not a well-formed JWT") from error
    if header.get("alg") != "RS256":
        raise BearerError(f"the token algorithm {_echo(header.get('alg'))} is not accepted: tokens are RS256")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keyring.kids:
        raise BearerError(f"the token was signed with an unknown key (kid {_echo(kid)})")
    try:
        claims: dict[str, object] = jwt.decode(
            token,
            keyring.public_key(kid),
            algorithms=["RS256"],
            # Time and audience checks follow below, against the emulator Clock and our own rules.
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
        )
    except jwt.InvalidSignatureError as error:
        raise BearerError(f"the token signature does not verify with key {_echo(kid)}") from error
    except jwt.InvalidTokenError as error:
        raise BearerError(f"the bearer token is not acceptable: {error}") from error
    return claims


def _time_claim(claims: Mapping[str, object], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BearerError(f"the token has no numeric '{name}' claim")
    return float(value)


def _string_claim(claims: Mapping[str, object], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise BearerError(f"the token has no '{name}' claim")
    return value


def _echo(value: object) -> str:
    """A short quoted rendering of a client-supplied value, safe to put in a message."""
    text = repr(value)
    return text if len(text) <= _ECHO_LIMIT else text[: _ECHO_LIMIT - 3] + "..."


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
