"""Reading a ``$batch`` request body: multipart/mixed parts and the HTTP requests inside them (spec §5.6).

The body is split into top-level parts, each an ``application/http`` request or a ``multipart/mixed``
changeset of such requests. Lines may end in CRLF or a bare LF. The parser is linear in the body size
(no regular expressions, every loop advances through the body) and reports any malformed input as a
400 :class:`WebApiError`, never as another exception.

:func:`read_batch` only parses; :func:`parse_batch` also enforces the batch rules (request count,
``GET`` in a changeset, nested ``$batch``, unique ``Content-ID``, ``$n`` references), all before a
single inner request runs.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from dataverse_emulator.errors import WebApiError, bad_request

#: Most inner requests one batch may carry, changeset members included (spec §5.6, §6.3).
MAX_INNER_REQUESTS = 1000

_BOUNDARY_CHARS = frozenset(string.ascii_letters + string.digits + "'()+_,-./:=? ")
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")
_SERVICE_RESOURCES = frozenset({"$metadata", "$batch"})


@dataclass(frozen=True)
class InnerRequest:
    """One ``application/http`` part.

    Attributes:
        method: the request method, upper case.
        target: the request target as written (absolute URL, absolute path, relative path or ``$n…``).
        headers: the inner headers as ``(lower-case name, value)`` in arrival order (names may repeat).
        body: the bytes after the blank line that ends the inner headers.
        content_id: the part's ``Content-ID`` (MIME header, else inner header), or ``None``.
    """

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    content_id: str | None = None

    def header_values(self, name: str) -> list[str]:
        """Every value of a header, in order (``Prefer`` may be repeated)."""
        return [value for key, value in self.headers if key == name]

    def header_map(self) -> dict[str, str]:
        """The headers as one mapping; repeated headers are joined with ``", "``."""
        merged: dict[str, list[str]] = {}
        for key, value in self.headers:
            merged.setdefault(key, []).append(value)
        return {key: ", ".join(values) for key, values in merged.items()}


@dataclass(frozen=True)
class Changeset:
    """A ``multipart/mixed`` part: writes that succeed or fail together."""

    members: tuple[InnerRequest, ...]


BatchItem = InnerRequest | Changeset


def count_requests(items: Sequence[BatchItem]) -> int:
    """Inner requests in a batch, changeset members counted one by one."""
    return sum(len(item.members) if isinstance(item, Changeset) else 1 for item in items)


def parse_batch(body: bytes, content_type: str | None) -> tuple[BatchItem, ...]:
    """Read a batch body and check it against the batch rules.

    Raises:
        WebApiError: 400 for a malformed body or boundary, more than :data:`MAX_INNER_REQUESTS`
            requests, a nested ``$batch``, a ``GET`` in a changeset, a repeated ``Content-ID``, or a
            ``$n`` target that names no earlier member of the same changeset.
    """
    items = read_batch(body, content_type)
    total = count_requests(items)
    if total > MAX_INNER_REQUESTS:
        raise bad_request(f"The batch holds {total} requests; at most {MAX_INNER_REQUESTS} are allowed.")
    _check_content_ids(items)
    for item in items:
        if isinstance(item, Changeset):
            _check_changeset(item)
        else:
            _check_request(item, declared=())
    return items


def read_batch(body: bytes, content_type: str | None) -> tuple[BatchItem, ...]:
    """Parse a batch body without checking the batch rules (see :func:`parse_batch`).

    Raises:
        WebApiError: 400 when the body or its ``Content-Type`` is not a well-formed batch.
    """
    boundary = boundary_of(content_type)
    return tuple(_read_item(part) for part in split_parts(body, boundary))


# ----- multipart framing ---------------------------------------------------------------------


def boundary_of(content_type: str | None) -> str:
    """The ``boundary`` of a ``multipart/mixed`` content type, unquoted.

    Raises:
        WebApiError: 400 when the type is not ``multipart/mixed`` or the boundary is missing or
            not a valid RFC 2046 boundary (1 to 70 allowed characters, not ending in a space).
    """
    media_type, params = parse_content_type(content_type or "")
    if media_type != "multipart/mixed":
        raise bad_request(
            f"The batch request Content-Type '{content_type or ''}' is not supported: "
            "use 'multipart/mixed; boundary=<boundary>'."
        )
    boundary = params.get("boundary", "")
    if not 0 < len(boundary) <= 70 or boundary.endswith(" ") or not set(boundary) <= _BOUNDARY_CHARS:
        raise bad_request(f"The multipart boundary '{boundary}' is missing or invalid.")
    return boundary


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """``type/subtype; name=value; name="quoted"`` → (lower-case media type, {lower-case name: value})."""
    media_type, *raw_params = value.split(";")
    params: dict[str, str] = {}
    for raw in raw_params:
        name, _, param = raw.partition("=")
        param = param.strip()
        if len(param) >= 2 and param[0] == param[-1] == '"':
            param = param[1:-1]
        params.setdefault(name.strip().lower(), param)
    return media_type.strip().lower(), params


def split_parts(body: bytes, boundary: str) -> list[bytes]:
    """The contents of the parts between ``--boundary`` lines, up to the ``--boundary--`` line.

    The line break before each delimiter belongs to the delimiter; the preamble and the epilogue
    are ignored. Trailing spaces or tabs after a delimiter (transport padding) are allowed.

    Raises:
        WebApiError: 400 when the closing delimiter is missing.
    """
    delimiter = b"--" + boundary.encode("ascii")
    closing = delimiter + b"--"
    parts: list[bytes] = []
    start: int | None = None
    for line_start, line_end in _lines(body):
        line = body[line_start:line_end].rstrip(b" \t\r")
        if line not in (delimiter, closing):
            continue
        if start is not None:
            parts.append(_without_final_break(body[start:line_start]))
        if line == closing:
            return parts
        start = line_end + 1
    raise bad_request(f"The batch body does not end with the closing boundary '--{boundary}--'.")


def _lines(data: bytes) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of every line, ``end`` at the ``\\n`` (or the end of ``data``)."""
    position = 0
    while position <= len(data):
        end = data.find(b"\n", position)
        if end < 0:
            yield position, len(data)
            return
        yield position, end
        position = end + 1


