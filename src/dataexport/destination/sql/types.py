"""The DES §6.3 type table per dialect: the declared SQL type of each logical type and how values are bound.

Each dialect is one row of :data:`TYPE_TABLES`: a mapping from :class:`TypeKind` to a :class:`TypeRule`.
Adding PostgreSQL, MySQL/MariaDB or SQL Server means adding their mappings here, as data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import types as sa

from dataexport.domain.columns import LogicalType, TypeKind

SqlType = sa.TypeEngine[Any]
Encoder = Callable[[object], object]


def _identity(value: object) -> object:
    return value


def encode_sqlite_datetime(value: object) -> object:
    """An aware datetime -> ``YYYY-MM-DD HH:MM:SS.fff`` in UTC (DES §6.3 SQLite column)."""
    if not isinstance(value, datetime):
        return value
    utc = value.astimezone(UTC) if value.tzinfo else value
    return utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d}"


def decode_sqlite_datetime(text: str) -> datetime:
    """The inverse of :func:`encode_sqlite_datetime` (aware UTC)."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)


def _encode_decimal_as_text(value: object) -> object:
    # sqlite3 cannot bind Decimal; its text form keeps every digit up to SQLite's NUMERIC conversion.
    return format(value, "f") if isinstance(value, Decimal) else value


def _encode_bool_as_int(value: object) -> object:
    return int(value) if isinstance(value, bool) else value


@dataclass(frozen=True, slots=True)
class TypeRule:
    """How one logical type is declared and bound on one dialect."""

    declare: Callable[[LogicalType], SqlType]
    encode: Encoder = _identity


SQLITE_TYPES: Mapping[TypeKind, TypeRule] = {
    TypeKind.STRING: TypeRule(lambda _: sa.TEXT()),
    TypeKind.TEXT: TypeRule(lambda _: sa.TEXT()),
    TypeKind.INTEGER: TypeRule(lambda _: sa.INTEGER()),
    TypeKind.BIGINT: TypeRule(lambda _: sa.INTEGER()),
    TypeKind.DECIMAL: TypeRule(lambda _: sa.NUMERIC(), _encode_decimal_as_text),
    TypeKind.DATETIME: TypeRule(lambda _: sa.TEXT(), encode_sqlite_datetime),
    TypeKind.BOOLEAN: TypeRule(lambda _: sa.INTEGER(), _encode_bool_as_int),
    TypeKind.GUID: TypeRule(lambda _: sa.TEXT()),
    TypeKind.IDENTITY: TypeRule(lambda _: sa.INTEGER()),
}

TYPE_TABLES: Mapping[str, Mapping[TypeKind, TypeRule]] = {"sqlite": SQLITE_TYPES}
