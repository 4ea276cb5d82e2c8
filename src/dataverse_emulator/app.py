"""The emulator's ASGI application: composition root of routes, identity and organizations.

``create_app(settings)`` builds everything; nothing happens at import time. Web API requests are
answered under ``/api/data/v9.x/`` for the default (first) organization and under
``/<org>/api/data/v9.x/`` for any organization by its URL name.
"""

from __future__ import annotations

import logging
import uuid

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from dataverse_emulator.admin.routes import admin_routes, install_middleware
from dataverse_emulator.clock import Clock
from dataverse_emulator.emulator import Emulator
from dataverse_emulator.errors import WebApiError
from dataverse_emulator.identity.bearer import BearerError, validate_bearer, www_authenticate
from dataverse_emulator.identity.routes import identity_routes
from dataverse_emulator.identity.urls import base_url_of
from dataverse_emulator.keyvault import keyvault_routes
from dataverse_emulator.odata.prefer import parse_prefer
from dataverse_emulator.odata.querystring import parse_query
from dataverse_emulator.settings import Settings
from dataverse_emulator.storage import OrgStore
from dataverse_emulator.webapi.batch import handle_batch
from dataverse_emulator.webapi.context import ApiRequest, ApiResponse, Caller
from dataverse_emulator.webapi.discovery import discovery_routes
from dataverse_emulator.webapi.dispatch import dispatch, split_segments

VERSIONS = ("v9.0", "v9.1", "v9.2")
log = logging.getLogger(__name__)


def error_response(error: WebApiError) -> ApiResponse:
    body = {"error": {"code": error.code, "message": error.message}}
    return ApiResponse(error.status, body, dict(error.headers))


def to_starlette(response: ApiResponse, request_id: str) -> Response:
    headers = {"OData-Version": "4.0", "REQ_ID": request_id, "x-ms-service-request-id": request_id}
    headers.update(response.headers)
    if response.status in (204, 304):
        return Response(status_code=response.status, headers=headers)
    return Response(response.encoded(), status_code=response.status, headers=headers, media_type=response.content_type)


class WebApi:
    """The ``/api/data`` endpoint: authenticate, parse, dispatch in a worker thread, answer."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        try:
            api_request = await self._parse(request)
            response = await run_in_threadpool(self.answer, api_request)
        except WebApiError as error:
            response = error_response(error)
        return to_starlette(response, request_id)

    def answer(self, api_request: ApiRequest) -> ApiResponse:
        """Dispatch one request (``$batch`` parts come back through here too).

        A bug in the emulator still answers in the Dataverse shape (500 ``0x80040216``) and is logged
        with its traceback, so a client under test sees a server error rather than a dropped connection.
        """
        try:
            return dispatch(api_request, batch=lambda outer: handle_batch(outer, self.answer))
        except WebApiError as error:
            return error_response(error)
        except Exception as error:
            log.exception("unexpected error answering %s %s", api_request.method, "/".join(api_request.segments))
            return error_response(
                WebApiError(500, "0x80040216", f"An unexpected error occurred: {type(error).__name__}")
            )

    def _store(self, request: Request) -> tuple[OrgStore, str]:
        org_name = request.path_params.get("org")
        store = self.emulator.org(org_name)
        if store is None:
            raise WebApiError(404, "0x0", f"Resource not found for the segment '{org_name or 'api'}'.")
        return store, f"/{org_name}" if org_name else ""

    async def _parse(self, request: Request) -> ApiRequest:
        version = request.path_params["version"]
        if version not in VERSIONS:
            raise WebApiError(404, "0x0", f"Resource not found for the segment '{version}'.")
        store, prefix = self._store(request)
        base_url = base_url_of(request, self.emulator.public_url)
        caller = self._authenticate(request, store, base_url, base_url + prefix)
        raw_query = request.scope.get("query_string", b"").decode("latin-1")
        return ApiRequest(
            method=request.method,
            segments=split_segments(request.path_params.get("path", "")),
            query=parse_query(raw_query),
            prefs=parse_prefer(request.headers.getlist("prefer")),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
            root_url=f"{base_url}{prefix}/api/data/{version}/",
            store=store,
            caller=caller,
            tracking=self.emulator.tracking,
        )

    def _authenticate(self, request: Request, store: OrgStore, base_url: str, org_url: str) -> Caller:
        emulator = self.emulator
        audiences = [org_url] if emulator.settings.check_audience else None
        try:
            identity = validate_bearer(
                request.headers.get("authorization"),
                keyring=emulator.keyring,
                clock=emulator.clock,
                audiences=audiences,
                base_url=base_url,
            )
        except BearerError as error:
            challenge = www_authenticate(base_url, emulator.default_tenant_id, org_url)
            raise WebApiError(401, "", error.message, {"WWW-Authenticate": challenge}) from error
        caller = emulator.caller_for(store, app_id=identity.app_id, oid=identity.oid, kind=identity.kind)
        if caller is None:
            raise WebApiError(
                401,
                "",
                f"The user with object id {identity.oid} is not a member of this organization.",
                {"WWW-Authenticate": www_authenticate(base_url, emulator.default_tenant_id, org_url)},
            )
        if caller.disabled:
            raise WebApiError(403, "0x80040220", f"The user with SystemUserId={caller.systemuserid} is disabled.")
        return caller


def web_api_routes(emulator: Emulator) -> list[BaseRoute]:
    endpoint = WebApi(emulator).handle
    methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
    return [
        Route("/api/data/{version}", endpoint, methods=methods),
        Route("/api/data/{version}/{path:path}", endpoint, methods=methods),
        Route("/{org}/api/data/{version}", endpoint, methods=methods),
        Route("/{org}/api/data/{version}/{path:path}", endpoint, methods=methods),
    ]


def create_app(settings: Settings, emulator: Emulator | None = None, clock: Clock | None = None) -> ASGIApp:
    """The ASGI app of one emulator process (pass ``emulator`` to keep a handle on its state)."""
    emulator = emulator or Emulator(settings, clock)
    routes: list[BaseRoute] = [
        *admin_routes(emulator),
        *discovery_routes(emulator),
        *web_api_routes(emulator),
        *identity_routes(emulator),
        *keyvault_routes(emulator.vault, emulator),
    ]
    app = Starlette(routes=routes)
    app.state.emulator = emulator
    return install_middleware(app, emulator)
