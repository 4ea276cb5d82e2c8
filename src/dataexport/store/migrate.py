"""Bring the control database to the newest schema, from empty or from any older revision.

No ``alembic.ini`` is needed: the Alembic configuration is built here and points at the migrations packaged
next to this module. Two processes starting at once are serialized by a lock held for the whole upgrade
(SQLite: the write lock of ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-level advisory lock), and the
schema changes commit in that same transaction, so the second process finds the head already applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS_DIR: Final = Path(__file__).with_name("migrations")
#: Key of the PostgreSQL advisory lock that serializes upgrades ("dataexport" as an integer).
ADVISORY_LOCK_KEY: Final = 0x6461746165787074


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of the control database, optionally bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the package ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"No migration found under {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    """Apply every missing migration in one locked transaction. Idempotent; safe to run concurrently.

    Raises:
        sqlalchemy.exc.DBAPIError: the database refused a migration (nothing was committed).
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        command.upgrade(alembic_config(connection), "head")
