"""Opening the control database: URL handling, connection settings, migrations from empty to head."""

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
from dataexport.store.engine import control_url, create_control_engine
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
    "throttle_buckets",
}


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u:p@db:5432/control", "postgresql+psycopg"),
        ("postgres://u@db/control", "postgresql+psycopg"),
        ("postgresql+psycopg2://u@db/control", "postgresql+psycopg2"),
        ("sqlite:////var/lib/control.db", "sqlite"),
    ],
)
def test_control_url_picks_the_driver(url: str, driver: str) -> None:
    assert control_url(url).drivername == driver


@pytest.mark.parametrize("url", ["mysql://u@db/control", "mssql+pyodbc://u@db/control", "oracle://db"])
def test_control_url_refuses_other_databases(url: str) -> None:
    with pytest.raises(ValueError, match="use sqlite or postgresql"):
        control_url(url)


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = create_control_engine(f"sqlite:///{tmp_path / 'new' / 'folder' / 'control.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        engine.dispose()
    assert (tmp_path / "new" / "folder" / "control.db").exists()


def test_migrates_an_empty_database_to_head(control_db_url: str) -> None:
    engine = create_control_engine(control_db_url)
    try:
        assert current_revision(engine) is None
        upgrade_to_head(engine)
        assert current_revision(engine) == head_revision()
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_opening_again_is_a_no_op_and_keeps_data(control_db_url: str, clock: MovableClock) -> None:
    with open_store(control_db_url, clock=clock) as first:
        first.states.ensure(SyncKey("p", "account"))
    with open_store(control_db_url, clock=clock) as second:
        assert second.states.load(SyncKey("p", "account")) is not None
        assert current_revision(second.database.engine) == head_revision()


def test_models_match_the_migrated_schema(store: ControlStore) -> None:
    with store.database.engine.connect() as connection:
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


def test_two_processes_starting_at_once_both_open_the_store(control_db_url: str, clock: MovableClock) -> None:
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            open_store(control_db_url, clock=clock).close()
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


def test_unreachable_postgresql_is_reported_as_busy(clock: MovableClock) -> None:
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    with pytest.raises(ControlDatabaseBusy, match="busy or unreachable"):
        open_store("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2", clock=clock)


def test_migrations_ship_inside_the_package() -> None:
    config = alembic_config()
    location = Path(config.get_main_option("script_location") or "")
    assert (location / "env.py").is_file()
    assert location.parent.name == "store"
    assert head_revision() == "0001"
