"""Admin operations on identity (spec §9.3 ``/_emulator/tokens``; key rotation, §7.2).

Mint arbitrary tokens (expired, wrong audience, unknown key) and rotate signing keys. The routes carry
no access control of their own: mount them behind the admin surface's loopback / admin-key check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dataverse_emulator.identity.directory import IdentityDirectory
from dataverse_emulator.identity.tokens import DEFAULT_EXPIRES_IN, TokenRequest
from dataverse_emulator.identity.urls import base_url_of

_Handler = Callable[[Request], Awaitable[Response]]
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class AdminRequestError(ValueError):
    """An admin request body the emulator cannot act on; ``message`` names the field and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_token_request(body: object, directory: IdentityDirectory) -> TokenRequest:
    """The :class:`TokenRequest` of a ``POST /_emulator/tokens`` body.

    Body: ``{"tenant"?, "kind"?: "app"|"user", "client_id", "oid"?, "aud", "version"?, "expires_in"?,
    "extra_claims"?, "sign_with"?, "upn"?, "name"?}``. Defaults: the directory's default tenant (a GUID the
    directory does not know is used as is, for foreign-tenant tokens), ``kind`` "app", ``oid`` of the known
    app (apps) or of the user named by ``upn`` (users), the directory's token version, 3599 s.

    Raises:
        AdminRequestError: a field is missing, of the wrong type, or names nothing known.
    """
    fields = _object(body)
    kind = _choice(fields, "kind", ("app", "user"), "app")
    client_id = _text(fields, "client_id")
    upn = _optional_text(fields, "upn")
    return TokenRequest(
        tenant_id=_tenant_id(_optional_text(fields, "tenant"), directory),
        kind=cast(Literal["app", "user"], kind),
        client_id=client_id,
        oid=_optional_text(fields, "oid") or _default_oid(kind, client_id, upn, directory),
        aud=_text(fields, "aud"),
        version=cast(Literal["1.0", "2.0"], _choice(fields, "version", ("1.0", "2.0"), directory.token_version)),
        expires_in=_integer(fields, "expires_in", DEFAULT_EXPIRES_IN),
        extra_claims=_claims(fields),
        sign_with=_optional_text(fields, "sign_with"),
        upn=upn,
        name=_optional_text(fields, "name"),
    )


def admin_identity_routes(directory: IdentityDirectory) -> list[BaseRoute]:
    """``POST /_emulator/tokens``, ``GET``/``POST /_emulator/keys``, ``PUT /_emulator/keys/signing``.

    * tokens → 200 ``{"access_token", "token_type", "expires_on", "kid"}``;
    * ``POST /_emulator/keys`` ``{"kid"?, "use"?: bool}`` → 201 ``{"kid", "signing_kid"}``;
    * ``PUT /_emulator/keys/signing`` ``{"kid"}`` → 200 ``{"signing_kid"}``, 404 for an unknown kid;
    * invalid bodies → 400 ``{"error": {"code": "BadRequest", "message"}}``.
    """

    async def mint(request: Request) -> Response:
        token_request = parse_token_request(await _json(request), directory)
        issued = directory.issuer.issue(token_request, base_url=base_url_of(request, directory.public_url))
        body = {"access_token": issued.access_token, "token_type": "Bearer"}
        return JSONResponse(body | {"expires_on": issued.expires_on, "kid": issued.kid})

    async def list_keys(request: Request) -> Response:
        return JSONResponse(_key_state(directory))

    async def add_key(request: Request) -> Response:
        fields = _object(await _json(request))
        kid = directory.keyring.add_key(_optional_text(fields, "kid"))
        if fields.get("use") is True:
            directory.keyring.use_key(kid)
        return JSONResponse({"kid": kid, "signing_kid": directory.keyring.signing_kid}, status_code=201)

    async def use_key(request: Request) -> Response:
        kid = _text(_object(await _json(request)), "kid")
        try:
            directory.keyring.use_key(kid)
        except KeyError:
            return _error(404, "NotFound", f"no signing key {kid!r}: add it first with POST /_emulator/keys")
        return JSONResponse(_key_state(directory))

    return [
        Route("/_emulator/tokens", _guarded(mint), methods=["POST"]),
        Route("/_emulator/keys", list_keys, methods=["GET"]),
        Route("/_emulator/keys", _guarded(add_key), methods=["POST"]),
        Route("/_emulator/keys/signing", _guarded(use_key), methods=["PUT"]),
    ]


def _guarded(handler: _Handler) -> _Handler:
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except ValueError as error:  # AdminRequestError, or a duplicate kid from the key ring
            return _error(400, "BadRequest", str(error))

    return guarded


def _key_state(directory: IdentityDirectory) -> dict[str, object]:
    return {"signing_kid": directory.keyring.signing_kid, "kids": list(directory.keyring.kids)}


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _json(request: Request) -> object:
    try:
        return json.loads(await request.body() or b"{}")
    except ValueError as error:
        raise AdminRequestError("the request body is not JSON") from error


def _tenant_id(tenant: str | None, directory: IdentityDirectory) -> str:
    if tenant is None:
        return directory.default_tenant_id
    known = directory.tenant_id(tenant)
    if known is not None:
        return known
    if _GUID.fullmatch(tenant):
        return tenant
    raise AdminRequestError(f"tenant {tenant!r} is not a known domain: give a tenant GUID or a configured domain")


def _default_oid(kind: str, client_id: str, upn: str | None, directory: IdentityDirectory) -> str:
    if kind == "app":
        app = directory.application(client_id)
        if app is not None:
            return app.object_id
        raise AdminRequestError(f"client_id {client_id!r} is not a known app: give 'oid' explicitly")
    user = directory.user_by_login(upn) if upn else None
    if user is not None:
        return user.oid
    raise AdminRequestError("a user token needs 'oid', or 'upn' of a configured user")


def _object(body: object) -> Mapping[str, object]:
    if not isinstance(body, dict):
        raise AdminRequestError("the request body must be a JSON object")
    return cast(Mapping[str, object], body)


def _text(fields: Mapping[str, object], name: str) -> str:
    value = _optional_text(fields, name)
    if value is None:
        raise AdminRequestError(f"'{name}' is required (a non-empty string)")
    return value


def _optional_text(fields: Mapping[str, object], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise AdminRequestError(f"'{name}' must be a non-empty string")
    return value


def _choice(fields: Mapping[str, object], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = fields.get(name, default)
    if value not in allowed:
        raise AdminRequestError(f"'{name}' must be one of {list(allowed)}")
    return str(value)


def _integer(fields: Mapping[str, object], name: str, default: int) -> int:
    value = fields.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise AdminRequestError(f"'{name}' must be an integer (seconds; negative mints an expired token)")
    return value


def _claims(fields: Mapping[str, object]) -> dict[str, object]:
    value = fields.get("extra_claims", {})
    if not isinstance(value, dict):
        raise AdminRequestError("'extra_claims' must be a JSON object")
    return cast(dict[str, object], value)
