"""``/crm/exporter/metadata/…`` (DES §3.3) and ``/crm/exporter/aad/challenge`` (§3.1)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response

from dataexport.api.dependencies import Caller, Context, ManagedOrg, may_manage
from dataexport.api.documentation import errors
from dataexport.api.errors import error_response
from dataexport.api.models import ConnectorOut, EntityInfoOut, OrganizationOut, RelationshipInfoOut
from dataexport.service.problems import Problem, ProblemKind

log = logging.getLogger(__name__)

router = APIRouter(prefix="/crm/exporter", tags=["Metadata"])
_ORG = errors(400, 401, 403, 404, 503)


@router.get(
    "/metadata/organizations",
    operation_id="Metadata_GetOrganizations",
    response_model=list[OrganizationOut],
    responses=errors(401, 503),
)
def get_organizations(ctx: Context, who: Caller) -> list[OrganizationOut]:
    """Organizations the caller may manage."""
    allowed = []
    organizations, unregistered = ctx.organizations.survey()
    unavailable = list(unregistered)
    for organization in organizations:
        try:
            if may_manage(ctx, organization, who):
                allowed.append(OrganizationOut.of(organization))
        except Problem as problem:
            if problem.kind is not ProblemKind.UNAVAILABLE:
                raise
            unavailable.append(problem)
    if not allowed and unavailable:
        raise unavailable[0]
    for left_out in unavailable:
        log.warning("organization left out of the list: %s", left_out.message)
    return allowed


@router.get("/metadata/discover", operation_id="Metadata_GetOrgDetails", response_model=OrganizationOut, responses=_ORG)
def discover(organization: ManagedOrg) -> OrganizationOut:
    """One organization's details."""
    return OrganizationOut.of(organization)


@router.get(
    "/metadata/connector", operation_id="Metadata_GetConnectorDetails", response_model=ConnectorOut, responses=_ORG
)
def connector(organization: ManagedOrg, ctx: Context, request: Request) -> ConnectorOut:
    """The base URL serving this organization's profiles (``public_url``, else this request's base URL)."""
    base = ctx.public_url or str(request.base_url)
    return ConnectorOut(connector_url=base.rstrip("/"))


@router.get(
    "/metadata/entities", operation_id="Metadata_GetEntities", response_model=list[EntityInfoOut], responses=_ORG
)
def entities(organization: ManagedOrg, ctx: Context) -> list[EntityInfoOut]:
    """Exportable entities, by logical name."""
    return [
        EntityInfoOut(
            logical_name=entity.logical_name,
            schema_name=entity.schema_name,
            display_name=entity.display_name,
            entity_set_name=entity.entity_set_name,
            primary_id_attribute=entity.primary_id,
            is_change_tracking_enabled=entity.change_tracking,
        )
        for entity in ctx.metadata.get(organization).exportable
    ]


@router.get(
    "/metadata/relationships",
    operation_id="Metadata_GetRelationships",
    response_model=list[RelationshipInfoOut],
    responses=_ORG,
)
def relationships(organization: ManagedOrg, ctx: Context) -> list[RelationshipInfoOut]:
    """M:N relationships whose two entities are both exportable."""
    return [
        RelationshipInfoOut(
            schema_name=item.schema_name,
            intersect_entity_name=item.intersect_entity,
            entity1_logical_name=item.entity1,
            entity1_intersect_attribute=item.entity1_attribute,
            entity2_logical_name=item.entity2,
            entity2_intersect_attribute=item.entity2_attribute,
        )
        for item in ctx.metadata.get(organization).relationships
    ]


@router.get(
    "/metadata/hasorgacceptedprivacyterms",
    operation_id="Metadata_HasOrgAcceptedPrivacyTerms",
    response_model=bool,
    responses=_ORG,
)
def has_accepted(organization: ManagedOrg) -> bool:
    """Whether the organization accepted the privacy terms."""
    return organization.privacy_terms_accepted_at is not None


@router.post(
    "/metadata/acceptprivacyterms",
    operation_id="Metadata_AcceptOrgPrivacyTerms",
    status_code=204,
    response_class=Response,
    responses=_ORG,
)
def accept(organization: ManagedOrg, who: Caller, ctx: Context) -> Response:
    """Accept the privacy terms for the organization (idempotent; the caller and time are stored).

    The service copies rows into the destination and keeps, for failed records, the id and record JSON in
    the failure store for 30 days.
    """
    ctx.organizations.accept_privacy_terms(organization, who.display)
    return Response(status_code=204)


@router.get(
    "/aad/challenge",
    operation_id="Aad_Challenge",
    status_code=401,
    response_class=Response,
    responses={401: {"description": "The bearer challenge naming the authority and resource."}, **errors(404)},
)
def challenge(ctx: Context) -> Response:
    """DES-style token discovery: 401 with ``WWW-Authenticate`` (entra mode), 404 in apikey mode."""
    if ctx.challenge is None:
        return error_response(404, "NotFound", "Token discovery is not available: the service uses API keys.")
    authority, resource = ctx.challenge
    header = f'Bearer authorization_uri="{authority}", resource_id="{resource}"'
    return error_response(401, "Unauthorized", "Use a token for this resource.", headers={"WWW-Authenticate": header})
