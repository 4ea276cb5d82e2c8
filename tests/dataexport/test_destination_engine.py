"""Creating destination engines: SQLite settings, pragma seam, relative paths (DES §1.7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from dataexport.destination.sql.destination import SqlDestination
from dataexport.destination.sql.engine import create_destination_engine, resolve_sqlite_url
from dataexport.destination.sql.urls import destination_url, mssql_driver
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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("postgresql://u:p@db:5432/rep?sslmode=require", "postgresql+psycopg://u:***@db:5432/rep?sslmode=require"),
        ("postgres://u:p@db/rep", "postgresql+psycopg://u:***@db/rep"),
        ("postgresql+psycopg2://u:p@db/rep", "postgresql+psycopg2://u:***@db/rep"),
        ("mysql://u:p@db:3306/rep", "mysql+pymysql://u:***@db:3306/rep?charset=utf8mb4"),
        ("mariadb://u:p@db/rep", "mariadb+pymysql://u:***@db/rep?charset=utf8mb4"),
        ("mysql://u:p@db/rep?charset=utf8", "mysql+pymysql://u:***@db/rep?charset=utf8"),
        ("mssql+pymssql://u:p@srv:1433/rep", "mssql+pymssql://u:***@srv:1433/rep"),
        ("sqlite:////var/lib/rep/rep.db", "sqlite:////var/lib/rep/rep.db"),
    ],
)
def test_connection_urls_get_the_driver_of_des_1_7(value: str, expected: str) -> None:
    assert destination_url(value).render_as_string(hide_password=True) == expected


def test_mssql_urls_and_ado_net_strings_pick_an_installed_driver() -> None:
    driver = mssql_driver()
    assert driver in ("pyodbc", "pymssql")
    assert destination_url("mssql://u:p@srv:1433/rep").drivername == f"mssql+{driver}"
    ado = destination_url(
        "Server=tcp:srv.database.windows.net,1433;Database=rep;User ID=u;Password=s3cret;Encrypt=True"
    )
    assert (ado.drivername, ado.host, ado.port, ado.database, ado.username, ado.password) == (
        f"mssql+{driver}",
        "srv.database.windows.net",
        1433,
        "rep",
        "u",
        "s3cret",
    )
    assert ado.query == {"encrypt": "True"}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("oracle://u:s3cret@db/rep", "'oracle' is not supported"),
        ("Server=tcp:srv,1433;User ID=u;Password=s3cret", "needs Server and Database"),
        ("just some text with s3cret", "neither a URL nor an ADO.NET string"),
        ("Server=srv;Database=rep;Password", "part without '='"),
    ],
)
def test_bad_connection_strings_name_the_problem_without_the_password(value: str, problem: str) -> None:
    with pytest.raises(UnsupportedDestination, match=problem) as caught:
        destination_url(value)
    assert "s3cret" not in str(caught.value)
