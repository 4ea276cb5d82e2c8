"""Validating API callers' bearer JWTs (des.md §3.1, dataverse-webapi.md §7.2, §7.4).

:class:`TokenValidator` checks, in this order: the token's shape, the algorithm (RS256 only), the issuer
(exactly one of the configured ones, before any key is fetched, so a token cannot make the service call an
arbitrary host), the signature (keys from the issuer's OIDC discovery document and JWKS, cached per issuer),
``exp`` / ``nbf`` with a leeway, and the audience. It then turns the claims into a
:class:`~dataexport.auth.principal.Principal`.

Errors::

    InvalidToken         the caller's token is not accepted (401); ``reason`` is a short text safe to show
    IssuerUnavailable    a TransientError: the issuer's discovery document or JWKS cannot be read now (503)
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence

import httpx
import jwt
from jwt.types import Options

from dataexport.auth.principal import Principal, PrincipalKind
from dataexport.errors import TransientError

ALGORITHM = "RS256"
_ENTRA_V1_ISSUER = re.compile(r"^https://sts\.windows\.net/(?P<tenant>[^/]+)/$")
_ENTRA_AUTHORITY = "https://login.microsoftonline.com"
_SIGNATURE_ONLY: Options = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
}


class InvalidToken(Exception):
    """The presented token (or API key) is not accepted.

    Attributes:
        reason: one of ``missing``, ``malformed``, ``algorithm not accepted``, ``issuer not accepted``,
            ``unknown key``, ``bad signature``, ``expired``, ``not yet valid``, ``audience not accepted``.
            It never contains the token or any claim value, so it may be shown to the caller.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IssuerUnavailable(TransientError):
    """The signing keys of an accepted issuer cannot be read now (discovery or JWKS failed); try again."""


def discovery_url(issuer: str) -> str:
    """Where the OIDC discovery document of ``issuer`` is served.

    ``<issuer>/.well-known/openid-configuration``, except for the Entra ID v1 issuer
    ``https://sts.windows.net/<tid>/``, whose document is ``https://login.microsoftonline.com/<tid>/...``.
    The emulator's v1 issuer ``<base>/<tid>/`` serves its document at the generic place.
    """
    entra_v1 = _ENTRA_V1_ISSUER.match(issuer)
    if entra_v1 is not None:
        return f"{_ENTRA_AUTHORITY}/{entra_v1['tenant']}/.well-known/openid-configuration"
    return f"{issuer.rstrip('/')}/.well-known/openid-configuration"


class TokenValidator:
    """Validates Entra ID style access tokens. Thread-safe; build one per service.

    Args:
        issuers: accepted ``iss`` values, compared exactly (both Entra forms must be listed if both are used).
        audiences: accepted ``aud`` values; a trailing ``/`` is ignored on both sides.
        http: the client that fetches discovery documents and JWKS (a TestClient in tests, or one trusting
            the emulator's CA).
        clock: epoch seconds.
        leeway_seconds: clock skew allowed on ``exp`` and ``nbf``.
        jwks_ttl_seconds: how long an issuer's keys are used before they are fetched again.
        unknown_key_refetch_seconds: at most one extra fetch per issuer in this many seconds when a token names
            a key the cache does not hold (key rotation), so random ``kid`` values cannot flood the issuer.
    """

    def __init__(
        self,
        issuers: Sequence[str],
        audiences: Sequence[str],
        *,
        http: httpx.Client,
        clock: Callable[[], float] = time.time,
        leeway_seconds: int = 300,
        jwks_ttl_seconds: int = 3600,
        unknown_key_refetch_seconds: int = 30,
    ) -> None:
        if not issuers or not audiences:
            raise ValueError("a token validator needs at least one accepted issuer and one accepted audience")
        self._keys = {
            issuer: IssuerKeys(
                issuer, http, clock, ttl_seconds=jwks_ttl_seconds, refetch_seconds=unknown_key_refetch_seconds
            )
            for issuer in issuers
        }
        self._audiences = frozenset(audience.rstrip("/") for audience in audiences)
        self._clock = clock
        self._leeway = leeway_seconds

    def validate(self, token: str) -> Principal:
        """The caller ``token`` proves.

        Raises:
            InvalidToken: the token is not accepted; ``reason`` says why.
            IssuerUnavailable: the issuer's keys cannot be read now.
        """
        if not token or not token.strip():
            raise InvalidToken("missing")
        header = _header(token.strip())
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("algorithm not accepted")
        issuer = _unverified_claims(token.strip()).get("iss")
        keys = self._keys.get(issuer) if isinstance(issuer, str) else None
        if keys is None:
            raise InvalidToken("issuer not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("unknown key")
        claims = _verified_claims(token.strip(), keys.key(kid))
        self._check_lifetime(claims)
        self._check_audience(claims)
        return principal_of(claims)

    def _check_lifetime(self, claims: Mapping[str, object]) -> None:
        now = self._clock()
        expires = _number(claims, "exp")
        if expires is None:
            raise InvalidToken("malformed")
        if now > expires + self._leeway:
            raise InvalidToken("expired")
        not_before = _number(claims, "nbf")
        if not_before is None and "nbf" in claims:
            raise InvalidToken("malformed")
        if not_before is not None and now + self._leeway < not_before:
            raise InvalidToken("not yet valid")

    def _check_audience(self, claims: Mapping[str, object]) -> None:
        audience = claims.get("aud")
        values = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(value, str) and value.rstrip("/") in self._audiences for value in values):
            raise InvalidToken("audience not accepted")


