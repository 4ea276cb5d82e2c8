"""The admin surface's HTTP routes (spec §9.3) and the middleware the application installs.

Every route answers only loopback clients or requests carrying ``X-Emulator-Admin-Key`` (the
persistent admin key, or ``Settings.admin_key`` when configured); others get 403. Bodies are JSON;
an invalid body or field is a 400 naming the field, an unknown org a 404, both as
``{"error": {"code", "message"}}``. Handlers only translate HTTP: the work lives in the sibling
modules, and blocking work (generation, workloads, schema changes) runs in a worker thread.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dataverse_emulator.admin import orgs, schema_ops, tokens, users
from dataverse_emulator.admin.fault_rules import parse_plan
from dataverse_emulator.admin.fields import AdminRequestError, Fields, parse_body
from dataverse_emulator.admin.middleware import install_middleware
from dataverse_emulator.admin.throttling import ThrottleSettings
from dataverse_emulator.admin.workload import Workload, parse_workload
from dataverse_emulator.errors import WebApiError
from dataverse_emulator.identity.urls import base_url_of
from dataverse_emulator.keyvault import admin_delete_secret, admin_put_secret
from dataverse_emulator.storage import OrgStore
from dataverse_emulator.webapi.context import TrackingSettings

if TYPE_CHECKING:
    from dataverse_emulator.emulator import Emulator

__all__ = ["admin_routes", "install_middleware"]

ADMIN_KEY_HEADER = "x-emulator-admin-key"
Handler = Callable[[Request], Awaitable[Response]]


class UnknownOrg(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no organization {name!r}: create it with POST /_emulator/orgs")


def is_admin_allowed(request: Request, emulator: Emulator) -> bool:
    """Loopback clients, or the right admin key (compared in constant time)."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
        mapped = getattr(address, "ipv4_mapped", None)
        if address.is_loopback or (mapped is not None and mapped.is_loopback):
            return True
    except ValueError:
        pass
    supplied = request.headers.get(ADMIN_KEY_HEADER, "").encode()
    keys = [emulator.persistent.admin_key, emulator.settings.admin_key]
    return bool(supplied) and any(key and hmac.compare_digest(supplied, key.encode()) for key in keys)


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def admin_routes(emulator: Emulator) -> list[BaseRoute]:
    """Every ``/_emulator/...`` route, guarded."""
    api = _AdminApi(emulator)

    def guard(handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            if not is_admin_allowed(request, emulator):
                message = "the admin surface answers loopback clients, or requests with X-Emulator-Admin-Key"
                return _error(403, "Forbidden", message)
            try:
                return await handler(request)
            except AdminRequestError as error:
                return _error(400, "BadRequest", error.message)
            except UnknownOrg as error:
                return _error(404, "NotFound", str(error))
            except WebApiError as error:
                return _error(error.status, error.code or "BadRequest", error.message)

        return guarded

    table: list[tuple[str, Handler, str]] = [
        ("/_emulator/orgs", api.create_org, "POST"),
        ("/_emulator/orgs", api.list_orgs, "GET"),
        ("/_emulator/orgs/{name}", api.drop_org, "DELETE"),
        ("/_emulator/orgs/{name}/workload", api.workload, "POST"),
        ("/_emulator/orgs/{name}/schema", api.schema, "POST"),
        ("/_emulator/orgs/{name}/users", api.users, "POST"),
        ("/_emulator/clock", api.get_clock, "GET"),
        ("/_emulator/clock", api.set_clock, "POST"),
        ("/_emulator/change-tracking", api.get_tracking, "GET"),
        ("/_emulator/change-tracking", api.set_tracking, "POST"),
        ("/_emulator/faults", api.get_faults, "GET"),
        ("/_emulator/faults", api.set_faults, "POST"),
        ("/_emulator/faults", api.clear_faults, "DELETE"),
        ("/_emulator/throttling", api.get_throttling, "GET"),
        ("/_emulator/throttling", api.set_throttling, "POST"),
        ("/_emulator/tokens", api.mint_token, "POST"),
        ("/_emulator/keys", api.get_keys, "GET"),
        ("/_emulator/keys", api.update_keys, "POST"),
        ("/_emulator/keyvault/secrets/{name}", api.put_secret, "PUT"),
        ("/_emulator/keyvault/secrets/{name}", api.delete_secret, "DELETE"),
        ("/_emulator/requests", api.requests, "GET"),
        ("/_emulator/reset", api.reset, "POST"),
    ]
    return [Route(path, guard(handler), methods=[method]) for path, handler, method in table]


class _AdminApi:
    """The handlers; each reads the request, calls one operation and writes JSON."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def _fields(self, request: Request) -> Fields:
        return parse_body(await request.body())

    def _store(self, request: Request) -> OrgStore:
        name = request.path_params["name"]
        store = self.emulator.org(name)
        if store is None:
            raise UnknownOrg(name)
        return store

    # ----- organizations -----------------------------------------------------------------------

    async def create_org(self, request: Request) -> Response:
        org_request = orgs.parse_org_request(await self._fields(request), self.emulator)
        store = await run_in_threadpool(orgs.create_org, self.emulator, org_request)
        return JSONResponse(await run_in_threadpool(orgs.describe_org, self.emulator, store), status_code=201)

    async def list_orgs(self, request: Request) -> Response:
        def describe_all() -> list[dict[str, object]]:
            return [orgs.describe_org(self.emulator, store) for store in self.emulator.orgs()]

        return JSONResponse({"orgs": await run_in_threadpool(describe_all)})

    async def drop_org(self, request: Request) -> Response:
        name = request.path_params["name"]
        if not await run_in_threadpool(self.emulator.drop_org, name):
            raise UnknownOrg(name)
        return Response(status_code=204)

    async def workload(self, request: Request) -> Response:
        store = self._store(request)
        parsed = parse_workload(await self._fields(request), store.catalog)
        identities = self.emulator.identities(store.info.url_name)
        result = await run_in_threadpool(lambda: Workload(store, parsed, identities).run())
        return JSONResponse(result.to_json())

    async def schema(self, request: Request) -> Response:
        store = self._store(request)
        fields = await self._fields(request)
        return JSONResponse(await run_in_threadpool(schema_ops.apply_change, store, fields))

    async def users(self, request: Request) -> Response:
        store = self._store(request)
        fields = await self._fields(request)
        identities = self.emulator.identities(store.info.url_name)
        written = await run_in_threadpool(users.upsert_users, store, identities, fields)
        return JSONResponse({"users": written})

    # ----- clock and change tracking -------------------------------------------------------------

    async def get_clock(self, request: Request) -> Response:
        clock = self.emulator.clock
        return JSONResponse({"now": clock.now().isoformat().replace("+00:00", "Z"), "frozen": clock.is_frozen})

    async def set_clock(self, request: Request) -> Response:
        fields = await self._fields(request)
        fields.reject_unknown(("now", "frozen", "advance_seconds", "reset"))
        clock = self.emulator.clock
        if fields.boolean("reset", False):
            clock.reset()
        now = fields.moment("now")
        frozen = fields.boolean("frozen", clock.is_frozen)
        if now is not None or fields.has("frozen"):
            clock.set(now or clock.now(), frozen=frozen)
        if fields.has("advance_seconds"):
            clock.advance(fields.number("advance_seconds", 0.0))
        return await self.get_clock(request)

    async def get_tracking(self, request: Request) -> Response:
        tracking = self.emulator.tracking
        return JSONResponse({"expire_days": tracking.expire_days, "expired_style": tracking.expired_style})

    async def set_tracking(self, request: Request) -> Response:
        fields = await self._fields(request)
        fields.reject_unknown(("expire_days", "expired_style", "purge", "org"))
        current = self.emulator.tracking
        expire_days = fields.number("expire_days", current.expire_days, minimum=0.0)
        if expire_days > 365:
            raise AdminRequestError("'expire_days' must be between 0 and 365")
        style = fields.choice("expired_style", ("400", "410"), current.expired_style)
        self.emulator.set_tracking(expire_days=expire_days, expired_style=style)
        body: dict[str, object] = {"expire_days": expire_days, "expired_style": style}
        if fields.has("purge"):
            org = fields.text("org")
            stores = self.emulator.orgs() if org is None else [self._named(org)]
            purge = fields.values["purge"]
            body["purged"] = await run_in_threadpool(orgs.purge_tombstones, self.emulator, stores, purge)
        return JSONResponse(body)

    def _named(self, name: str) -> OrgStore:
        store = self.emulator.org(name)
        if store is None:
            raise UnknownOrg(name)
        return store

    # ----- faults, throttling, request log ---------------------------------------------------------

    async def get_faults(self, request: Request) -> Response:
        return JSONResponse(self.emulator.admin.faults.describe())

    async def set_faults(self, request: Request) -> Response:
        self.emulator.admin.faults.install(parse_plan(await self._fields(request)))
        self.emulator.admin.pages.clear()
        return JSONResponse(self.emulator.admin.faults.describe())

    async def clear_faults(self, request: Request) -> Response:
        self.emulator.admin.faults.clear()
        return Response(status_code=204)

    async def get_throttling(self, request: Request) -> Response:
        return JSONResponse(self.emulator.admin.throttle.settings.to_json())

    async def set_throttling(self, request: Request) -> Response:
        fields = await self._fields(request)
        fields.reject_unknown(("enabled", "requests", "window_s", "exec_ms", "concurrent"))
        defaults = ThrottleSettings()
        window_s = fields.number("window_s", defaults.window_s, minimum=0.001)
        settings = ThrottleSettings(
            enabled=fields.boolean("enabled", True),
            requests=fields.integer("requests", defaults.requests, minimum=1),
            window_s=window_s,
            exec_ms=fields.integer("exec_ms", defaults.exec_ms, minimum=1),
            concurrent=fields.integer("concurrent", defaults.concurrent, minimum=1),
        )
        self.emulator.admin.throttle.configure(settings)
        return JSONResponse(settings.to_json())

    async def requests(self, request: Request) -> Response:
        fields = Fields(dict(request.query_params), "the query string")
        since, limit = _query_int(fields, "since", 0), _query_int(fields, "limit", 0)
        log = self.emulator.admin.log
        entries = [entry.to_json() for entry in log.since(since, limit or None)]
        return JSONResponse({"entries": entries, "last_seq": log.last_seq})

    # ----- identity, secrets, reset -----------------------------------------------------------------

    async def mint_token(self, request: Request) -> Response:
        fields = await self._fields(request)
        base_url = base_url_of(request, self.emulator.public_url)
        return JSONResponse(tokens.mint_token(self.emulator, fields, base_url))

    async def get_keys(self, request: Request) -> Response:
        return JSONResponse(tokens.key_state(self.emulator))

    async def update_keys(self, request: Request) -> Response:
        fields = await self._fields(request)
        return JSONResponse(await run_in_threadpool(tokens.update_keys, self.emulator, fields))

    async def put_secret(self, request: Request) -> Response:
        body = (await self._fields(request)).values
        try:
            return JSONResponse(admin_put_secret(self.emulator.vault, request.path_params["name"], body))
        except ValueError as error:
            raise AdminRequestError(str(error)) from error

    async def delete_secret(self, request: Request) -> Response:
        name = request.path_params["name"]
        if admin_delete_secret(self.emulator.vault, name):
            return Response(status_code=204)
        return _error(404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault.")

    async def reset(self, request: Request) -> Response:
        emulator = self.emulator
        emulator.admin.reset()
        emulator.clock.reset()
        defaults = TrackingSettings()
        emulator.set_tracking(expire_days=defaults.expire_days, expired_style=defaults.expired_style)
        regenerated = await run_in_threadpool(orgs.regenerate_all, emulator)
        return JSONResponse({"orgs": regenerated})


def _query_int(fields: Fields, name: str, default: int) -> int:
    text = fields.text(name)
    if text is None:
        return default
    if not text.isdigit():
        raise AdminRequestError(f"'{name}' must be a non-negative integer")
    return int(text)
