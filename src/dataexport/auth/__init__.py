"""Who calls the API and whether they may manage an organization (des.md §3.1, DESIGN.md §7).

Framework-free: the API layer turns :class:`InvalidToken` into 401, a "no" from an :class:`AdminCheck` into
403, and a transient error from either into 503.

- :mod:`.principal`: the :class:`Principal` value.
- :mod:`.tokens`: :class:`TokenValidator`, bearer JWTs against the issuers' OIDC discovery and JWKS.
- :mod:`.apikeys`: :class:`ApiKeyAuthenticator`, static keys an administrator configures.
- :mod:`.admins`: :class:`AdminCheck`, the System Administrator check against Dataverse, cached.
"""

from dataexport.auth.admins import AdminCheck, CachedAdminCheck, DataverseAdminLookup, api_key_allows
from dataexport.auth.apikeys import ApiKeyAuthenticator
from dataexport.auth.principal import ALL_ORGANIZATIONS, Principal, PrincipalKind
from dataexport.auth.tokens import InvalidToken, IssuerUnavailable, TokenValidator, discovery_url

__all__ = [
    "ALL_ORGANIZATIONS",
    "AdminCheck",
    "ApiKeyAuthenticator",
    "CachedAdminCheck",
    "DataverseAdminLookup",
    "InvalidToken",
    "IssuerUnavailable",
    "Principal",
    "PrincipalKind",
    "TokenValidator",
    "api_key_allows",
    "discovery_url",
]