class IssuerKeys:
    """The signing keys of one issuer, fetched through its discovery document and cached. Thread-safe.

    Keys are fetched on first use, again after ``ttl_seconds``, and again when a token names an unknown
    ``kid`` (at most once per ``refetch_seconds``), so a rotated key is picked up at once.
    """

    def __init__(
        self,
        issuer: str,
        http: httpx.Client,
        clock: Callable[[], float],
        *,
        ttl_seconds: float,
        refetch_seconds: float,
    ) -> None:
        self._issuer = issuer
        self._http = http
        self._clock = clock
        self._ttl = ttl_seconds
        self._refetch = refetch_seconds
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._refetched_for_unknown_at: float | None = None

    def key(self, kid: str) -> jwt.PyJWK:
        """The public key ``kid`` of this issuer.

        Raises:
            InvalidToken: ``unknown key`` when the issuer does not publish ``kid``, even after a refetch.
            IssuerUnavailable: the keys had to be fetched and could not be.
        """
        with self._lock:
            now = self._clock()
            if self._fetched_at is None or now - self._fetched_at >= self._ttl:
                self._refresh(now)
            elif kid not in self._keys and self._may_refetch_for_unknown(now):
                self._refetched_for_unknown_at = now
                self._refresh(now)
            found = self._keys.get(kid)
        if found is None:
            raise InvalidToken("unknown key")
        return found

    def _may_refetch_for_unknown(self, now: float) -> bool:
        last = self._refetched_for_unknown_at
        return last is None or now - last >= self._refetch

    def _refresh(self, now: float) -> None:
        document = self._get_json(discovery_url(self._issuer))
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise IssuerUnavailable(f"The discovery document of issuer {self._issuer} has no jwks_uri")
        self._keys = parse_jwks(self._get_json(jwks_uri))
        self._fetched_at = now

    def _get_json(self, url: str) -> Mapping[str, object]:
        try:
            response = self._http.get(url)
        except httpx.HTTPError as error:
            raise IssuerUnavailable(
                f"{url} of issuer {self._issuer} cannot be reached: {type(error).__name__}"
            ) from error
        if response.status_code != 200:
            raise IssuerUnavailable(f"{url} of issuer {self._issuer} answered {response.status_code}")
        try:
            document = response.json()
        except ValueError as error:
            raise IssuerUnavailable(f"{url} of issuer {self._issuer} did not answer JSON") from error
        if not isinstance(document, dict):
            raise IssuerUnavailable(f"{url} of issuer {self._issuer} did not answer a JSON object")
        return document


def parse_jwks(document: Mapping[str, object]) -> dict[str, jwt.PyJWK]:
    """``{kid: key}`` of the RSA signing keys of a JWKS document; other keys (encryption, EC) are left out."""
    entries = document.get("keys")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str):
            continue
        try:
            keys[kid] = jwt.PyJWK(entry, algorithm=ALGORITHM)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue  # a damaged entry only makes its own kid unknown
    return keys


def principal_of(claims: Mapping[str, object]) -> Principal:
    """The caller a validated token names (dataverse-webapi.md §7.4).

    ``idtyp`` decides when present (``app`` / ``user``); without it a token with a ``scp`` claim is a user's
    (delegated) and one without is an application's. Users are identified by ``oid``, applications by
    ``appid`` (v1) or ``azp`` (v2): Dataverse maps those to the ``systemuser``.

    Raises:
        InvalidToken: ``malformed`` when the identifying claim is missing.
    """
    kind = _kind(claims)
    tenant = _text(claims, "tid")
    if kind is PrincipalKind.USER:
        subject = _text(claims, "oid")
        name = _text(claims, "name") or _text(claims, "upn") or _text(claims, "preferred_username")
    else:
        subject = _text(claims, "appid") or _text(claims, "azp")
        name = _text(claims, "app_displayname")
    if subject is None:
        raise InvalidToken("malformed")
    return Principal(kind, subject.lower(), tenant_id=tenant.lower() if tenant else None, name=name)


def _kind(claims: Mapping[str, object]) -> PrincipalKind:
    token_type = claims.get("idtyp")
    if token_type == "app":
        return PrincipalKind.APPLICATION
    if token_type == "user" or "scp" in claims:
        return PrincipalKind.USER
    return PrincipalKind.APPLICATION


def _header(token: str) -> Mapping[str, object]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidToken("malformed") from error


def _unverified_claims(token: str) -> Mapping[str, object]:
    try:
        claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise InvalidToken("malformed") from error
    return claims


def _verified_claims(token: str, key: jwt.PyJWK) -> Mapping[str, object]:
    try:
        claims: dict[str, object] = jwt.decode(token, key.key, algorithms=[ALGORITHM], options=_SIGNATURE_ONLY)
    except jwt.InvalidSignatureError as error:
        raise InvalidToken("bad signature") from error
    except jwt.PyJWTError as error:
        raise InvalidToken("malformed") from error
    return claims


def _number(claims: Mapping[str, object], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _text(claims: Mapping[str, object], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None
