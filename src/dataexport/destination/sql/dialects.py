"""One :class:`SqlDialect` per database family: capabilities, type table, statements and error table.

The destination code is dialect-agnostic; it asks the dialect. Adding an engine means adding one entry to
:data:`DIALECTS` built from its type table (:mod:`.types`), its upsert statement (:mod:`.writes`) and its
error table (:mod:`.classification`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from dataexport.destination.base import Capabilities
from dataexport.destination.sql.classification import ErrorClass, classify_sqlite
from dataexport.destination.sql.naming import Naming
from dataexport.destination.sql.types import SQLITE_TYPES, Encoder, SqlType, TypeRule
from dataexport.destination.sql.writes import UpsertBuilder, sqlite_upsert
from dataexport.domain.columns import LogicalType, TypeKind
from dataexport.errors import UnsupportedDestination


@dataclass(frozen=True, slots=True)
class SqlDialect:
    """Everything dialect-specific the SQL destination needs."""

    capabilities: Capabilities
    types: Mapping[TypeKind, TypeRule]
    upsert: UpsertBuilder
    classify: Callable[[DBAPIError], ErrorClass]
    fold_lowercase: bool = False
    add_column_keyword: str = "ADD COLUMN"
    #: ``str.format`` template with ``{table}``, ``{column}``, ``{type}``; None where types have no length.
    alter_column_sql: str | None = None

    def declare(self, logical: LogicalType) -> SqlType:
        """The SQLAlchemy type declared for ``logical``."""
        return self.types[logical.kind].declare(logical)

    def encoder(self, logical: LogicalType) -> Encoder:
        """How a Python value of ``logical`` is bound."""
        return self.types[logical.kind].encode

    def naming(self, table_prefix: str, schema_name: str | None) -> Naming:
        """The object naming of a profile on this dialect (the schema is dropped where unsupported)."""
        schema = schema_name if self.capabilities.schemas else None
        return Naming.create(
            table_prefix,
            schema,
            max_identifier_length=self.capabilities.max_identifier_length,
            fold_lowercase=self.fold_lowercase,
        )


def classify_sqlite_error(error: DBAPIError) -> ErrorClass:
    """Classify a wrapped ``sqlite3`` error by its result code."""
    code = getattr(error.orig, "sqlite_errorcode", None)
    return classify_sqlite(code if isinstance(code, int) else None, connection_lost=error.connection_invalidated)


SQLITE = SqlDialect(
    capabilities=Capabilities(
        dialect="sqlite",
        transactional_ddl=True,
        schemas=False,
        seen_set_table=True,
        widens_columns=False,
    ),
    types=SQLITE_TYPES,
    upsert=sqlite_upsert,
    classify=classify_sqlite_error,
)

DIALECTS: Mapping[str, SqlDialect] = {"sqlite": SQLITE}


def dialect_of(engine: Engine) -> SqlDialect:
    """The dialect entry for ``engine``.

    Raises:
        UnsupportedDestination: no entry for the engine's dialect.
    """
    name = engine.dialect.name
    if name not in DIALECTS:
        raise UnsupportedDestination(f"Destination engine '{name}' is not supported yet")
    return DIALECTS[name]
