"""What to do about one Web API answer: a pure lookup from what was observed to a :class:`Verdict`.

webapi §3.5, §3.6, §6.2, §6.3, §7.5, §8 R4/R6/R8/R12/R13; DES §7.7. Nothing here sleeps or raises: the
retry loop (:mod:`.retry`) acts on the verdict. Precedence, first match wins:

1. a failure below HTTP (timeout, reset, truncated or unparseable body ...): :data:`FAILURE_VERDICTS`;
2. a 2xx: :attr:`Verdict.OK`;
3. for a 4xx: ``error.code`` (:data:`CODE_VERDICTS`, case-insensitive, hex or decimal), then the message
   (:data:`MESSAGE_VERDICTS`), then a 400 on a nextLink (:data:`CONTINUATION_VERDICTS`);
4. the status (:data:`STATUS_VERDICTS`), then its class (:data:`CLASS_VERDICTS`); anything else is refused.

Token-endpoint errors have their own small table, :data:`TOKEN_ERROR_VERDICTS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Verdict(StrEnum):
    """The decision for one answer."""

    OK = "ok"
    RETRY_AFTER = "retry_after"  # 429: wait Retry-After (+ jitter), pause the identity, retry the same request
    BACKOFF = "backoff"  # retry with exponential backoff and full jitter, limited attempts
    SHRINK_PAGE = "shrink_page"  # the body passed the byte cap: halve the page size, read the same link
    REFRESH_TOKEN = "refresh_token"  # 401: refresh the token once, retry
    EXPIRED = "expired"  # the delta token expired: re-baseline
    LINK_REJECTED = "link_rejected"  # a nextLink was refused: restart from the last deltaLink
    UNTRACKED = "untracked"  # change tracking is not enabled for the table
    NOT_FOUND = "not_found"  # 404: a record read answers None; anything else is refused
    GIVE_UP = "give_up"  # transient, but retrying now cannot help (a link loop): give up this read
    REFUSED = "refused"  # final for this request (terminal)
    CREDENTIALS_REJECTED = "credentials_rejected"  # the token endpoint refused the client (terminal)


class Failure(StrEnum):
    """A failure of an exchange other than an HTTP status."""

    TIMEOUT = "timeout"
    RESET = "reset"  # connection refused, reset or closed before the answer
    TRUNCATED = "truncated"  # the body ended before its Content-Length
    INVALID_JSON = "invalid_json"
    WRONG_CONTENT_TYPE = "wrong_content_type"
    INVALID_PAGE = "invalid_page"  # JSON, but not a valid page (R13)
    LINK_LOOP = "link_loop"  # the nextLink is the URL just read (R13 loop guard)
    TOO_LARGE = "too_large"  # the body passed the configured byte cap (R12)


@dataclass(frozen=True, slots=True)
class Observation:
    """What one attempt saw.

    Attributes:
        status: the HTTP status, None when the exchange failed below HTTP.
        code: ``error.code`` of a Dataverse error body.
        message: ``error.message`` of the error body.
        failure: what went wrong below HTTP or in the body of a 2xx.
        continuation: the request was a nextLink (a 400 then means the link was rejected).
    """

    status: int | None = None
    code: str | None = None
    message: str = ""
    failure: Failure | None = None
    continuation: bool = False


_EXPIRED_CODES = ("0x80044352", "-2147204270")  # ExpiredVersionStamp (webapi §3.6)
_THROTTLE_CODES = (  # service protection limits (webapi §6.3): requests, execution time, concurrency
    "0x80072322",
    "-2147015902",
    "0x80072321",
    "-2147015903",
    "0x80072326",
    "-2147015898",
)

FAILURE_VERDICTS: Mapping[Failure, Verdict] = MappingProxyType(
    {
        Failure.TIMEOUT: Verdict.BACKOFF,
        Failure.RESET: Verdict.BACKOFF,
        Failure.TRUNCATED: Verdict.BACKOFF,
        Failure.INVALID_JSON: Verdict.BACKOFF,
        Failure.WRONG_CONTENT_TYPE: Verdict.BACKOFF,
        Failure.INVALID_PAGE: Verdict.BACKOFF,
        Failure.LINK_LOOP: Verdict.GIVE_UP,
        Failure.TOO_LARGE: Verdict.SHRINK_PAGE,
    }
)

CODE_VERDICTS: Mapping[str, Verdict] = MappingProxyType(
    {
        **dict.fromkeys(_EXPIRED_CODES, Verdict.EXPIRED),
        **dict.fromkeys(_THROTTLE_CODES, Verdict.RETRY_AFTER),
    }
)

#: Lower-case fragments that must all occur in a 4xx message.
MESSAGE_VERDICTS: tuple[tuple[tuple[str, ...], Verdict], ...] = (
    (("version stamp", "expired"), Verdict.EXPIRED),
    (("change tracking is not enabled",), Verdict.UNTRACKED),
)

CONTINUATION_VERDICTS: Mapping[int, Verdict] = MappingProxyType({400: Verdict.LINK_REJECTED})

STATUS_VERDICTS: Mapping[int, Verdict] = MappingProxyType(
    {
        401: Verdict.REFRESH_TOKEN,
        404: Verdict.NOT_FOUND,
        408: Verdict.BACKOFF,
        410: Verdict.EXPIRED,
        429: Verdict.RETRY_AFTER,
        500: Verdict.BACKOFF,
        501: Verdict.REFUSED,
        502: Verdict.BACKOFF,
        503: Verdict.BACKOFF,
        504: Verdict.BACKOFF,
    }
)

#: By the first digit of the status.
CLASS_VERDICTS: Mapping[int, Verdict] = MappingProxyType({2: Verdict.OK, 4: Verdict.REFUSED, 5: Verdict.BACKOFF})

TOKEN_ERROR_VERDICTS: Mapping[str, Verdict] = MappingProxyType(
    {"invalid_client": Verdict.CREDENTIALS_REJECTED, "unauthorized_client": Verdict.CREDENTIALS_REJECTED}
)


def classify(observation: Observation) -> Verdict:
    """The verdict for ``observation`` (see the module docstring for the precedence)."""
    if observation.failure is not None:
        return FAILURE_VERDICTS[observation.failure]
    status = observation.status
    if status is None:
        return Verdict.BACKOFF
    if status // 100 == 4:
        verdict = _client_error_verdict(observation)
        if verdict is not None:
            return verdict
    if status in STATUS_VERDICTS:
        return STATUS_VERDICTS[status]
    return CLASS_VERDICTS.get(status // 100, Verdict.REFUSED)


def _client_error_verdict(observation: Observation) -> Verdict | None:
    code = (observation.code or "").strip().lower()
    if code in CODE_VERDICTS:
        return CODE_VERDICTS[code]
    message = observation.message.lower()
    for fragments, verdict in MESSAGE_VERDICTS:
        if all(fragment in message for fragment in fragments):
            return verdict
    if observation.continuation and observation.status is not None:
        return CONTINUATION_VERDICTS.get(observation.status)
    return None


def classify_token_error(error: str | None) -> Verdict:
    """The verdict for a token endpoint's ``error`` (webapi §7.1, §7.5): only a refused client is final."""
    return TOKEN_ERROR_VERDICTS.get((error or "").strip().lower(), Verdict.BACKOFF)
