"""The ``malform`` faults: a real response body made wrong in one chosen way (spec §6.4 "malformed page").

Pure functions over a buffered :class:`Reply`. ``truncate`` is not here: it is a transfer fault (the
full ``Content-Length`` is advertised and the connection closes early), carried out by the middleware.
Transforms that need a JSON object (``no_value``, ``drop_pk``, ``bad_skiptoken``, ``duplicate_row``)
leave any other body unchanged.
"""

from __future__ import annotations

import re
from typing import cast
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import orjson

from dataverse_emulator.admin.fault_rules import Malform
from dataverse_emulator.admin.replies import Reply

_SKIPTOKEN = re.compile(r"(\$skiptoken=)([^&#]*)", re.IGNORECASE)
_PAGING_COOKIE = re.compile(r'pagingcookie="[^"]*"')
Row = dict[str, object]


def malformed(kind: Malform, reply: Reply, *, primary_key: str | None, previous_row: Row | None) -> Reply:
    """``reply`` with its body (or ``Content-Type``) broken as ``kind`` says.

    Args:
        kind: the fault (not ``truncate``).
        reply: the real, complete response.
        primary_key: the primary id attribute of the entity set's table (``drop_pk``).
        previous_row: the last row of the previous page of this sequence, if known (``duplicate_row``:
            it is repeated at the start of this page; unknown, this page's first row is repeated at
            its end).
    """
    if kind is Malform.WRONG_CONTENT_TYPE:
        return reply.with_header("content-type", "text/html; charset=utf-8")
    if kind is Malform.INVALID_JSON:
        return reply.with_body(broken_json(reply.body))
    document = _json_object(reply.body)
    if document is None:
        return reply
    if kind is Malform.NO_VALUE:
        document.pop("value", None)
    elif kind is Malform.DROP_PK:
        rows = _rows(document)
        if rows and primary_key:
            rows[0].pop(primary_key, None)
    elif kind is Malform.BAD_SKIPTOKEN:
        link = document.get("@odata.nextLink")
        if isinstance(link, str):
            document["@odata.nextLink"] = corrupt_skiptoken(link)
    elif kind is Malform.DUPLICATE_ROW:
        value = document.get("value")
        if isinstance(value, list) and previous_row is not None:
            value.insert(0, previous_row)
        elif isinstance(value, list) and value:
            value.append(value[0])
    return reply.with_body(orjson.dumps(document))


def broken_json(body: bytes) -> bytes:
    """``body`` with its closing brace replaced by a comma: unparseable by any JSON reader."""
    stripped = body.rstrip()
    return stripped[:-1] + b"," if stripped.endswith(b"}") else b"{" + stripped


def corrupt_skiptoken(link: str) -> str:
    """``link`` with a cookie-shaped ``$skiptoken`` whose paging state cannot be decoded."""

    def corrupt(match: re.Match[str]) -> str:
        cookie = _PAGING_COOKIE.sub('pagingcookie="%%not-a-paging-cookie%%"', unquote(match[2]))
        if cookie == unquote(match[2]):
            cookie = '<cookie pagenumber="2" pagingcookie="%%not-a-paging-cookie%%" istracking="False" />'
        return match[1] + quote(cookie, safe="")

    return _SKIPTOKEN.sub(corrupt, link, count=1)


def next_page_row(body: bytes) -> tuple[str, Row] | None:
    """``($skiptoken of the nextLink, last row)`` of a JSON page that has both, else ``None``."""
    if b"@odata.nextLink" not in body:
        return None
    document = _json_object(body)
    if document is None:
        return None
    link, rows = document.get("@odata.nextLink"), _rows(document)
    if not isinstance(link, str) or not rows:
        return None
    token = next((v for k, v in parse_qsl(urlsplit(link).query) if k.lower() == "$skiptoken"), None)
    return (token, rows[-1]) if token is not None else None


def _json_object(body: bytes) -> Row | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return cast(Row, document) if isinstance(document, dict) else None


def _rows(document: Row) -> list[Row]:
    value = document.get("value")
    if not isinstance(value, list):
        return []
    return [cast(Row, row) for row in value if isinstance(row, dict)]
