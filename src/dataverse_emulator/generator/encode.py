"""Storage forms of attribute values, and the numeric ranges an attribute allows.

Storage forms (what the emulator's storage layer keeps per attribute type):

* String, Memo, EntityName: ``str`` no longer than ``MaxLength``;
* MultiSelectPicklist: ``"1,3"`` (option values ascending, comma-joined);
* Integer, BigInt, Picklist, State, Status: ``int``;
* Decimal, Money: ``str`` decimal text with exactly ``Precision`` fraction digits (``"1250000.00"``);
* Double: ``float`` rounded to ``Precision``;
* Boolean: ``bool``;
* DateTime: ``"2024-05-02T08:15:00Z"``, or ``"2024-05-02"`` with the DateOnly behaviour;
* Uniqueidentifier: lower-case GUID ``str``;
* Lookup, Customer, Owner: ``[target logical name, guid]``.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from dataverse_emulator.catalog.model import AttributeDef, AttributeType, DateTimeBehavior

#: A value in storage form (see the module docstring).
StorageValue = str | int | float | bool | list[str]

#: Default precision when the catalog leaves ``Precision`` unset (Dataverse's defaults).
_DEFAULT_PRECISION = {AttributeType.DECIMAL: 2, AttributeType.MONEY: 2, AttributeType.DOUBLE: 2}

#: Where values usually fall when the attribute allows a much wider range.
_USUAL_RANGE: dict[AttributeType, tuple[float, float]] = {
    AttributeType.INTEGER: (0, 10_000),
    AttributeType.BIGINT: (0, 10**12),
    AttributeType.DECIMAL: (0, 100_000),
    AttributeType.MONEY: (0, 1_000_000),
    AttributeType.DOUBLE: (0, 1_000),
}
_TYPE_LIMITS: dict[AttributeType, tuple[float, float]] = {
    AttributeType.INTEGER: (-(2**31), 2**31 - 1),
    AttributeType.BIGINT: (-(2**63), 2**63 - 1),
}


def precision_of(attribute: AttributeDef) -> int:
    """The attribute's precision (fraction digits), with Dataverse's defaults when unset."""
    if attribute.precision is not None:
        return attribute.precision
    return _DEFAULT_PRECISION.get(attribute.type, 0)


def allowed_range(attribute: AttributeDef) -> tuple[float, float]:
    """``(MinValue, MaxValue)``, each falling back to the type's limit, then to ±1e15."""
    low, high = _TYPE_LIMITS.get(attribute.type, (-1e15, 1e15))
    if attribute.min_value is not None:
        low = attribute.min_value
    if attribute.max_value is not None:
        high = attribute.max_value
    return low, high


def value_range(attribute: AttributeDef, usual: tuple[float, float] | None = None) -> tuple[float, float]:
    """The range to draw from: ``usual`` (or the type's usual range) clipped to what the attribute allows.

    Falls back to the allowed range when the two do not overlap.
    """
    low, high = allowed_range(attribute)
    usual_low, usual_high = usual or _USUAL_RANGE.get(attribute.type, (low, high))
    clipped = (max(low, usual_low), min(high, usual_high))
    return clipped if clipped[0] <= clipped[1] else (low, high)


def _units(bound: float, places: int, rounding: str) -> int:
    scaled = Decimal(repr(bound)).scaleb(places)
    return int(scaled.to_integral_value(rounding=rounding))


def unit_bounds(attribute: AttributeDef, low: float, high: float) -> tuple[int, int]:
    """``low``/``high`` as whole multiples of 10^-precision, rounded inwards."""
    places = precision_of(attribute)
    return _units(low, places, "ROUND_CEILING"), _units(high, places, "ROUND_FLOOR")


def decimal_text(attribute: AttributeDef, value: Decimal) -> str:
    """``value`` quantized to the attribute's precision and clamped into its allowed range."""
    places = precision_of(attribute)
    low, high = (Decimal(u).scaleb(-places) for u in unit_bounds(attribute, *allowed_range(attribute)))
    quantized = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return f"{min(max(quantized, low), high):f}"


def units_text(attribute: AttributeDef, units: int) -> str:
    """Decimal text of ``units`` times 10^-precision."""
    return f"{Decimal(units).scaleb(-precision_of(attribute)):f}"


def units_float(attribute: AttributeDef, units: int) -> float:
    """``units`` times 10^-precision as the nearest float."""
    places = precision_of(attribute)
    return round(float(Decimal(units).scaleb(-places)), places)


def random_int(attribute: AttributeDef, rng: random.Random, usual: tuple[float, float] | None = None) -> int:
    low, high = value_range(attribute, usual)
    return rng.randint(math.ceil(low), math.floor(high))


def datetime_text(attribute: AttributeDef, moment: datetime) -> str:
    """A DateTime value: date only for the DateOnly behaviour, else UTC whole seconds with ``Z``."""
    if attribute.datetime_behavior is DateTimeBehavior.DATE_ONLY:
        return moment.date().isoformat()
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def random_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A whole-second instant in ``[start, end]``."""
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randint(0, max(span, 0)))


def truncate(attribute: AttributeDef, text: str) -> str | None:
    """``text`` cut to ``MaxLength`` (trailing spaces dropped); ``None`` when nothing is left."""
    if attribute.max_length is not None and len(text) > attribute.max_length:
        text = text[: attribute.max_length].rstrip()
    return text or None


def encode_fixed(attribute: AttributeDef, value: object) -> StorageValue | None:
    """A fixed value (identity rows) in storage form: strings truncated, decimals quantized."""
    if isinstance(value, Decimal):
        if attribute.type in (AttributeType.DECIMAL, AttributeType.MONEY):
            return decimal_text(attribute, value)
        return None
    if isinstance(value, str):
        return truncate(attribute, value)
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    return None
