"""Self-contained paging cookies and delta tokens (spec §2.4, §3.3).

A ``$skiptoken`` carries everything needed to serve the next page (mode, snapshot version and time,
keyset position), so there is no server-side cursor: clients may replay, abandon or re-send a nextLink
against their own base URL. Its shape mimics Dataverse's paging cookie::

    <cookie pagenumber="2" pagingcookie="<base64url JSON state>" istracking="True" />

A delta token is ``<version>!<MM/dd/yyyy HH:mm:ss>`` (UTC), exactly as Dataverse writes it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import orjson

from dataverse_emulator.errors import WebApiError, bad_request

_COOKIE = re.compile(
    r'^<cookie pagenumber="(?P<page>\d+)" pagingcookie="(?P<state>[A-Za-z0-9_\-=]*)" '
    r'istracking="(?P<tracking>True|False)" ?/>$'
)
_TOKEN_TIME = "%m/%d/%Y %H:%M:%S"


@dataclass(frozen=True)
class PageState:
    """Where a paged sequence stands.

    Attributes:
        mode: ``"baseline"`` (tracked full read), ``"delta"`` or ``"query"`` (untracked read).
        page: number of the page this state leads to (2 for the first nextLink).
        snapshot: the counter value captured when the first page was served (``S``).
        stamp: the clock captured then (``T``), in delta-token time format.
        after_id: keyset position (last id served) for id-ordered reads.
        from_version: the delta's starting version (``F``).
        phase: ``"rows"`` then ``"tombstones"`` within a delta.
        after_version: keyset position within a delta phase.
        offset: rows served so far (ordered queries page by offset; ``$top`` counts against it).
    """

    mode: str
    page: int
    snapshot: int = 0
    stamp: str = ""
    after_id: str | None = None
    from_version: int = 0
    phase: str = "rows"
    after_version: int = 0
    offset: int = 0

    @property
    def is_tracking(self) -> bool:
        return self.mode in ("baseline", "delta")


def encode_skiptoken(state: PageState) -> str:
    """The cookie-shaped ``$skiptoken`` value (not yet URL-encoded)."""
    payload = orjson.dumps({k: v for k, v in asdict(state).items() if k != "page"})
    encoded = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    tracking = "True" if state.is_tracking else "False"
    return f'<cookie pagenumber="{state.page}" pagingcookie="{encoded}" istracking="{tracking}" />'


def decode_skiptoken(text: str) -> PageState:
    """Parse a ``$skiptoken``; anything undecodable is a 400."""
    match = _COOKIE.match(text.strip())
    if match is None:
        raise bad_request("The $skiptoken value is not valid.")
    padded = match["state"] + "=" * (-len(match["state"]) % 4)
    try:
        fields = orjson.loads(base64.urlsafe_b64decode(padded))
        state = PageState(page=int(match["page"]), **fields)
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError) as error:
        raise bad_request("The $skiptoken value is not valid.") from error
    if state.mode not in ("baseline", "delta", "query"):
        raise bad_request("The $skiptoken value is not valid.")
    return state


def format_token_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TOKEN_TIME)


def format_deltatoken(version: int, moment: datetime) -> str:
    """``<version>!<MM/dd/yyyy HH:mm:ss>``."""
    return f"{version}!{format_token_time(moment)}"


def invalid_token() -> WebApiError:
    return WebApiError(400, "0x80040203", "Invalid delta token.")


def parse_deltatoken(text: str) -> tuple[int, datetime]:
    """The version and UTC time of a delta token; a malformed token is a 400 ``0x80040203``."""
    version_text, separator, time_text = text.strip().partition("!")
    if not separator or not version_text.isdigit():
        raise invalid_token()
    try:
        moment = datetime.strptime(time_text, _TOKEN_TIME).replace(tzinfo=UTC)
    except ValueError as error:
        raise invalid_token() from error
    return int(version_text), moment


def quote_deltatoken(token: str) -> str:
    """Percent-encode a delta token the way Dataverse writes it in links (lower-case hex)."""
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(token, safe=""))


def quote_skiptoken(token: str) -> str:
    return quote(token, safe="")
