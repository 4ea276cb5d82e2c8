"""The DES §6.3 type table per dialect: the declared SQL type of each logical type and how values are bound.

Each dialect has one mapping from :class:`TypeKind` to a :class:`TypeRule` (``SQLITE_TYPES``,
``POSTGRESQL_TYPES``, ``MYSQL_TYPES``, ``MSSQL_TYPES``); :mod:`.dialects` picks one per engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import types as sa
from sqlalchemy.dialects import mssql, mysql, postgresql

from dataexport.domain.columns import DECIMAL_DIGITS, DEFAULT_PRECISION, LogicalType, TypeKind

SqlType = sa.TypeEngine[Any]
Encoder = Callable[[object], object]


def identity(value: object) -> object:
    """The encoder of values the driver binds as they are."""
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
    encode: Encoder = identity


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


def encode_utc_naive(value: object) -> object:
    """An aware datetime -> the same instant as a naive UTC datetime (``timestamp``/``datetime`` columns)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        utc = value if value.tzinfo is UTC else value.astimezone(UTC)
        return utc.replace(tzinfo=None)
    return value


def _string_or_text(limit: int) -> Callable[[LogicalType], SqlType]:
    def declare(logical: LogicalType) -> SqlType:
        length = logical.length or 0
        return sa.VARCHAR(length) if 0 < length <= limit else sa.TEXT()

    return declare


def _numeric(logical: LogicalType) -> SqlType:
    return sa.NUMERIC(DECIMAL_DIGITS, logical.precision if logical.precision is not None else DEFAULT_PRECISION)


def _decimal(logical: LogicalType) -> SqlType:
    return sa.DECIMAL(DECIMAL_DIGITS, logical.precision if logical.precision is not None else DEFAULT_PRECISION)


POSTGRESQL_TYPES: Mapping[TypeKind, TypeRule] = {
    TypeKind.STRING: TypeRule(lambda t: sa.VARCHAR(t.length)),
    TypeKind.TEXT: TypeRule(lambda _: sa.TEXT()),
    TypeKind.INTEGER: TypeRule(lambda _: sa.INTEGER()),
    TypeKind.BIGINT: TypeRule(lambda _: sa.BIGINT()),
    TypeKind.DECIMAL: TypeRule(_numeric),
    TypeKind.DATETIME: TypeRule(lambda _: postgresql.TIMESTAMP(precision=3), encode_utc_naive),
    TypeKind.BOOLEAN: TypeRule(lambda _: sa.BOOLEAN()),
    TypeKind.GUID: TypeRule(lambda _: postgresql.UUID(as_uuid=False)),
    TypeKind.IDENTITY: TypeRule(lambda _: sa.BIGINT()),
}

#: MySQL/MariaDB: strings up to this many characters may be ``varchar(n)`` (DES §6.3 note 1).
MYSQL_VARCHAR_LIMIT = 255

MYSQL_TYPES: Mapping[TypeKind, TypeRule] = {
    TypeKind.STRING: TypeRule(_string_or_text(MYSQL_VARCHAR_LIMIT)),
    TypeKind.TEXT: TypeRule(lambda _: mysql.LONGTEXT()),
    TypeKind.INTEGER: TypeRule(lambda _: sa.INTEGER()),
    TypeKind.BIGINT: TypeRule(lambda _: sa.BIGINT()),
    TypeKind.DECIMAL: TypeRule(_decimal),
    TypeKind.DATETIME: TypeRule(lambda _: mysql.DATETIME(fsp=3), encode_utc_naive),
    TypeKind.BOOLEAN: TypeRule(lambda _: mysql.TINYINT(1), _encode_bool_as_int),
    TypeKind.GUID: TypeRule(lambda _: sa.CHAR(36)),
    TypeKind.IDENTITY: TypeRule(lambda _: sa.BIGINT()),
}

#: SQL Server: ``nvarchar(n)`` up to this length, ``nvarchar(max)`` beyond (DES §6.3).
MSSQL_NVARCHAR_LIMIT = 4000


def _nvarchar(logical: LogicalType) -> SqlType:
    length = logical.length or 0
    return sa.NVARCHAR(length) if 0 < length <= MSSQL_NVARCHAR_LIMIT else sa.NVARCHAR()


MSSQL_TYPES: Mapping[TypeKind, TypeRule] = {
    TypeKind.STRING: TypeRule(_nvarchar),
    TypeKind.TEXT: TypeRule(lambda _: sa.NVARCHAR()),
    TypeKind.INTEGER: TypeRule(lambda _: sa.INTEGER()),
    TypeKind.BIGINT: TypeRule(lambda _: sa.BIGINT()),
    TypeKind.DECIMAL: TypeRule(_decimal),
    TypeKind.DATETIME: TypeRule(lambda _: mssql.DATETIME(), encode_utc_naive),
    TypeKind.BOOLEAN: TypeRule(lambda _: mssql.BIT()),
    TypeKind.GUID: TypeRule(lambda _: mssql.UNIQUEIDENTIFIER(as_uuid=False)),
    TypeKind.IDENTITY: TypeRule(lambda _: sa.BIGINT()),
}
