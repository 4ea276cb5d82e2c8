"""``/crm/exporter/profiles…`` (DES §3.4): routes translate HTTP to :class:`ProfileService` and back."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from dataexport.api.dependencies import (
    ApiContext,
    Caller,
    Context,
    ManagedProfile,
    OrgParams,
    gated_organization,
    manageable,
)
from dataexport.api.documentation import errors
from dataexport.api.models import FailuresInfoOut, ProfileOut, ResyncRunOut
from dataexport.domain.checks import TestResult
from dataexport.domain.lifecycle import LifecycleCall
from dataexport.domain.profile import ExportProfile
from dataexport.domain.profile_rules import is_guid
from dataexport.service.problems import validation_failed
from dataexport.store.values import Organization

router = APIRouter(prefix="/crm/exporter/profiles", tags=["Profiles"])

_NOT_JSON = object()
_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProfileRequest"}}},
    }
}
_ID = errors(400, 401, 403, 404, 503)


async def json_body(request: Request) -> object:
    """The parsed JSON body, or a marker the §2.3 rules report as ``InvalidJson``."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        return _NOT_JSON  # DES §0: request bodies are UTF-8 application/json
    raw = await request.body()
    try:
        return json.loads(raw) if raw.strip() else _NOT_JSON
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON


Body = Annotated[object, Depends(json_body)]
Status = Annotated[str | None, Query(alias="status", description="`true` adds the Status block.")]


def _with_status(ctx: ApiContext, profile: ExportProfile, status: str | None) -> ProfileOut:
    wanted = status is not None and status.strip().lower() == "true"
    return ProfileOut.of(profile, ctx.profiles.status(profile) if wanted else None)


def _body_organization(ctx: ApiContext, who: Caller, query: OrgParams, body: object) -> tuple[Organization, str | None]:
    """The organization of a create/validate call: the query's, else the body's ``OrganizationId``."""
    if query.given:
        organization = gated_organization(manageable(ctx, who, query.organization_id, query.organization_url))
        return organization, organization.id
    named = body.get("OrganizationId") if isinstance(body, dict) else None
    if isinstance(named, str) and is_guid(named):
        return gated_organization(manageable(ctx, who, named, None)), None
    raise validation_failed(ctx.profiles.field_problems(None if body is _NOT_JSON else body))


@router.get(
    "",
    operation_id="Profiles_GetProfilesByOrganizationId",
    response_model=list[ProfileOut],
    response_model_exclude_none=False,
    responses=_ID,
)
def list_profiles(ctx: Context, who: Caller, query: OrgParams, status: Status = None) -> list[ProfileOut]:
    """The organization's profiles, by creation time."""
    organization = gated_organization(manageable(ctx, who, query.organization_id, query.organization_url))
    return [_with_status(ctx, profile, status) for profile in ctx.profiles.list(organization)]


@router.post(
    "",
    operation_id="Profiles_CreateProfile",
    status_code=201,
    response_model=ProfileOut,
    responses=_ID,
    openapi_extra=_BODY,
)
def create_profile(ctx: Context, who: Caller, query: OrgParams, body: Body, response: Response) -> ProfileOut:
    """Create a Draft profile."""
    organization, query_id = _body_organization(ctx, who, query, body)
    profile = ctx.profiles.create(None if body is _NOT_JSON else body, organization, query_id)
    response.headers["Location"] = f"/crm/exporter/profiles/{profile.id}"
    return ProfileOut.of(profile)


@router.post(
    "/validate",
    operation_id="Profiles_ValidateBeforeProfileCreation",
    response_model=TestResult,
    responses=_ID,
    openapi_extra=_BODY,
)
def validate_profile(ctx: Context, who: Caller, query: OrgParams, body: Body) -> JSONResponse:
    """Run the §5 checks on a body; nothing is saved and no DDL runs. 200 even when checks fail."""
    organization, query_id = _body_organization(ctx, who, query, body)
    result = ctx.profiles.validate(None if body is _NOT_JSON else body, organization, query_id)
    return JSONResponse(result.model_dump(mode="json", by_alias=True))


