"""Fixtures of the control-store suites, loaded by each ``test_store_*`` module through ``pytest_plugins``.

Fixture names carry ``store``/``control`` so that they never collide with other suites' fixtures.

Every store test runs on SQLite (a real file in ``tmp_path``) and on PostgreSQL when it is reachable: one
database is created per test session (``CREATE DATABASE``, dropped at the end) and each test gets its own
schema in it, so migrations always start from empty. Set ``DATAEXPORT_TEST_POSTGRES_URL`` to the
maintenance database of another server (default ``postgresql://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from dataexport.store import ControlStore, EntityState, SyncKey, open_store
from dataexport.store.engine import control_url

DIALECTS = ("sqlite", "postgresql")
POSTGRES_ADMIN_URL = os.environ.get("DATAEXPORT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
START = datetime(2025, 3, 7, 14, 5, 9, tzinfo=UTC)


class MovableClock:
    """A clock tests move by hand; shared by every store of a test, like the wall clock of one machine."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move forward and return the new time."""
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture(scope="session")
def store_postgres_database() -> Iterator[str]:
    """URL of a database created for this test session; skips when PostgreSQL cannot be used."""
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("psycopg is not installed: the PostgreSQL control-store tests are skipped")
    admin = create_engine(control_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    name = f"dataexport_store_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {str(error.orig).splitlines()[0]}")
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=DIALECTS)
def store_dialect(request: pytest.FixtureRequest) -> str:
    """The control database dialect of the test."""
    return str(request.param)


@pytest.fixture
def control_db_url(store_dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty control database: a SQLite file, or a fresh schema of the session's PostgreSQL database."""
    if store_dialect == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'control.db'}"
        return
    database = request.getfixturevalue("store_postgres_database")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(control_url(database), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            make_url(database)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store_clock() -> MovableClock:
    """The tests' clock, starting at :data:`START`."""
    return MovableClock()


@pytest.fixture
def control_store(control_db_url: str, store_clock: MovableClock) -> Iterator[ControlStore]:
    """A migrated control store."""
    with open_store(control_db_url, clock=store_clock) as opened:
        yield opened


@pytest.fixture
def other_control_store(
    control_store: ControlStore, control_db_url: str, store_clock: MovableClock
) -> Iterator[ControlStore]:
    """A second store on the same database with its own engine and connections: another process."""
    with open_store(control_db_url, clock=store_clock) as opened:
        yield opened


def loaded(control_store: ControlStore, key: SyncKey) -> EntityState:
    """The stored state of ``key``, which the test expects to exist."""
    state = control_store.states.load(key)
    assert state is not None, f"no sync state for {key}"
    return state
