"""Timestamps in API JSON: ISO 8601 UTC, whole seconds, with ``Z`` (DES §0)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer


def format_timestamp(moment: datetime) -> str:
    """``2025-03-07T09:12:44Z``; a naive value is taken as UTC."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


#: A datetime serialized by :func:`format_timestamp` (JSON schema: a date-time string).
Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str, when_used="json")]