@router.get("/{profileId}", operation_id="Profiles_GetProfileById", response_model=ProfileOut, responses=_ID)
def get_profile(ctx: Context, access: ManagedProfile, status: Status = None) -> ProfileOut:
    """One profile."""
    return _with_status(ctx, access.profile, status)


@router.put(
    "/{profileId}",
    operation_id="Profiles_UpdateProfile",
    response_model=ProfileOut,
    responses=errors(400, 401, 403, 404, 409, 503),
    openapi_extra=_BODY,
)
def update_profile(ctx: Context, access: ManagedProfile, body: Body) -> ProfileOut:
    """Replace the profile's mutable fields (a full replace, DES §2.1, §4.3)."""
    return ProfileOut.of(ctx.profiles.replace(access.profile, None if body is _NOT_JSON else body, access.organization))


@router.delete(
    "/{profileId}",
    operation_id="Profiles_DeleteProfileById",
    status_code=204,
    response_class=Response,
    responses=errors(400, 401, 403, 404, 409, 503),
)
def delete_profile(ctx: Context, access: ManagedProfile) -> Response:
    """Delete an inactive profile with its sync state and failure logs; the destination is never touched."""
    ctx.profiles.delete(access.profile)
    return Response(status_code=204)


def _lifecycle(call: LifecycleCall, operation_id: str, summary: str) -> None:
    def run(ctx: Context, access: ManagedProfile, status: Status = None) -> ProfileOut:
        profile = ctx.profiles.lifecycle(access.profile, call, access.organization)
        return _with_status(ctx, profile, status)

    run.__doc__ = summary
    router.add_api_route(
        f"/{{profileId}}/{call.value}",
        run,
        methods=["POST"],
        operation_id=operation_id,
        response_model=ProfileOut,
        responses=errors(400, 401, 403, 404, 409, 503),
        name=operation_id,
    )


_lifecycle(LifecycleCall.ACTIVATE, "Profiles_Activate", "Activate: schema, metadata tables and data (Full).")
_lifecycle(LifecycleCall.ACTIVATE_METADATA, "Profiles_ActivateMetadata", "Activate schema and metadata tables only.")
_lifecycle(LifecycleCall.ACTIVATE_DATA, "Profiles_ActivateData", "Activate rows only, into existing tables.")
_lifecycle(LifecycleCall.DEACTIVATE, "Profiles_Deactivate", "Stop syncing; tokens, counters and tables are kept.")


@router.get("/{profileId}/test", operation_id="Profiles_GetTestResultById", response_model=TestResult, responses=_ID)
def test_profile(ctx: Context, access: ManagedProfile) -> JSONResponse:
    """Run the §5 checks on the stored profile."""
    result = ctx.profiles.test(access.profile, access.organization)
    return JSONResponse(result.model_dump(mode="json", by_alias=True))


@router.get(
    "/{profileId}/failures",
    operation_id="Profiles_GetProfileFailuresInfoById",
    response_model=FailuresInfoOut,
    responses=_ID,
)
def failures(ctx: Context, access: ManagedProfile) -> FailuresInfoOut:
    """A URL to the profile's failure logs, valid 24 hours, needing no bearer token."""
    link = ctx.profiles.failures_link(access.profile)
    return FailuresInfoOut(failures_blob_uri=link.url, expires_on=link.expires_on)


@router.post(
    "/{profileId}/resyncfailed",
    operation_id="Profiles_ResyncFailedRecords",
    response_model=ResyncRunOut,
    responses=errors(400, 401, 403, 404, 409, 503),
)
def resync_failed(ctx: Context, access: ManagedProfile) -> ResyncRunOut:
    """Re-attempt every failed record and Failed entity of an Active profile (our extension, §8.7)."""
    run = ctx.profiles.resync(access.profile)
    return ResyncRunOut(
        profile_id=access.profile.id,
        run_id=run.run_id,
        queued_records=run.queued_records,
        started_on=run.started_on,
        state=run.state,
        succeeded=run.succeeded,
        failed=run.failed,
        completed_on=run.completed_on,
    )
