"""Documented answers per route (DES §3.5), so the OpenAPI document lists exactly what a route may return."""

from __future__ import annotations

from typing import Any

from dataexport.api.models import ErrorBody

_REASONS = {
    400: "Invalid input (see Error.Details).",
    401: "Missing or invalid bearer token.",
    403: "Not a System Administrator of the organization, or privacy terms not accepted.",
    404: "Unknown organization or profile.",
    409: "Lifecycle conflict.",
    503: "Dataverse cannot be reached (OrganizationUnavailable), or the service is not ready.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the given error status codes, each with the DES error body."""
    return {code: {"model": ErrorBody, "description": _REASONS[code]} for code in codes}
