"""HTTP endpoints of the emulator's identity provider (spec §7.1 to §7.3).

Token endpoints (v2 ``scope=``, v1 ``resource=``), OpenID discovery v1/v2, JWKS and MSAL instance
discovery. Handlers only translate HTTP: decisions live in :mod:`.grants` and :mod:`.discovery`.
The directory types are re-exported here for the application's convenience.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dataverse_emulator.identity.directory import Application, IdentityDirectory, StaticDirectory, UserLogin
from dataverse_emulator.identity.discovery import instance_discovery, openid_configuration
from dataverse_emulator.identity.grants import Endpoint, Grant, decide_grant, parse_basic_authorization
from dataverse_emulator.identity.oauth_errors import EntraError, entra_error_body, unknown_tenant
from dataverse_emulator.identity.tokens import IssuedToken
from dataverse_emulator.identity.urls import base_url_of

__all__ = ["Application", "IdentityDirectory", "StaticDirectory", "UserLogin", "identity_routes"]

NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
Handler = Callable[[Request], Awaitable[Response]]


def identity_routes(directory: IdentityDirectory) -> list[BaseRoute]:
    """The identity routes, to mount at the root of the emulator's host.

    ``/common/...`` routes come first so ``common`` is not taken for a tenant there.
    """
    jwks = _jwks_handler(directory)
    return [
        Route("/common/discovery/instance", _instance_handler(directory), methods=["GET"]),
        Route("/common/discovery/v2.0/keys", jwks, methods=["GET"]),
        Route("/common/discovery/keys", jwks, methods=["GET"]),
        Route("/{tenant}/discovery/v2.0/keys", jwks, methods=["GET"]),
        Route("/{tenant}/discovery/keys", jwks, methods=["GET"]),
        Route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            _openid_handler(directory, "2.0"),
            methods=["GET"],
        ),
        Route("/{tenant}/.well-known/openid-configuration", _openid_handler(directory, "1.0"), methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", _token_handler(directory, "2.0"), methods=["POST"]),
        Route("/{tenant}/oauth2/token", _token_handler(directory, "1.0"), methods=["POST"]),
    ]


def _token_handler(directory: IdentityDirectory, endpoint: Endpoint) -> Handler:
    async def token(request: Request) -> Response:
        form = await _read_form(request)
        try:
            basic = parse_basic_authorization(request.headers.get("authorization"))
            grant = decide_grant(
                form, basic, tenant=request.path_params["tenant"], endpoint=endpoint, directory=directory
            )
        except EntraError as error:
            return _entra_error(request, directory, error)
        issued = directory.issuer.issue(grant.request, base_url=base_url_of(request, directory.public_url))
        return JSONResponse(token_response_body(issued, grant, endpoint), headers=NO_STORE)

    return token


def token_response_body(issued: IssuedToken, grant: Grant, endpoint: Endpoint) -> dict[str, object]:
    """The token endpoint's JSON: v2 numbers; v1 strings, plus ``expires_on``, ``not_before``, ``resource``.

    v1 sends every number as a string, as Entra ID's v1 endpoint does.
    """
    lifetime = issued.expires_on - issued.issued_at
    if endpoint == "2.0":
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": issued.access_token,
        }
    return {
        "token_type": "Bearer",
        "expires_in": str(lifetime),
        "ext_expires_in": str(lifetime),
        "expires_on": str(issued.expires_on),
        "not_before": str(issued.issued_at),
        "resource": grant.resource,
        "access_token": issued.access_token,
    }


def _openid_handler(directory: IdentityDirectory, version: str) -> Handler:
    async def openid(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        tenant_id = directory.tenant_id(tenant)
        if tenant_id is None:
            return _entra_error(request, directory, unknown_tenant(tenant))
        document = openid_configuration(base_url_of(request, directory.public_url), tenant_id, version)
        return JSONResponse(document)

    return openid


def _jwks_handler(directory: IdentityDirectory) -> Handler:
    async def jwks(request: Request) -> Response:
        # Keys are global to the emulator: every tenant (and "common") publishes the same set.
        return JSONResponse(directory.keyring.jwks())

    return jwks


def _instance_handler(directory: IdentityDirectory) -> Handler:
    async def instance(request: Request) -> Response:
        try:
            document = instance_discovery(request.query_params.get("authorization_endpoint"))
        except EntraError as error:
            return _entra_error(request, directory, error)
        return JSONResponse(document)

    return instance


async def _read_form(request: Request) -> dict[str, str]:
    """The urlencoded body, first value of each name; any other content type reads as empty."""
    content_type = request.headers.get("content-type", "application/x-www-form-urlencoded")
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        return {}
    body = (await request.body()).decode("utf-8", errors="replace")
    form: dict[str, str] = {}
    for name, value in parse_qsl(body, keep_blank_values=True):
        form.setdefault(name, value)
    return form


def _entra_error(request: Request, directory: IdentityDirectory, error: EntraError) -> Response:
    supplied = request.headers.get("client-request-id", "")
    correlation_id = supplied if _GUID.fullmatch(supplied) else str(uuid.uuid4())
    body = entra_error_body(error, now=directory.clock.now(), trace_id=str(uuid.uuid4()), correlation_id=correlation_id)
    return JSONResponse(body, status_code=error.status, headers=NO_STORE)
