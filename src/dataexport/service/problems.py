"""What the service layer refuses, as values the API turns into status codes and DES error bodies (§3.1).

The service never speaks HTTP; each :class:`Problem` carries a :class:`ProblemKind` that the API maps to a
status code, plus the DES ``Code``, ``Message`` and ``Details`` (and the ``TestResult`` of a failed pre-flight).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from dataexport.domain.checks import TestResult
from dataexport.domain.profile import ErrorDetail


class ProblemKind(StrEnum):
    """The family of a refusal; the API maps each to one status code."""

    INVALID = "invalid"  # 400
    UNAUTHENTICATED = "unauthenticated"  # 401
    FORBIDDEN = "forbidden"  # 403
    NOT_FOUND = "not_found"  # 404
    CONFLICT = "conflict"  # 409
    UNAVAILABLE = "unavailable"  # 503


class Problem(Exception):
    """A request the service refuses: its kind, DES code, message and optional details."""

    def __init__(
        self,
        kind: ProblemKind,
        code: str,
        message: str,
        details: Sequence[ErrorDetail] = (),
        *,
        test_result: TestResult | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.details = tuple(details)
        self.test_result = test_result


def validation_failed(details: Sequence[ErrorDetail]) -> Problem:
    """The §2.3 400 ``ValidationFailed`` with every failing field."""
    return Problem(ProblemKind.INVALID, "ValidationFailed", "One or more fields are invalid.", details)


def organization_unavailable(url: str, reason: str) -> Problem:
    """503 ``OrganizationUnavailable``: the route needed Dataverse and could not reach it."""
    return Problem(
        ProblemKind.UNAVAILABLE,
        "OrganizationUnavailable",
        f"The organization at {url} cannot be reached now ({reason}); try again shortly.",
    )


def profile_not_found(profile_id: str) -> Problem:
    """404 for a profile that does not exist or belongs to an organization the caller may not manage."""
    return Problem(ProblemKind.NOT_FOUND, "ProfileNotFound", f"Profile '{profile_id}' was not found.")


def organization_not_found(what: str) -> Problem:
    """404 for an organization the service does not know."""
    return Problem(ProblemKind.NOT_FOUND, "OrganizationNotFound", f"Organization {what} is not registered.")
