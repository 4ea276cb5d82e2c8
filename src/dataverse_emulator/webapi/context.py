"""The values a Web API handler works with: the request as parsed, the caller, and the response.

Handlers take an :class:`ApiRequest` and return an :class:`ApiResponse`; neither knows Starlette, so
``$batch`` can run its inner requests through the same dispatcher as top-level ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import orjson

from dataverse_emulator.odata.prefer import Preferences
from dataverse_emulator.odata.querystring import QueryOptions
from dataverse_emulator.storage import OrgStore

JSON_TYPE = "application/json; odata.metadata=minimal"


@dataclass(frozen=True)
class Caller:
    """The systemuser a request runs as."""

    systemuserid: str
    business_unit_id: str | None
    is_application: bool
    disabled: bool = False


@dataclass(frozen=True)
class TrackingSettings:
    """Change-tracking settings of the emulator (spec §3.6, admin ``/change-tracking``)."""

    expire_days: float = 7.0
    expired_style: str = "400"


@dataclass(frozen=True)
class ApiRequest:
    """One Web API request, top-level or inside a ``$batch``.

    ``segments`` is the path after ``ROOT`` split on ``/`` (percent-decoded, not split inside
    parentheses' quotes). ``root_url`` is the absolute ``ORG/api/data/<version>/`` with trailing slash.
    """

    method: str
    segments: tuple[str, ...]
    query: QueryOptions
    prefs: Preferences
    headers: Mapping[str, str]
    body: bytes
    root_url: str
    store: OrgStore
    caller: Caller
    tracking: TrackingSettings

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class ApiResponse:
    """A response before it is written: a JSON-able body (or raw bytes) and headers."""

    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return orjson.dumps(self.body)
