"""The one exception the emulator's handlers raise to answer with a Dataverse error body.

Every failure a client can cause ends as a :class:`WebApiError`, which the application turns into
``{"error": {"code": ..., "message": ...}}`` with the right status and headers (spec §6.1). Anything else
that escapes a handler is a bug in the emulator and becomes 500 ``0x80040216``.
"""

from __future__ import annotations


class WebApiError(Exception):
    """A Dataverse-shaped error response.

    Attributes:
        status: HTTP status code.
        code: ``error.code`` (a string such as ``"0x0"`` or ``"0x80040217"``).
        message: ``error.message``.
        headers: extra response headers (``Retry-After``, ``Location``, ``WWW-Authenticate``).
    """

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def bad_request(message: str, code: str = "0x0") -> WebApiError:
    """400 for a malformed or unsupported request (OData-layer errors use code ``0x0``)."""
    return WebApiError(400, code, message)


def not_found_segment(segment: str) -> WebApiError:
    """404 for an unknown entity set or path segment."""
    return WebApiError(404, "0x0", f"Resource not found for the segment '{segment}'.")


def unknown_property(name: str, type_name: str) -> WebApiError:
    """400 for an unknown property in ``$select``, ``$orderby`` or ``$filter``."""
    return WebApiError(400, "0x0", f"Could not find a property named '{name}' on type '{type_name}'.")


def record_not_found(entity: str, record_id: str) -> WebApiError:
    """404 for a missing row."""
    return WebApiError(404, "0x80040217", f"{entity} With Id = {record_id} Does Not Exist")
