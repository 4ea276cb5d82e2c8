"""Responses the admin middleware writes itself: fault statuses, throttling 429s, buffered responses.

A :class:`Reply` is a whole response in memory (status, raw ASGI headers, body). Error bodies are the
Dataverse error JSON of spec §6.1 with ``OData-Version: 4.0``; ``html`` faults get a gateway-style
HTML page instead, as a proxy in front of the service would send.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from http import HTTPStatus

import orjson

from dataverse_emulator.admin.fault_rules import FaultAction
from dataverse_emulator.admin.throttling import (
    CONCURRENCY_CODE,
    EXECUTION_TIME_CODE,
    REQUESTS_CODE,
    Rejection,
    ThrottleSettings,
    limit_message,
)

JSON_TYPE = "application/json; odata.metadata=minimal"

#: ``(code, message)`` of a status fault that names neither.
_DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("0x0", "Bad Request"),
    401: ("", "The access token is invalid or has expired."),
    403: ("0x80040220", "Principal user is missing privileges to access this resource."),
    404: ("0x0", "Resource not found."),
    500: ("0x80040216", "An unexpected error occurred."),
    502: ("", "Bad Gateway"),
    503: ("", "The service is temporarily unavailable. Please try again later."),
    504: ("", "The operation has timed out."),
}


@dataclass(frozen=True)
class Reply:
    """A complete response; header names are lower-case bytes."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        key = name.lower().encode()
        return next((v.decode("latin-1") for k, v in self.headers if k == key), None)

    def with_header(self, name: str, value: str) -> Reply:
        """A copy with ``name`` set to ``value`` (replacing any previous value)."""
        key = name.lower().encode()
        kept = tuple((k, v) for k, v in self.headers if k != key)
        return replace(self, headers=(*kept, (key, value.encode("latin-1"))))

    def with_body(self, body: bytes) -> Reply:
        """A copy with ``body`` and a matching ``Content-Length``."""
        return replace(self, body=body).with_header("content-length", str(len(body)))


def _reply(status: int, content_type: str, body: bytes, extra: dict[str, str]) -> Reply:
    reply = Reply(status, ((b"odata-version", b"4.0"), (b"content-type", content_type.encode()))).with_body(body)
    for name, value in extra.items():
        reply = reply.with_header(name, value)
    return reply


def error_reply(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    """The Dataverse error JSON ``{"error": {"code", "message"}}`` with ``status``."""
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return _reply(status, JSON_TYPE, body, dict(headers or {}))


def gateway_html(status: int) -> bytes:
    """A gateway-style HTML error page for ``status``."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return (
        f"<!DOCTYPE html>\r\n<html><head><title>{status} {phrase}</title></head>\r\n"
        f"<body><center><h1>{status} {phrase}</h1></center>\r\n"
        "<hr><center>Microsoft-Azure-Application-Gateway/v2</center>\r\n</body></html>\r\n"
    ).encode()


def status_reply(action: FaultAction) -> Reply:
    """The response of a ``status`` fault: code and message default by status (429: the request-count
    limit with Dataverse's real limits), ``Retry-After`` only when ``retry_after`` is given."""
    status = action.status or 500
    extra = dict(action.headers)
    if action.retry_after is not None:
        extra.setdefault("Retry-After", action.retry_after)
    if action.html:
        return _reply(status, "text/html; charset=utf-8", gateway_html(status), extra)
    code, message = _default_error(status, action.code)
    return error_reply(status, action.code if action.code is not None else code, action.message or message, extra)


def _default_error(status: int, code: str | None) -> tuple[str, str]:
    if status == 429:
        chosen = code or REQUESTS_CODE
        known = chosen in (REQUESTS_CODE, EXECUTION_TIME_CODE, CONCURRENCY_CODE)
        return chosen, limit_message(chosen, ThrottleSettings()) if known else "Too Many Requests"
    if status in _DEFAULT_ERRORS:
        return _DEFAULT_ERRORS[status]
    try:
        return "0x0", HTTPStatus(status).phrase
    except ValueError:
        return "0x0", "Error"


def throttle_reply(rejection: Rejection) -> Reply:
    """429 with ``Retry-After`` and the service-protection code and message."""
    return error_reply(429, rejection.code, rejection.message, {"Retry-After": str(rejection.retry_after)})
