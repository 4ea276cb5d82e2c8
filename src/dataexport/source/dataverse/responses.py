"""Reading what a Web API response says: its JSON (numbers as ``Decimal``), error body and ``Retry-After``.

Pure functions over bytes and header values (webapi §1.3, §6.1, §6.3, §8 R14).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime

JSON_MEDIA_TYPE = "application/json"


class BodyError(ValueError):
    """A body that is not what a Web API answer must be; ``reason`` names the failure kind."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


def is_json_media_type(content_type: str | None) -> bool:
    """Whether ``Content-Type`` is JSON, matched on the media type only (webapi §1.3)."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == JSON_MEDIA_TYPE


def parse_json(body: bytes) -> object:
    """Decode a JSON body, floats as exact ``Decimal`` (R14); integers stay ``int``.

    Raises:
        BodyError: ``invalid_json``.
    """
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BodyError("invalid_json", f"the body is not valid JSON ({_short(exc)})") from exc


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """``{"error": {"code", "message"}}`` (webapi §6.1); empty when the body has no such object."""

    code: str | None = None
    message: str = ""


def parse_error_body(body: bytes) -> ErrorBody:
    """The Dataverse error of a failed response; an HTML gateway page or an empty 401 gives an empty one."""
    try:
        document = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ErrorBody()
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        return ErrorBody()
    code = error.get("code")
    message = error.get("message")
    return ErrorBody(
        code=str(code) if isinstance(code, str | int) and not isinstance(code, bool) else None,
        message=message if isinstance(message, str) else "",
    )


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` in seconds: integer or decimal seconds, or an HTTP-date (webapi §6.3).

    ``now`` (aware UTC) is used for dates; a date in the past gives 0. Unparseable or negative → None.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until(text, now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")) or seconds < 0:
        return None
    return seconds


def _seconds_until(http_date: str, now: datetime) -> float | None:
    try:
        moment = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - now).total_seconds())


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:117] + "..."
