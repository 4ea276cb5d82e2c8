"""Migrations of the control database: from empty to head, idempotent, concurrent, matching the models."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from test_store_support import MovableClock

from dataexport.store import ControlDatabaseBusy, ControlStore, SyncKey, open_store
from dataexport.store.engine import create_control_engine
from dataexport.store.migrate import alembic_config, current_revision, head_revision, upgrade_to_head
from dataexport.store.models import Base

pytest_plugins = ["test_store_support"]

TABLES = {
    "organizations",
    "profiles",
    "entity_states",
    "leases",
    "tombstones",
    "retry_queue",
    "failed_records",
    "failure_ledger",
    "seen_ids",
    "throttle_identities",
    "resync_runs",
    "throttle_buckets",
}


def test_migrates_an_empty_database_to_head(control_db_url: str) -> None:
    engine = create_control_engine(control_db_url)
    try:
        assert current_revision(engine) is None
        upgrade_to_head(engine)
        assert current_revision(engine) == head_revision()
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_opening_again_is_a_no_op_and_keeps_data(control_db_url: str, store_clock: MovableClock) -> None:
    with open_store(control_db_url, clock=store_clock) as first:
        first.states.ensure(SyncKey("p", "account"))
    with open_store(control_db_url, clock=store_clock) as second:
        assert second.states.load(SyncKey("p", "account")) is not None
        assert current_revision(second.database.engine) == head_revision()


def test_models_match_the_migrated_schema(control_store: ControlStore) -> None:
    with control_store.database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_and_upgrade_again(control_db_url: str) -> None:
    engine = create_control_engine(control_db_url)
    try:
        upgrade_to_head(engine)
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade_to_head(engine)
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_two_processes_starting_at_once_both_open_the_store(control_db_url: str, store_clock: MovableClock) -> None:
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            open_store(control_db_url, clock=store_clock).close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    engine = create_control_engine(control_db_url)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()


def test_unreachable_postgresql_is_reported_as_busy(store_clock: MovableClock) -> None:
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    with pytest.raises(ControlDatabaseBusy, match="busy or unreachable"):
        open_store("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2", clock=store_clock)


def test_migrations_ship_inside_the_package() -> None:
    config = alembic_config()
    location = Path(config.get_main_option("script_location") or "")
    assert (location / "env.py").is_file()
    assert location.parent.name == "store"
    assert head_revision() == "0002"
