"""Discovery documents: OpenID configuration v1/v2 and MSAL instance discovery (spec §7.2, §7.3).

Pure builders: each takes the base URL the client reached and returns the JSON document.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from dataverse_emulator.identity import oauth_errors as errors
from dataverse_emulator.identity.urls import issuer_url

_COMMON = {
    "response_modes_supported": ["query", "fragment", "form_post"],
    "subject_types_supported": ["pairwise"],
    "id_token_signing_alg_values_supported": ["RS256"],
    "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "ver", "name", "upn"],
    "request_uri_parameter_supported": False,
    "tenant_region_scope": "NA",
    "cloud_instance_name": "microsoftonline.com",
}


def openid_configuration(base_url: str, tenant_id: str, version: str) -> dict[str, object]:
    """The ``.well-known/openid-configuration`` for ``tenant_id`` (a GUID) served from ``base_url``.

    ``issuer`` is exactly the ``iss`` of the tokens of that version (:func:`issuer_url`).

    Raises:
        ValueError: ``version`` is not ``"1.0"`` or ``"2.0"``.
    """
    tenant_base = f"{base_url.rstrip('/')}/{tenant_id}"
    if version == "2.0":
        endpoints: dict[str, object] = {
            "authorization_endpoint": f"{tenant_base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{tenant_base}/oauth2/v2.0/token",
            "jwks_uri": f"{tenant_base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
        }
    else:
        endpoints = {
            "authorization_endpoint": f"{tenant_base}/oauth2/authorize",
            "token_endpoint": f"{tenant_base}/oauth2/token",
            "jwks_uri": f"{tenant_base}/discovery/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "scopes_supported": ["openid"],
        }
    return {"issuer": issuer_url(base_url, tenant_id, version), **endpoints, **_COMMON}


def instance_discovery(authorization_endpoint: str | None) -> dict[str, object]:
    """MSAL's instance-discovery answer for ``authorization_endpoint`` (``https://<host>/<tenant>/oauth2/...``).

    Every https host is a valid instance (the emulator serves whatever host it is reached by, including an
    intercepted one); the tenant discovery endpoint points back at that host.

    Raises:
        EntraError: parameter missing (``invalid_request``) or not an https authority (``invalid_instance``).
    """
    if not authorization_endpoint:
        raise errors.missing_parameter("authorization_endpoint")
    parts = urlsplit(authorization_endpoint)
    tenant = parts.path.strip("/").split("/")[0]
    if parts.scheme != "https" or not parts.netloc or not tenant:
        raise errors.invalid_instance()
    host = parts.netloc.lower()
    return {
        "tenant_discovery_endpoint": f"https://{host}/{tenant}/v2.0/.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }
