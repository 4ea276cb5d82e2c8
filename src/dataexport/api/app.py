"""``create_app``: the REST API of DES §3 with its Swagger document, Swagger UI and health probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse

from dataexport.api import metadata_routes, profile_routes
from dataexport.api.dependencies import ApiContext, Context
from dataexport.api.documentation import errors
from dataexport.api.errors import error_response, install_error_handlers
from dataexport.api.models import HealthOut, ProfileRequest

OPENAPI_PATH = "/swagger/docs/2016-01-01"
SWAGGER_UI_PATH = "/swagger/ui/index"
DESCRIPTION = """A self-hosted Data Export Service for Microsoft Dataverse, with the DES REST API.

Callers present `Authorization: Bearer <token>`: an Entra ID token of a System Administrator of the organization
in question (directly or through a team), or, when an administrator configured `auth.mode = "apikey"`, an API key
(which bypasses the System Administrator check for the organizations it is bound to).

A failing record is retried every `RetryInterval` seconds up to `RetryCount` times, then given up and logged; at
the limits (20 x 3,600 s) that is 20 hours. Failure logs are read through `GET profiles/{id}/failures`.
"""

health = APIRouter(tags=["Health"])


@health.get("/healthz", operation_id="Health_Live", response_model=HealthOut)
def healthz() -> HealthOut:
    """Liveness: 200 while the process runs."""
    return HealthOut(status="Healthy")


@health.get("/readyz", operation_id="Health_Ready", response_model=HealthOut, responses=errors(503))
def readyz(ctx: Context) -> Any:
    """Readiness: the control database answers and the scheduler runs."""
    if not ctx.ready():
        return error_response(503, "NotReady", "The service is starting or its control database cannot be reached.")
    return HealthOut(status="Ready")


def create_app(context: ApiContext, *, extra_routers: tuple[APIRouter, ...] = ()) -> FastAPI:
    """The API over ``context``; ``extra_routers`` adds e.g. the local failure store's signed routes."""
    app = FastAPI(
        title="Data Export Service",
        version="2016-01-01",
        description=DESCRIPTION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = context
    unauthorized: dict[str, str] = {}
    if context.challenge is not None:
        authority, resource = context.challenge
        unauthorized["WWW-Authenticate"] = f'Bearer authorization_uri="{authority}", resource_id="{resource}"'
    install_error_handlers(app, unauthorized)
    app.include_router(metadata_routes.router)
    app.include_router(profile_routes.router)
    for router in extra_routers:
        app.include_router(router)
    app.include_router(health)
    document = _openapi(app)

    @app.get(OPENAPI_PATH, include_in_schema=False)
    def openapi_document() -> JSONResponse:
        return JSONResponse(document)

    @app.get(SWAGGER_UI_PATH, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_PATH, title="Data Export Service")

    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI 3.1 document, with the request body schema the §2.3 rules enforce and bearer security."""
    document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    body = ProfileRequest.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    schemas.update(body.pop("$defs", {}))
    schemas["ProfileRequest"] = body
    document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    open_paths = {"/healthz", "/readyz", "/crm/exporter/aad/challenge"}
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)  # a bad request is always 400 (errors.py)
            if path not in open_paths and not path.startswith("/crm/exporter/failurestore"):
                operation["security"] = [{"bearer": []}]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document
