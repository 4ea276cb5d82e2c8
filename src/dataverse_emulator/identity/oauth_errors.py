"""Token-endpoint errors in Entra ID's shape (spec §7.1): one exception, one constructor per failure.

``{"error": "invalid_client", "error_description": "AADSTS7000215: ...", "error_codes": [7000215],
"timestamp": "2024-05-02 08:20:00Z", "trace_id": "<guid>", "correlation_id": "<guid>"}``
"""

from __future__ import annotations

from datetime import datetime


class EntraError(Exception):
    """A token or discovery request the emulator refuses, as Entra ID would.

    Attributes:
        status: HTTP status (400 or 401).
        error: OAuth error code (``invalid_client``, ``invalid_request``...).
        code: AADSTS number.
        description: human text after ``AADSTS<code>: `` (never contains a secret).
    """

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(f"AADSTS{code}: {description}")
        self.status = status
        self.error = error
        self.code = code
        self.description = description


def entra_error_body(error: EntraError, *, now: datetime, trace_id: str, correlation_id: str) -> dict[str, object]:
    """The JSON body Entra ID returns for ``error`` at ``now``."""
    timestamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    description = (
        f"AADSTS{error.code}: {error.description} Trace ID: {trace_id} Correlation ID: {correlation_id} "
        f"Timestamp: {timestamp}"
    )
    return {
        "error": error.error,
        "error_description": description,
        "error_codes": [error.code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
    }


def unknown_tenant(tenant: str) -> EntraError:
    return EntraError(
        400,
        "invalid_request",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing "
        "into the correct cloud.",
    )


def missing_parameter(name: str) -> EntraError:
    return EntraError(
        400, "invalid_request", 900144, f"The request body must contain the following parameter: '{name}'."
    )


def conflicting_client_id() -> EntraError:
    return EntraError(
        400,
        "invalid_request",
        90023,
        "The client_id in the body differs from the one in the Authorization header.",
    )


def malformed_basic_auth() -> EntraError:
    return EntraError(
        401,
        "invalid_client",
        7000216,
        "The Authorization header is not valid HTTP Basic client authentication.",
    )


def unsupported_grant_type(grant_type: str) -> EntraError:
    return EntraError(
        400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'."
    )


def unknown_application(client_id: str, tenant: str) -> EntraError:
    return EntraError(
        401,
        "invalid_client",
        700016,
        f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can "
        "happen if the application has not been installed by the administrator of the tenant.",
    )


def invalid_client_secret(client_id: str) -> EntraError:
    return EntraError(
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
        f"value, not the client secret ID, for a secret added to app '{client_id}'.",
    )


def missing_client_credential() -> EntraError:
    return EntraError(
        401,
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )


def invalid_app_scope(scope: str) -> EntraError:
    return EntraError(
        400,
        "invalid_scope",
        1002012,
        f"The provided value for scope {scope} is not valid. Client credential flows must have a scope value "
        "with /.default suffixed to the resource identifier (application ID URI).",
    )


def invalid_user_scope(scope: str) -> EntraError:
    return EntraError(
        400,
        "invalid_scope",
        70011,
        f"The provided value for the input parameter 'scope' is not valid: {scope!r}. Use "
        "'<resource>/user_impersonation' or '<resource>/.default' for a single resource.",
    )


def unknown_user(username: str, tenant_id: str) -> EntraError:
    return EntraError(
        400,
        "invalid_grant",
        50034,
        f"The user account {username} does not exist in the {tenant_id} directory.",
    )


def invalid_user_password() -> EntraError:
    return EntraError(400, "invalid_grant", 50126, "Error validating credentials due to invalid username or password.")


def invalid_instance() -> EntraError:
    return EntraError(400, "invalid_instance", 50049, "Unknown or invalid instance.")
