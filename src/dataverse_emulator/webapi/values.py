"""Converting written JSON values to storage form, with Dataverse's validation (spec §5, §2.6).

Every written property goes through :func:`to_storage`, which returns the storage form or raises the
400 Dataverse answers with (``0x80044331`` for validation failures).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from dataverse_emulator.catalog.model import AttributeDef, AttributeType, Catalog, DateTimeBehavior, TableDef
from dataverse_emulator.errors import WebApiError
from dataverse_emulator.storage import StoredValue, utc_text

VALIDATION = "0x80044331"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT_RANGE = {AttributeType.INTEGER: (-(2**31), 2**31 - 1), AttributeType.BIGINT: (-(2**63), 2**63 - 1)}
_STRING_TYPES = frozenset({AttributeType.STRING, AttributeType.MEMO, AttributeType.ENTITYNAME})
_OPTION_TYPES = frozenset({AttributeType.PICKLIST, AttributeType.STATE, AttributeType.STATUS})


def invalid(table: TableDef, attribute: AttributeDef, detail: str) -> WebApiError:
    return WebApiError(
        400,
        VALIDATION,
        f"A validation error occurred. The value of '{attribute.logical_name}' on record of type "
        f"'{table.logical_name}' is invalid: {detail}",
    )


def wrong_type(table: TableDef, attribute: AttributeDef, value: object) -> WebApiError:
    return WebApiError(
        400,
        "0x0",
        f"Cannot convert the literal '{value}' to the expected type of '{attribute.logical_name}' "
        f"({attribute.type.value}) on type 'Microsoft.Dynamics.CRM.{table.logical_name}'.",
    )


def parse_guid(text: object) -> str | None:
    try:
        return str(uuid.UUID(str(text)))
    except ValueError:
        return None


def to_storage(catalog: Catalog, table: TableDef, attribute: AttributeDef, value: object) -> StoredValue:
    """The storage form of a written value (``None`` clears the column)."""
    if value is None:
        return None
    kind = attribute.type
    if kind in _STRING_TYPES or (kind is AttributeType.VIRTUAL and not attribute.is_multiselect):
        return _string(table, attribute, value)
    if attribute.is_multiselect:
        return _multiselect(catalog, table, attribute, value)
    if kind in _INT_RANGE:
        return _integer(table, attribute, value)
    if kind in _OPTION_TYPES:
        return _option(catalog, table, attribute, value)
    if kind in (AttributeType.DECIMAL, AttributeType.MONEY):
        return _decimal(table, attribute, value)
    if kind is AttributeType.DOUBLE:
        number = _number(table, attribute, value)
        return round(float(number), attribute.precision if attribute.precision is not None else 2)
    if kind is AttributeType.BOOLEAN:
        if not isinstance(value, bool):
            raise wrong_type(table, attribute, value)
        return value
    if kind is AttributeType.DATETIME:
        return _datetime(table, attribute, value)
    if kind is AttributeType.UNIQUEIDENTIFIER:
        guid = parse_guid(value)
        if guid is None:
            raise wrong_type(table, attribute, value)
        return guid
    raise WebApiError(
        400, "0x0", f"The attribute '{attribute.logical_name}' of '{table.logical_name}' cannot be written."
    )


def _string(table: TableDef, attribute: AttributeDef, value: object) -> str:
    if not isinstance(value, str):
        raise wrong_type(table, attribute, value)
    limit = attribute.max_length
    if limit is not None and len(value) > limit:
        raise WebApiError(
            400,
            VALIDATION,
            f"A validation error occurred. The length of the '{attribute.logical_name}' attribute of the "
            f"'{table.logical_name}' entity exceeded the maximum allowed length of '{limit}'.",
        )
    return value


def _number(table: TableDef, attribute: AttributeDef, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise wrong_type(table, attribute, value)
    try:
        number = Decimal(str(value))
    except InvalidOperation as error:
        raise wrong_type(table, attribute, value) from error
    if not number.is_finite():
        raise wrong_type(table, attribute, value)
    low, high = attribute.min_value, attribute.max_value
    if (low is not None and number < Decimal(str(low))) or (high is not None and number > Decimal(str(high))):
        raise invalid(table, attribute, f"{value} is outside the range {low}..{high}")
    return number


def _integer(table: TableDef, attribute: AttributeDef, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(table, attribute, value)
    low, high = _INT_RANGE[attribute.type]
    if not low <= value <= high:
        raise invalid(table, attribute, f"{value} is out of range")
    _number(table, attribute, value)
    return value


def _decimal(table: TableDef, attribute: AttributeDef, value: object) -> str:
    number = _number(table, attribute, value)
    precision = attribute.precision if attribute.precision is not None else 2
    return str(number.quantize(Decimal(1).scaleb(-precision)))


def _option(catalog: Catalog, table: TableDef, attribute: AttributeDef, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(table, attribute, value)
    option_set = catalog.option_set_of(attribute)
    if option_set is not None and option_set.options and all(o.value != value for o in option_set.options):
        raise invalid(table, attribute, f"{value} is not a valid option")
    return value


def _multiselect(catalog: Catalog, table: TableDef, attribute: AttributeDef, value: object) -> str | None:
    if not isinstance(value, str):
        raise wrong_type(table, attribute, value)
    parts = [p.strip() for p in value.split(",") if p.strip()]
    try:
        numbers = sorted({int(p) for p in parts})
    except ValueError as error:
        raise wrong_type(table, attribute, value) from error
    option_set = catalog.option_set_of(attribute)
    allowed = {o.value for o in option_set.options} if option_set else set(numbers)
    if not set(numbers) <= allowed:
        raise invalid(table, attribute, f"{value} contains an unknown option")
    return ",".join(str(n) for n in numbers) or None


def _datetime(table: TableDef, attribute: AttributeDef, value: object) -> str:
    if not isinstance(value, str):
        raise wrong_type(table, attribute, value)
    date_only = attribute.datetime_behavior is DateTimeBehavior.DATE_ONLY
    if _DATE.match(value):
        moment = datetime.fromisoformat(value).replace(tzinfo=UTC)
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as error:
            raise wrong_type(table, attribute, value) from error
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    if date_only:
        return moment.astimezone(UTC).strftime("%Y-%m-%d")
    return utc_text(moment)
