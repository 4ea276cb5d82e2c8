"""Conversion of Web API JSON values to the Python values written to the destination (DES §6.3).

Each converter takes the raw JSON value (numbers already ``Decimal`` or ``int``: the client parses with
``parse_float=Decimal``) and returns ``str``, ``int``, ``Decimal``, ``bool``, an aware UTC ``datetime``,
a lowercase GUID string, or None. A value of the wrong shape raises :class:`ValueError`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from dataexport.domain.columns import ValueKind

Converter = Callable[[object], object]

_CANONICAL_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def to_string(value: object) -> str | None:
    """Text stays text."""
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"expected text, got {_describe(value)}")


def to_integer(value: object) -> int | None:
    """A JSON integer (an integral Decimal is accepted too)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise ValueError(f"expected an integer, got {_describe(value)}")


def to_decimal(value: object) -> Decimal | None:
    """A JSON number as an exact Decimal (floats go through their shortest text form)."""
    if value is None:
        return None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        if number.is_finite():
            return number
    raise ValueError(f"expected a number, got {_describe(value)}")


def to_datetime(value: object) -> datetime | None:
    """``2024-05-02T08:15:00Z`` -> aware UTC; a DateOnly ``2024-05-02`` -> that date at 00:00 UTC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a date/time text, got {_describe(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"expected an ISO 8601 date/time, got {_describe(value)}") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_boolean(value: object) -> bool | None:
    """JSON ``true``/``false`` only."""
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"expected true or false, got {_describe(value)}")


def to_guid(value: object) -> str | None:
    """A GUID in canonical lowercase ``8-4-4-4-12`` form."""
    if value is None:
        return None
    if isinstance(value, str):
        if _CANONICAL_GUID.fullmatch(value):
            return value  # what Dataverse sends: skip the round trip through uuid.UUID (a hot path)
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise ValueError(f"expected a GUID, got {_describe(value)}")


def to_multi_select(value: object) -> str | None:
    """``"3,1"`` -> ``"1,3"`` (option values ascending, no spaces); empty -> None (DES §6.3)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected comma-separated option values, got {_describe(value)}")
    parts = [part.strip() for part in value.split(",") if part.strip()]
    try:
        options = sorted(int(part) for part in parts)
    except ValueError as exc:
        raise ValueError(f"expected comma-separated option values, got {_describe(value)}") from exc
    return ",".join(str(option) for option in options) or None


def to_any_text(value: object) -> str | None:
    """Whatever a Virtual attribute returns, as text (DES §6.3 note 3)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    raise ValueError(f"expected a scalar value, got {_describe(value)}")


CONVERTERS: dict[ValueKind, Converter] = {
    ValueKind.STRING: to_string,
    ValueKind.INTEGER: to_integer,
    ValueKind.DECIMAL: to_decimal,
    ValueKind.DATETIME: to_datetime,
    ValueKind.BOOLEAN: to_boolean,
    ValueKind.GUID: to_guid,
    ValueKind.MULTI_SELECT: to_multi_select,
    ValueKind.ANY_TEXT: to_any_text,
}
