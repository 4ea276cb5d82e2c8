"""Destination object names (DES §6.1): validation, prefix, per-engine spelling and identifier truncation.

Every identifier is validated here (letters, digits, underscore) and later always quoted, so no name
from a profile or from Dataverse metadata can change the meaning of a statement.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from dataexport.errors import InvalidIdentifier

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]+$")
_HASH_LENGTH = 8
_SUFFIX_LENGTH = _HASH_LENGTH + 1  # "_" + 8 hex characters

METADATA_TABLES = (
    "OptionSetMetadata",
    "GlobalOptionSetMetadata",
    "StateMetadata",
    "StatusMetadata",
    "TargetMetadata",
    "AttributeMetadata",
)
DELETE_LOG = "DeleteLog"
SEEN_SUFFIX = "SeenIds"


def validate_identifier(value: str, what: str) -> str:
    """Return ``value`` if it is made of letters, digits and underscores only.

    Raises:
        InvalidIdentifier: otherwise, naming ``what`` (e.g. ``"TablePrefix"``) and the rule.
    """
    if not _IDENTIFIER.match(value):
        raise InvalidIdentifier(f"{what} '{value}' is invalid: use letters, digits and underscores only")
    return value


def fit_identifier(name: str, limit: int | None) -> str:
    """``name`` cut to ``limit - 9`` characters plus ``_`` and 8 hex of its SHA-1 when over ``limit``."""
    if limit is None or len(name.encode()) <= limit:
        return name
    digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:_HASH_LENGTH]
    return f"{name[: limit - _SUFFIX_LENGTH]}_{digest}"


@dataclass(frozen=True, slots=True)
class Naming:
    """How one profile names its destination objects on one engine.

    Attributes:
        prefix: the table prefix, lowercased ("" for none).
        schema: the schema objects live in, or None where the engine has none (SQLite).
        max_identifier_length: the engine's limit, None for none.
        fold_lowercase: spell every name in lowercase (PostgreSQL); otherwise the DES spelling.
    """

    prefix: str = ""
    schema: str | None = None
    max_identifier_length: int | None = None
    fold_lowercase: bool = False

    @classmethod
    def create(
        cls,
        prefix: str,
        schema: str | None,
        *,
        max_identifier_length: int | None = None,
        fold_lowercase: bool = False,
    ) -> Naming:
        """Validate ``prefix`` and ``schema`` and build the naming (the prefix is lowercased)."""
        if prefix:
            validate_identifier(prefix, "TablePrefix")
        if schema is not None:
            validate_identifier(schema, "SchemaName")
        return cls(prefix.lower(), schema, max_identifier_length, fold_lowercase)

    def _spell(self, name: str) -> str:
        name = name.lower() if self.fold_lowercase else name
        return fit_identifier(name, self.max_identifier_length)

    def _prefixed(self, name: str) -> str:
        return f"{self.prefix}_{name}" if self.prefix else name

    def entity_table(self, logical_name: str) -> str:
        """``<prefix>_<logicalname>`` (also for intersect entities)."""
        return self._spell(self._prefixed(validate_identifier(logical_name, "Entity name")))

    def fixed_table(self, des_name: str) -> str:
        """A metadata table or ``DeleteLog``: ``<prefix>_OptionSetMetadata``..."""
        return self._spell(self._prefixed(des_name))

    def seen_table(self, logical_name: str) -> str:
        """The re-baseline seen-set staging table: ``<prefix>_<logicalname>SeenIds``."""
        return self._spell(self._prefixed(validate_identifier(logical_name, "Entity name") + SEEN_SUFFIX))

    def column(self, name: str) -> str:
        """A column name (attribute logical name or DES system column)."""
        return self._spell(validate_identifier(name, "Column name"))

    def primary_key(self, table: str) -> str:
        """The primary-key constraint name of an entity table: ``pk_<table>``."""
        return self._spell(f"pk_{table}")
