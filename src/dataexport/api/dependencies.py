"""Request dependencies: the caller (401), the organization or profile named (404), the caller's right to
manage it (403), the privacy-terms gate (403) and the organization parameters (400), in DES's order (§3.1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from dataexport.auth.admins import AdminCheck
from dataexport.auth.principal import Principal
from dataexport.auth.tokens import InvalidToken, IssuerUnavailable
from dataexport.domain.profile import ExportProfile
from dataexport.domain.profile_rules import is_guid
from dataexport.errors import DataExportError
from dataexport.service.catalog import MetadataCache
from dataexport.service.organizations import OrganizationDirectory
from dataexport.service.problems import Problem, ProblemKind, organization_unavailable, profile_not_found
from dataexport.service.profiles import ProfileService
from dataexport.store.values import Organization

PRIVACY_MESSAGE = (
    "The organization has not accepted the privacy terms. Call POST /crm/exporter/metadata/acceptprivacyterms first."
)


@dataclass(frozen=True)
class ApiContext:
    """What the routes work with; built once by the composition root."""

    organizations: OrganizationDirectory
    metadata: MetadataCache
    profiles: ProfileService
    authenticate: Callable[[str], Principal]
    admins: AdminCheck
    public_url: str | None
    challenge: tuple[str, str] | None  # (authorization_uri, resource_id) in entra mode; None in apikey mode
    ready: Callable[[], bool]


def context(request: Request) -> ApiContext:
    found = request.app.state.context
    assert isinstance(found, ApiContext)
    return found


Context = Annotated[ApiContext, Depends(context)]


def caller(request: Request, ctx: Context) -> Principal:
    """The authenticated caller; 401 for a missing, malformed, forged, expired or misaddressed token."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(ProblemKind.UNAUTHENTICATED, "Unauthorized", "A bearer token is required.")
    try:
        return ctx.authenticate(token.strip())
    except InvalidToken as error:
        raise Problem(
            ProblemKind.UNAUTHENTICATED, "Unauthorized", f"The bearer token is not accepted: {error}."
        ) from error
    except IssuerUnavailable as error:
        raise Problem(
            ProblemKind.UNAVAILABLE, "IssuerUnavailable", f"The token issuer cannot be reached now: {error}"
        ) from error


Caller = Annotated[Principal, Depends(caller)]


@dataclass(frozen=True)
class OrgQuery:
    """The ``organizationId`` / ``organizationUrl`` query parameters."""

    organization_id: str | None
    organization_url: str | None

    @property
    def given(self) -> bool:
        return self.organization_id is not None or self.organization_url is not None


def org_query(
    organization_id: Annotated[str | None, Query(alias="organizationId")] = None,
    organization_url: Annotated[str | None, Query(alias="organizationUrl")] = None,
) -> OrgQuery:
    return OrgQuery(organization_id or None, organization_url or None)


OrgParams = Annotated[OrgQuery, Depends(org_query)]


def may_manage(ctx: ApiContext, organization: Organization, who: Principal) -> bool:
    """Whether ``who`` is a System Administrator of the organization (or holds a key for it); 503 if unknown."""
    try:
        return ctx.admins.is_system_administrator(organization.id, who)
    except DataExportError as error:
        raise organization_unavailable(organization.url, str(error)) from error


def _not_allowed(organization: Organization) -> Problem:
    return Problem(
        ProblemKind.FORBIDDEN,
        "NotSystemAdministrator",
        f"The caller is not a System Administrator of organization {organization.id}.",
    )


def manageable(ctx: ApiContext, who: Principal, organization_id: str | None, url: str | None) -> Organization:
    """The organization named by id or URL (400/404), which the caller must be allowed to manage (403)."""
    organization = ctx.organizations.find(organization_id, url)
    if not may_manage(ctx, organization, who):
        raise _not_allowed(organization)
    return organization


def managed_organization(ctx: Context, who: Caller, query: OrgParams) -> Organization:
    """The organization the query names, which the caller may manage (metadata routes)."""
    return manageable(ctx, who, query.organization_id, query.organization_url)


ManagedOrg = Annotated[Organization, Depends(managed_organization)]


def require_privacy_terms(organization: Organization) -> None:
    if organization.privacy_terms_accepted_at is None:
        raise Problem(ProblemKind.FORBIDDEN, "PrivacyTermsNotAccepted", PRIVACY_MESSAGE)


def gated_organization(organization: ManagedOrg) -> Organization:
    """A managed organization that accepted the privacy terms (profile routes, §3.2)."""
    require_privacy_terms(organization)
    return organization


GatedOrg = Annotated[Organization, Depends(gated_organization)]


@dataclass(frozen=True)
class ProfileAccess:
    """A profile and its organization, checked for the caller."""

    profile: ExportProfile
    organization: Organization


def managed_profile(
    ctx: Context,
    who: Caller,
    query: OrgParams,
    profile_id: Annotated[str, Path(alias="profileId")],
) -> ProfileAccess:
    """The profile named in the path: 404 when unknown or of an organization the caller may not manage."""
    if not is_guid(profile_id):
        raise profile_not_found(profile_id)
    profile = ctx.profiles.get(profile_id)
    organization = ctx.organizations.get(profile.organization_id)
    if organization is None or not may_manage(ctx, organization, who):
        raise profile_not_found(profile_id)
    require_privacy_terms(organization)
    if query.given and not _names(ctx, query, organization):
        raise Problem(
            ProblemKind.INVALID,
            "OrganizationParametersMismatch",
            "The organization parameters do not name this profile's organization.",
        )
    return ProfileAccess(profile, organization)


def _names(ctx: ApiContext, query: OrgQuery, organization: Organization) -> bool:
    """Whether the organization parameters name ``organization`` (an unknown one does not)."""
    try:
        return ctx.organizations.find(query.organization_id, query.organization_url).id == organization.id
    except Problem as problem:
        if problem.kind is ProblemKind.NOT_FOUND:
            return False
        raise


ManagedProfile = Annotated[ProfileAccess, Depends(managed_profile)]
