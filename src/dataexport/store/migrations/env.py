"""Alembic environment of the control database.

At runtime :func:`dataexport.store.migrate.upgrade_to_head` passes an open connection (already holding the
migration lock) in ``config.attributes["connection"]``. For developers writing a new revision, an ``alembic``
command line with ``sqlalchemy.url`` set works too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from dataexport.store.engine import create_control_engine
from dataexport.store.models import Base


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table instead
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    """Run the migrations Alembic selected, on the given connection or on ``sqlalchemy.url``."""
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _migrate(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("No control database: pass a connection or set sqlalchemy.url")
    engine = create_control_engine(url)
    try:
        with engine.begin() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


run()
