"""Control database connections: URL to driver, SQLite settings, and how concurrent processes share a file."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from test_store_support import MovableClock

from dataexport.store import ControlDatabaseBusy, ControlStore, SyncKey, open_store
from dataexport.store.engine import control_url, create_control_engine

pytest_plugins = ["test_store_support"]


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


def test_an_in_memory_store_works(store_clock: MovableClock) -> None:
    with open_store("sqlite://", clock=store_clock) as control_store:
        assert control_store.states.ensure(SyncKey("p", "account")).revision == 1


def test_a_long_read_does_not_block_another_processs_writes(
    control_store: ControlStore, other_control_store: ControlStore
) -> None:
    with control_store.database.read() as session:
        session.connection()  # the read transaction is open from here
        other_control_store.states.ensure(SyncKey("p", "account"))
        other_control_store.seen.record(SyncKey("p", "account"), ["a", "b"])
    assert control_store.seen.count(SyncKey("p", "account")) == 2


def test_a_writer_waits_for_the_lock_then_reports_busy(tmp_path: Path, store_clock: MovableClock) -> None:
    url = f"sqlite:///{tmp_path / 'control.db'}"
    with (
        open_store(url, clock=store_clock) as holder,
        open_store(url, clock=store_clock, busy_timeout=timedelta(milliseconds=200)) as waiter,
    ):
        with holder.database.write() as session:
            session.connection()  # BEGIN IMMEDIATE: the write lock is held from here
            with pytest.raises(ControlDatabaseBusy, match="locked"):
                waiter.states.ensure(SyncKey("p", "account"))
        assert waiter.states.ensure(SyncKey("p", "account")).revision == 1


def test_a_writer_waiting_within_the_timeout_goes_through(tmp_path: Path, store_clock: MovableClock) -> None:
    url = f"sqlite:///{tmp_path / 'control.db'}"
    with open_store(url, clock=store_clock) as holder, open_store(url, clock=store_clock) as waiter:
        locked, done = threading.Event(), threading.Event()

        def hold_briefly() -> None:
            with holder.database.write() as session:
                session.connection()
                locked.set()
                done.wait(0.3)

        thread = threading.Thread(target=hold_briefly)
        thread.start()
        locked.wait(5)
        waiter.states.ensure(SyncKey("p", "account"))  # waits for the holder's commit instead of failing
        thread.join(5)
        assert holder.states.load(SyncKey("p", "account")) is not None
