"""Deciding what a token request gets (spec §7.1): who the client is, which resource, which token.

:func:`decide_grant` reads the form of ``POST /<tenant>/oauth2/v2.0/token`` or ``/oauth2/token`` and
either returns the :class:`Grant` to mint or raises ``EntraError``. It consults the directory but changes
nothing; minting and HTTP are the routes' business.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote_plus

from dataverse_emulator.identity import oauth_errors as errors
from dataverse_emulator.identity.directory import Application, IdentityDirectory
from dataverse_emulator.identity.tokens import TokenRequest

Endpoint = Literal["1.0", "2.0"]
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
USER_PERMISSIONS = frozenset({".default", "user_impersonation"})


@dataclass(frozen=True)
class ClientAuth:
    """How the client authenticated: ``client_id`` plus a secret, an assertion, or nothing (public client)."""

    client_id: str | None
    secret: str | None
    assertion: str | None
    assertion_type: str | None


@dataclass(frozen=True)
class Grant:
    """A token to issue, and the resource as the client named it (the v1 response echoes it)."""

    request: TokenRequest
    resource: str


def decide_grant(
    form: Mapping[str, str],
    basic: tuple[str, str] | None,
    *,
    tenant: str,
    endpoint: Endpoint,
    directory: IdentityDirectory,
) -> Grant:
    """The grant for a token request.

    Args:
        form: the urlencoded body, one value per name.
        basic: ``(client_id, secret)`` from an HTTP Basic ``Authorization`` header, if any.
        tenant: the ``<tenant>`` path segment (GUID or domain).
        endpoint: ``"2.0"`` for ``/oauth2/v2.0/token`` (``scope=``), ``"1.0"`` for ``/oauth2/token``
            (``resource=``, v1 tokens).
        directory: tenants, apps, users and settings.

    Raises:
        EntraError: unknown tenant or app, bad credentials, missing or unsupported parameters.
    """
    tenant_id = directory.tenant_id(tenant)
    if tenant_id is None:
        raise errors.unknown_tenant(tenant)
    grant_type = _required(form, "grant_type")
    if grant_type not in ("client_credentials", "password"):
        raise errors.unsupported_grant_type(grant_type)
    auth = client_auth(form, basic)
    if auth.client_id is None:
        raise errors.missing_parameter("client_id")
    app = directory.application(auth.client_id)
    if app is None or app.tenant_id.lower() != tenant_id.lower():
        raise errors.unknown_application(auth.client_id, tenant)
    acr = authenticate_client(auth, app, check_secrets=directory.check_secrets, public_allowed=grant_type == "password")
    version = "1.0" if endpoint == "1.0" else directory.token_version
    resource, aud = requested_resource(form, endpoint=endpoint, app_only=grant_type == "client_credentials")
    if grant_type == "client_credentials":
        request = TokenRequest(
            tenant_id=tenant_id,
            kind="app",
            client_id=app.client_id,
            oid=app.object_id,
            aud=aud,
            version=version,
            extra_claims=_acr_override(acr, "1", version),
        )
    else:
        request = _user_request(form, app, tenant_id, aud, version, acr, directory)
    return Grant(request, resource)


def client_auth(form: Mapping[str, str], basic: tuple[str, str] | None) -> ClientAuth:
    """The client's credentials: HTTP Basic (client_secret_basic) wins over the body (client_secret_post).

    Raises:
        EntraError: the body names a different ``client_id`` than the Basic header.
    """
    body_client = form.get("client_id") or None
    client_id, secret = body_client, form.get("client_secret") or None
    if basic is not None:
        if body_client is not None and body_client.lower() != basic[0].lower():
            raise errors.conflicting_client_id()
        client_id, secret = basic
    return ClientAuth(
        client_id=client_id,
        secret=secret,
        assertion=form.get("client_assertion") or None,
        assertion_type=form.get("client_assertion_type") or None,
    )


def parse_basic_authorization(header: str | None) -> tuple[str, str] | None:
    """``(client_id, secret)`` of an ``Authorization: Basic`` header (RFC 6749 §2.3.1), else ``None``.

    Raises:
        EntraError: a Basic header that does not decode to ``id:secret``.
    """
    if header is None:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise errors.malformed_basic_auth() from error
    client_id, separator, secret = decoded.partition(":")
    if not separator or not client_id:
        raise errors.malformed_basic_auth()
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate_client(auth: ClientAuth, app: Application, *, check_secrets: bool, public_allowed: bool) -> str:
    """The authentication class reached: ``"2"`` assertion (unverified), ``"1"`` secret, ``"0"`` none.

    Raises:
        EntraError: wrong secret, unknown assertion type, or no credential where one is required.
    """
    if auth.assertion is not None:
        if auth.assertion_type != JWT_BEARER_ASSERTION:
            raise errors.missing_parameter("client_assertion_type")
        return "2"
    if auth.secret is not None:
        if check_secrets and not hmac.compare_digest(auth.secret.encode(), app.secret.encode()):
            raise errors.invalid_client_secret(app.client_id)
        return "1"
    if public_allowed or not check_secrets:
        return "0"
    raise errors.missing_client_credential()


def requested_resource(form: Mapping[str, str], *, endpoint: Endpoint, app_only: bool) -> tuple[str, str]:
    """``(resource as sent, aud)`` from v1 ``resource=`` or v2 ``scope=``; ``aud`` has no trailing ``/``.

    Raises:
        EntraError: missing ``resource``/``scope``, or scopes that do not name exactly one resource.
    """
    if endpoint == "1.0":
        resource = _required(form, "resource")
        return resource, resource.rstrip("/")
    scope = _required(form, "scope")
    resource = resource_of_scope(scope, app_only=app_only)
    return resource, resource.rstrip("/")


def resource_of_scope(scope: str, *, app_only: bool) -> str:
    """The resource of a v2 ``scope`` value (OIDC scopes ignored).

    App-only flows need exactly one ``<resource>/.default``; user flows accept ``/.default`` or
    ``/user_impersonation`` scopes, all for the same resource.

    Raises:
        EntraError: ``invalid_scope``.
    """
    scopes = [item for item in scope.split() if item not in OIDC_SCOPES]
    if app_only:
        if len(scopes) != 1 or not scopes[0].endswith("/.default") or scopes[0] == "/.default":
            raise errors.invalid_app_scope(scope)
        return scopes[0].removesuffix("/.default")
    pairs = [item.rpartition("/") for item in scopes]
    resources = {resource.rstrip("/") for resource, _, _ in pairs}
    permissions_ok = all(sep and resource and perm in USER_PERMISSIONS for resource, sep, perm in pairs)
    if not pairs or not permissions_ok or len(resources) != 1:
        raise errors.invalid_user_scope(scope)
    return pairs[0][0]


def _user_request(
    form: Mapping[str, str],
    app: Application,
    tenant_id: str,
    aud: str,
    version: Literal["1.0", "2.0"],
    acr: str,
    directory: IdentityDirectory,
) -> TokenRequest:
    username = _required(form, "username")
    password = _required(form, "password")
    user = directory.user_by_login(username)
    if user is None or user.tenant_id.lower() != tenant_id.lower():
        raise errors.unknown_user(username, tenant_id)
    if directory.check_secrets and not hmac.compare_digest(password.encode(), user.password.encode()):
        raise errors.invalid_user_password()
    return TokenRequest(
        tenant_id=tenant_id,
        kind="user",
        client_id=app.client_id,
        oid=user.oid,
        aud=aud,
        version=version,
        extra_claims=_acr_override(acr, "0", version),
        upn=user.upn,
        name=user.name,
    )


def _acr_override(acr: str, default: str, version: str) -> dict[str, object]:
    """``appidacr``/``azpacr`` when the client authenticated differently from what the token kind implies."""
    if acr == default:
        return {}
    return {"appidacr" if version == "1.0" else "azpacr": acr}


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise errors.missing_parameter(name)
    return value