def _without_final_break(content: bytes) -> bytes:
    return content.removesuffix(b"\n").removesuffix(b"\r")


def split_head(data: bytes) -> tuple[list[str], bytes]:
    """Header lines up to the first empty line, and the bytes after it.

    Raises:
        WebApiError: 400 when a header line is not UTF-8.
    """
    lines: list[str] = []
    for line_start, line_end in _lines(data):
        line = data[line_start:line_end].removesuffix(b"\r")
        if not line:
            return lines, data[line_end + 1 :]
        lines.append(_text(line))
    return lines, b""


def parse_headers(lines: Sequence[str]) -> list[tuple[str, str]]:
    """``Name: value`` lines (with folded continuation lines) → ``(lower-case name, value)`` pairs.

    Raises:
        WebApiError: 400 for a line without a colon or with an invalid header name.
    """
    pieces: list[tuple[str, list[str]]] = []
    for line in lines:
        if line[:1] in (" ", "\t") and pieces:
            pieces[-1][1].append(line.strip())
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or not set(name) <= _TOKEN_CHARS:
            raise bad_request(f"The batch part header line '{_shorten(line)}' is malformed.")
        pieces.append((name.lower(), [value.strip()]))
    return [(name, " ".join(piece for piece in values if piece)) for name, values in pieces]


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise bad_request("The batch body holds a header or request line that is not valid UTF-8.") from error


def _shorten(text: str) -> str:
    return text if len(text) <= 80 else f"{text[:77]}..."


# ----- parts -----------------------------------------------------------------------------------


def _read_item(part: bytes) -> BatchItem:
    headers, content = _mime_part(part)
    content_type = _first(headers, "content-type")
    if parse_content_type(content_type or "")[0] == "multipart/mixed":
        boundary = boundary_of(content_type)
        return Changeset(tuple(_read_member(member) for member in split_parts(content, boundary)))
    return _read_request(headers, content)


