"""Creating destination engines: SQLite settings, pragma seam, relative paths (DES §1.7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from dataexport.destination.sql.destination import SqlDestination
from dataexport.destination.sql.engine import create_destination_engine, resolve_sqlite_url
from dataexport.errors import UnsupportedDestination


def test_sqlite_connections_get_wal_busy_timeout_and_no_foreign_keys(tmp_path: Path) -> None:
    engine = create_destination_engine(f"sqlite:///{tmp_path / 'rep.db'}", busy_timeout_ms=1234)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 1234
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 0
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


def test_extra_pragmas_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Invalid SQLite pragma"):
        create_destination_engine(f"sqlite:///{tmp_path / 'rep.db'}", sqlite_pragmas={"cache_size": "1; DROP"})


def test_relative_sqlite_paths_resolve_against_the_data_directory(tmp_path: Path) -> None:
    assert resolve_sqlite_url("sqlite:///rep.db", tmp_path) == f"sqlite:///{tmp_path / 'rep.db'}"
    assert resolve_sqlite_url("sqlite:////var/lib/rep.db", tmp_path) == "sqlite:////var/lib/rep.db"
    assert resolve_sqlite_url("sqlite://", tmp_path) == "sqlite://"
    assert resolve_sqlite_url("postgresql://u:p@h/rep", tmp_path) == "postgresql://u:p@h/rep"


def test_an_engine_without_a_dialect_entry_is_refused() -> None:
    engine = create_destination_engine("sqlite://")
    engine.dialect.name = "oracle"  # an engine SQLAlchemy knows but the destination has no entry for
    with pytest.raises(UnsupportedDestination, match="'oracle' is not supported yet"):
        SqlDestination(engine)
