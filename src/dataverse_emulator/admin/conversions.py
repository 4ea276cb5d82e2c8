"""Converting stored values when an admin ``retype`` changes a column's type.

Values are in storage form (see :mod:`dataverse_emulator.storage`). A value that has no sensible
form in the new type converts to ``None``, which clears it. Lookups never convert (a new lookup has
no target to point to); a lookup's GUID becomes text for String/Memo/Uniqueidentifier.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from dataverse_emulator.catalog.model import LOOKUP_TYPES, AttributeDef, AttributeType
from dataverse_emulator.storage import StoredValue

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z)?$")
_CHOICES = re.compile(r"^-?\d+(,-?\d+)*$")
_INTEGERS = (AttributeType.INTEGER, AttributeType.BIGINT, AttributeType.PICKLIST)
_INTEGERS_ALSO = (AttributeType.STATE, AttributeType.STATUS)


def converter_for(attribute: AttributeDef) -> Callable[[StoredValue], StoredValue]:
    """The function turning a stored value of any type into ``attribute``'s type (``None`` = clear)."""
    kind = attribute.type
    if attribute.is_multiselect:
        return _to_choices
    if kind in LOOKUP_TYPES:
        return _cleared
    if kind in (AttributeType.STRING, AttributeType.MEMO):
        limit = attribute.max_length

        def to_text(value: StoredValue) -> StoredValue:
            text = _text(value)
            return text if limit is None else text[:limit]

        return to_text
    return _SIMPLE.get(kind, _cleared)


def _cleared(value: StoredValue) -> StoredValue:
    return None


def _scalar(value: StoredValue) -> StoredValue:
    """A lookup's GUID, or the value itself."""
    if isinstance(value, list) and len(value) == 2:
        return value[1]
    return value


def _text(value: StoredValue) -> str:
    value = _scalar(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decimal(value: StoredValue) -> Decimal | None:
    value = _scalar(value)
    if isinstance(value, bool):
        return Decimal(int(value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return None


def _to_integer(value: StoredValue) -> StoredValue:
    number = _decimal(value)
    if number is None or not number.is_finite() or number != number.to_integral_value():
        return None
    return int(number)


def _to_decimal(value: StoredValue) -> StoredValue:
    number = _decimal(value)
    return str(number) if number is not None and number.is_finite() else None


def _to_double(value: StoredValue) -> StoredValue:
    number = _decimal(value)
    return float(number) if number is not None and number.is_finite() else None


def _to_boolean(value: StoredValue) -> StoredValue:
    value = _scalar(value)
    if isinstance(value, bool):
        return value
    return {"true": True, "1": True, "false": False, "0": False}.get(str(value).strip().lower())


def _to_datetime(value: StoredValue) -> StoredValue:
    text = _text(value)
    return text if _DATETIME.match(text) else None


def _to_guid(value: StoredValue) -> StoredValue:
    text = _text(value)
    return text.lower() if _GUID.match(text) else None


def _to_choices(value: StoredValue) -> StoredValue:
    text = _text(value).replace(" ", "")
    return text if _CHOICES.match(text) else None


_SIMPLE: dict[AttributeType, Callable[[StoredValue], StoredValue]] = {
    **dict.fromkeys(_INTEGERS + _INTEGERS_ALSO, _to_integer),
    AttributeType.DECIMAL: _to_decimal,
    AttributeType.MONEY: _to_decimal,
    AttributeType.DOUBLE: _to_double,
    AttributeType.BOOLEAN: _to_boolean,
    AttributeType.DATETIME: _to_datetime,
    AttributeType.UNIQUEIDENTIFIER: _to_guid,
}
