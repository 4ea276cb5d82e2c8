"""Writing a ``$batch`` response: one multipart/mixed part per top-level request (spec §5.6).

Framing, with CRLF line endings throughout::

    --batchresponse_<uuid>
    Content-Type: application/http
    Content-Transfer-Encoding: binary
    [Content-ID: <id>]
    <blank>
    HTTP/1.1 <status> <canonical reason phrase>
    [Content-Type: <type>]            (only when there is a body)
    OData-Version: 4.0
    <the inner response's headers>
    <blank>
    <body>
    --batchresponse_<uuid>
    Content-Type: multipart/mixed; boundary=changesetresponse_<uuid>
    <blank>
    --changesetresponse_<uuid>
    ... one application/http part per member, Content-ID echoed ...
    --changesetresponse_<uuid>--
    --batchresponse_<uuid>--

Every HTTP message ends its headers with an empty line even when it has no body, so a ``204`` part
is followed by two empty lines before the next delimiter (the line break before a delimiter belongs
to the delimiter, RFC 2046).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus

from dataverse_emulator.webapi.context import ApiResponse

_CRLF = "\r\n"
_BODYLESS = frozenset({204, 304})
_FRAMING_HEADERS = frozenset({"content-type", "odata-version", "content-length"})


@dataclass(frozen=True)
class PartResponse:
    """The response to one inner request (or a failed changeset's single error)."""

    response: ApiResponse
    content_id: str | None = None

    @property
    def failed(self) -> bool:
        return self.response.status >= 400


@dataclass(frozen=True)
class ChangesetResponse:
    """The responses of a changeset that committed, in member order."""

    members: tuple[PartResponse, ...]

    @property
    def failed(self) -> bool:
        return False


ResponseItem = PartResponse | ChangesetResponse


def render_batch(items: Sequence[ResponseItem]) -> tuple[str, bytes]:
    """The ``Content-Type`` (with a fresh ``batchresponse_<uuid>`` boundary) and body of a batch response."""
    boundary = f"batchresponse_{uuid.uuid4()}"
    chunks: list[bytes] = []
    for item in items:
        chunks.append(f"--{boundary}{_CRLF}".encode())
        chunks.append(_render_changeset(item) if isinstance(item, ChangesetResponse) else _render_part(item))
        chunks.append(_CRLF.encode())
    chunks.append(f"--{boundary}--{_CRLF}".encode())
    return f"multipart/mixed; boundary={boundary}", b"".join(chunks)


def _render_changeset(changeset: ChangesetResponse) -> bytes:
    boundary = f"changesetresponse_{uuid.uuid4()}"
    chunks = [f"Content-Type: multipart/mixed; boundary={boundary}{_CRLF}{_CRLF}".encode()]
    for member in changeset.members:
        chunks.append(f"--{boundary}{_CRLF}".encode())
        chunks.append(_render_part(member))
        chunks.append(_CRLF.encode())
    chunks.append(f"--{boundary}--".encode())
    return b"".join(chunks)


def _render_part(part: PartResponse) -> bytes:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if part.content_id is not None:
        lines.append(f"Content-ID: {part.content_id}")
    head = _CRLF.join([*lines, "", ""])
    return head.encode() + render_http(part.response)


def render_http(response: ApiResponse) -> bytes:
    """One HTTP/1.1 response message: status line, headers, empty line, body."""
    body = b"" if response.status in _BODYLESS else response.encoded()
    lines = [f"HTTP/1.1 {response.status} {reason_phrase(response.status)}"]
    if body:
        lines.append(f"Content-Type: {response.content_type}")
    lines.append("OData-Version: 4.0")
    lines.extend(
        f"{name}: {_one_line(value)}"
        for name, value in response.headers.items()
        if name.lower() not in _FRAMING_HEADERS
    )
    return _CRLF.join([*lines, "", ""]).encode() + body


def reason_phrase(status: int) -> str:
    """The canonical reason phrase (``404`` → ``Not Found``); clients match on ``" 200 "``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown Status"


def _one_line(value: str) -> str:
    """A header value cannot span lines inside the body of the batch response."""
    return " ".join(value.splitlines())
