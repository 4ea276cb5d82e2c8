"""What the admin middleware knows about a request before it is answered: its :class:`RequestFacts`.

Facts are read from the ASGI scope alone (never the body): the decoded path and query, the headers,
the Web API entity set and organization the path names, the page number of a paging sequence, the
requested page size, and the caller named by the bearer token's payload, read **without** verifying
the signature (the log and the fault rules only need a name; the Web API still validates).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from urllib.parse import parse_qsl

import orjson
from starlette.types import Scope

from dataverse_emulator.errors import WebApiError
from dataverse_emulator.odata.prefer import MAX_PAGE_SIZE, parse_prefer
from dataverse_emulator.webapi.paging import decode_skiptoken

_API_PATH = re.compile(r"^(?:/(?P<org>[^/]+))?/api/data/(?P<version>v9\.[0-9])(?:/(?P<rest>.*))?$")
_SET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*")


@dataclass(frozen=True)
class CallerNames:
    """Who a bearer token says the caller is (unverified): object id, calling app, user name."""

    oid: str | None = None
    app_id: str | None = None
    upn: str | None = None

    @property
    def key(self) -> str | None:
        """The throttling key: ``oid``, else the app id."""
        return self.oid or self.app_id

    def names(self) -> frozenset[str]:
        """Every name the caller goes by, lower-cased (for the ``identity`` match key)."""
        return frozenset(name.lower() for name in (self.oid, self.app_id, self.upn) if name)


@dataclass(frozen=True)
class RequestFacts:
    """One request as fault rules, throttling and the request log see it.

    Attributes:
        method: upper-case HTTP method.
        path: the percent-decoded path.
        query: decoded ``(name, value)`` pairs in order (``+`` is a space, ``%2B`` a plus).
        headers: lower-case names; repeated headers joined with ``,``.
        org: the org path prefix of a Web API path (``None`` = the default org or not a Web API path).
        api_version: ``v9.0``..``v9.2`` for a Web API path, else ``None``.
        entity_set: the first Web API segment's name (``accounts`` for ``accounts(<id>)/x``), or ``None``.
        page: 1 for a request without ``$skiptoken``, its page number otherwise; ``None`` if undecodable.
        pagesize: ``odata.maxpagesize`` (capped at 5000), 5000 when absent.
        caller: the bearer token's names.
        now: the emulator clock when the request arrived.
    """

    method: str
    path: str
    now: datetime
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    org: str | None = None
    api_version: str | None = None
    entity_set: str | None = None
    page: int | None = 1
    pagesize: int = MAX_PAGE_SIZE
    caller: CallerNames = field(default_factory=CallerNames)

    @property
    def is_web_api(self) -> bool:
        return self.api_version is not None

    def option(self, name: str) -> str | None:
        """The first value of query option ``name`` (compared case-insensitively), or ``None``."""
        wanted = name.lower()
        return next((value for key, value in self.query if key.lower() == wanted), None)

    def query_text(self) -> str:
        """The decoded query as one readable string (for the request log)."""
        return "&".join(f"{key}={value}" for key, value in self.query)


def request_facts(scope: Scope, now: datetime) -> RequestFacts:
    """The facts of an ASGI HTTP ``scope`` at emulator time ``now``."""
    headers: dict[str, str] = {}
    for name, value in scope.get("headers") or []:
        key = bytes(name).decode("latin-1").lower()
        text = bytes(value).decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    raw_query = bytes(scope.get("query_string") or b"").decode("latin-1")
    query = tuple(parse_qsl(raw_query, keep_blank_values=True))
    path = str(scope.get("path") or "/")
    org, version, entity_set = parse_api_path(path)
    facts = RequestFacts(
        method=str(scope.get("method") or "GET").upper(),
        path=path,
        now=now,
        query=query,
        headers=MappingProxyType(headers),
        org=org,
        api_version=version,
        entity_set=entity_set,
        caller=caller_of(headers.get("authorization")),
    )
    prefer = [headers["prefer"]] if "prefer" in headers else []
    return _with_paging(facts, prefer)


def _with_paging(facts: RequestFacts, prefer: list[str]) -> RequestFacts:
    skiptoken = facts.option("$skiptoken")
    page: int | None = 1
    if skiptoken is not None:
        try:
            page = decode_skiptoken(skiptoken).page
        except WebApiError:
            page = None
    pagesize = parse_prefer(prefer).maxpagesize or MAX_PAGE_SIZE
    return replace(facts, page=page, pagesize=pagesize)


def parse_api_path(path: str) -> tuple[str | None, str | None, str | None]:
    """``(org prefix, version, entity set)`` of a Web API path; ``(None, None, None)`` for others."""
    match = _API_PATH.match(path)
    if match is None:
        return None, None, None
    name = _SET_NAME.match(match["rest"] or "")
    return match["org"], match["version"], name.group(0) if name else None


def caller_of(authorization: str | None) -> CallerNames:
    """The names in a bearer token's payload, read without verification; empty when unreadable."""
    if not authorization or authorization[:7].lower() != "bearer ":
        return CallerNames()
    parts = authorization[7:].strip().split(".")
    if len(parts) != 3:
        return CallerNames()
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return CallerNames()
    if not isinstance(payload, dict):
        return CallerNames()

    def claim(*names: str) -> str | None:
        for name in names:
            value = payload.get(name)
            if isinstance(value, str) and value:
                return value
        return None

    return CallerNames(oid=claim("oid"), app_id=claim("appid", "azp"), upn=claim("upn", "preferred_username"))