def _read_member(part: bytes) -> InnerRequest:
    headers, content = _mime_part(part)
    if parse_content_type(_first(headers, "content-type") or "")[0] == "multipart/mixed":
        raise bad_request("A changeset cannot contain another changeset.")
    return _read_request(headers, content)


def _mime_part(part: bytes) -> tuple[list[tuple[str, str]], bytes]:
    lines, content = split_head(part)
    return parse_headers(lines), content


def _read_request(mime_headers: list[tuple[str, str]], content: bytes) -> InnerRequest:
    media_type, _ = parse_content_type(_first(mime_headers, "content-type") or "")
    if media_type != "application/http":
        raise bad_request(f"A batch part has Content-Type '{media_type}': use 'application/http' or 'multipart/mixed'.")
    encoding = (_first(mime_headers, "content-transfer-encoding") or "binary").lower()
    if encoding != "binary":
        raise bad_request(f"The batch part Content-Transfer-Encoding '{encoding}' is not supported: use 'binary'.")
    lines, body = split_head(content.lstrip(b"\r\n"))
    if not lines:
        raise bad_request("A batch part holds no HTTP request line.")
    method, target = _request_line(lines[0])
    headers = tuple(parse_headers(lines[1:]))
    content_id = _first(mime_headers, "content-id") or _first(headers, "content-id")
    return InnerRequest(method, target, headers, body, content_id or None)


def _request_line(line: str) -> tuple[str, str]:
    """``METHOD <target> HTTP/1.1`` → (method, target); the target may contain unencoded spaces."""
    method, _, rest = line.strip().partition(" ")
    target, _, version = rest.rpartition(" ")
    target = target.strip()
    if not method or not set(method) <= _TOKEN_CHARS or not target or not version.upper().startswith("HTTP/"):
        raise bad_request(f"The batch request line '{_shorten(line)}' is not 'METHOD <url> HTTP/1.1'.")
    return method.upper(), target


def _first(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key == name), None)


# ----- batch rules -------------------------------------------------------------------------


def _check_content_ids(items: Sequence[BatchItem]) -> None:
    seen: set[str] = set()
    for item in items:
        for request in item.members if isinstance(item, Changeset) else (item,):
            if request.content_id is None:
                continue
            if request.content_id in seen:
                raise bad_request(f"The Content-ID '{request.content_id}' is used more than once in the batch.")
            seen.add(request.content_id)


def _check_changeset(changeset: Changeset) -> None:
    declared: list[str] = []
    for member in changeset.members:
        if member.method == "GET":
            raise bad_request(f"A changeset cannot contain a GET request ('{_shorten(member.target)}').")
        _check_request(member, declared)
        if member.content_id is not None:
            declared.append(member.content_id)


def _check_request(request: InnerRequest, declared: Sequence[str]) -> None:
    if is_batch_target(request.target):
        raise bad_request("A $batch request cannot contain another $batch request.")
    reference = content_id_reference(request.target)
    if reference is not None and reference not in declared:
        raise missing_reference(reference)


def content_id_reference(target: str) -> str | None:
    """The Content-ID a ``$n[/…]`` target refers to, or ``None`` for any other target.

    ``$metadata`` and ``$batch`` are service resources, not references.
    """
    if not target.startswith("$"):
        return None
    head = target.split("?", 1)[0].split("/", 1)[0]
    return None if head in _SERVICE_RESOURCES else head[1:]


def missing_reference(content_id: str) -> WebApiError:
    """400 for a ``$n`` that names no entity created earlier in the changeset."""
    return bad_request(f"Content-ID Reference: '${content_id}' does not exist in the batch context.")


def is_batch_target(target: str) -> bool:
    """Whether a request target addresses ``$batch`` (as the last path segment)."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    segments = [segment for segment in unquote(path).split("/") if segment]
    return bool(segments) and segments[-1] == "$batch"
