"""Destination inspection (DES §5 checks 7-13): identities, object clashes on every real engine, grant parsing
and the SQL Server statements (compiled text only: no SQL Server runs here)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from test_destination_servers import plain_connection, server_url, unique_prefix

from dataexport.destination.sql import inspection
from dataexport.destination.sql.inspection import ObjectReport, WantedTable
from dataexport.domain.checks import DestinationIdentity
from dataexport.errors import InvalidIdentifier, UnsupportedDestination


def test_identity_has_server_database_schema_and_prefix_but_no_login(tmp_path: Path) -> None:
    cases = {
        "postgresql://u:Secret1@DB.Example.com/rep": ("postgresql", "db.example.com", 5432, "rep", "dbo"),
        "mariadb://u:Secret1@10.0.0.5:3307/rep": ("mysql", "10.0.0.5", 3307, "rep", "rep"),
        "mssql://u:Secret1@sql.example.com/rep": ("mssql", "sql.example.com", 1433, "rep", "dbo"),
        "Server=tcp:srv.database.windows.net,1433;Database=rep;User ID=u;Password=Secret1;Encrypt=True": (
            "mssql",
            "srv.database.windows.net",
            1433,
            "rep",
            "dbo",
        ),
    }
    for connection_string, (engine, host, port, database, namespace) in cases.items():
        identity = inspection.identity_of(connection_string, "dbo", "CRM", tmp_path)
        assert identity == DestinationIdentity(engine, host, port, database, namespace, "crm"), connection_string
        assert "Secret1" not in repr(identity) and "Secret1" not in identity.describe()


def test_identity_of_sqlite_is_the_absolute_file_and_mysql_schema_names_a_database(tmp_path: Path) -> None:
    sqlite = inspection.identity_of("sqlite:///rep.db", "dbo", "", tmp_path)
    mysql = inspection.identity_of("mysql://u:p@h/rep", "Reporting", "x", tmp_path)

    assert sqlite == DestinationIdentity("sqlite", None, None, str((tmp_path / "rep.db").resolve()), None, "")
    assert mysql.namespace == "Reporting" and mysql.database == "rep"
    assert sqlite.describe().endswith("no prefix")


def test_unsupported_strings_and_invalid_names_are_refused_without_the_password(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedDestination) as unsupported:
        inspection.parse_url("oracle://u:Pw-0ne@h/db", tmp_path)
    assert "Pw-0ne" not in str(unsupported.value)
    with pytest.raises(InvalidIdentifier, match="TablePrefix 'a-b' is invalid"):
        inspection.build_target(inspection.parse_url("sqlite:///x.db", tmp_path), "dbo", "a-b")


GRANTS = [
    "GRANT USAGE ON *.* TO `rep`@`%` IDENTIFIED BY PASSWORD '*ABCDEF'",
    "GRANT SELECT, INSERT, UPDATE ON `rep\\_db`.* TO `rep`@`%`",
    "GRANT DELETE ON `rep%`.* TO `rep`@`%`",
    "GRANT ALTER, DROP ON `rep_db`.`account` TO `rep`@`%`",
    "GRANT `analyst` TO `rep`@`%`",
]


def test_mysql_grants_count_global_and_database_patterns_but_not_table_grants() -> None:
    required = ("CREATE", "ALTER", "SELECT", "INSERT", "UPDATE", "DELETE", "DROP")

    assert inspection.mysql_missing(GRANTS, "rep_db", required) == ("CREATE", "ALTER", "DROP")
    assert inspection.mysql_missing(GRANTS, "repXdb", required) == (
        "CREATE",
        "ALTER",
        "SELECT",
        "INSERT",
        "UPDATE",
        "DROP",
    )  # `rep\_db` is literal; only `rep%` matches
    assert inspection.mysql_missing(["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost`"], "any", required) == ()
    assert inspection.mysql_missing(["GRANT ALL ON `a``b`.* TO `u`@`%`"], "a`b", required) == ()


def test_sql_server_rights_are_has_perms_by_name_statements() -> None:
    present = inspection.mssql_permission_queries(schema_exists=True)
    missing = inspection.mssql_permission_queries(schema_exists=False)

    assert [right for right, _ in present] == [
        "CREATE TABLE on the database",
        "ALTER on schema '{schema}'",
        "SELECT on schema '{schema}'",
        "INSERT on schema '{schema}'",
        "UPDATE on schema '{schema}'",
        "DELETE on schema '{schema}'",
    ]
    assert present[1][1] == "SELECT HAS_PERMS_BY_NAME(:schema, 'SCHEMA', 'ALTER')"
    assert missing[-1] == (
        "CREATE SCHEMA on the database (schema '{schema}' is missing)",
        "SELECT HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'CREATE SCHEMA')",
    )
    assert "is_read_committed_snapshot_on" in inspection.MSSQL_SETTINGS_QUERY
    assert inspection.INSPECTORS["mssql"].settings_advice is not None
    assert all(inspection.INSPECTORS[name].settings_advice is None for name in ("postgresql", "mysql", "sqlite"))


def test_sql_server_settings_advice_follows_des() -> None:
    assert inspection.mssql_settings_advice(True, 3, None, None) == ()  # on-premises, RCSI on
    assert inspection.mssql_settings_advice(True, 5, "P2", 1) == ()
    assert inspection.mssql_settings_advice(True, 5, "GP_Gen5_2", 1) == ()
    advice = inspection.mssql_settings_advice(False, 5, "S3", 8)
    assert len(advice) == 3
    assert advice[0].startswith("READ_COMMITTED_SNAPSHOT is OFF")
    assert advice[1] == "Service objective 'S3' is below Premium P1, which DES recommended."
    assert advice[2].startswith("MAXDOP is 8")


# ----- real engines ----------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    kind = str(request.param)
    yield f"sqlite:///{tmp_path / 'inspect.db'}" if kind == "sqlite" else server_url(kind)


def test_objects_are_found_per_engine(target_url: str, tmp_path: Path) -> None:
    prefix = unique_prefix()
    target = inspection.build_target(inspection.parse_url(target_url, tmp_path), "dbo", prefix)
    names = {key: target.naming.entity_table(key) for key in ("account", "contact", "lead", "task", "email")}
    qualified = {
        key: f"{target.namespace}.{name}" if target.family == "postgresql" else name for key, name in names.items()
    }
    with plain_connection(target_url) as connection:
        if target.family == "postgresql":
            connection.execute(text("CREATE SCHEMA IF NOT EXISTS dbo"))
        connection.execute(text(f"CREATE TABLE {qualified['account']} (Id CHAR(36) PRIMARY KEY, versionnumber BIGINT)"))
        connection.execute(text(f"CREATE TABLE {qualified['contact']} (Id CHAR(36), name CHAR(10))"))
        connection.execute(text(f"CREATE TABLE {qualified['lead']} (name CHAR(10))"))
        connection.execute(text(f"CREATE VIEW {qualified['task']} AS SELECT Id FROM {qualified['account']}"))
    wanted = [WantedTable(name) for name in names.values()]
    wanted.append(WantedTable(target.naming.fixed_table("StateMetadata"), keyed=False))

    engine = inspection.open_engine(target.url, 5)
    try:
        with engine.connect() as connection:
            report = inspection.inspect_objects(connection, target, wanted)
            server = target.inspector.server(connection)
    finally:
        engine.dispose()

    assert [name.lower() for name in report.existing] == [names["account"].lower()]
    assert report.not_tables == (names["task"],)
    assert [(table.lower(), reason.split(" has ")[1]) for table, reason in report.unusable] == [
        (names["contact"].lower(), "an Id column that is neither its primary key nor a unique key"),
        (names["lead"].lower(), "no Id column"),
    ]
    assert server.split()[0] in {"SQLite", "PostgreSQL", "MariaDB"}


def test_a_missing_namespace_has_no_objects(tmp_path: Path) -> None:
    url = inspection.parse_url(server_url("postgresql"), tmp_path)
    target = inspection.build_target(url, f"none{uuid.uuid4().hex[:8]}", "")
    engine = inspection.open_engine(url, 5)
    try:
        with engine.connect() as connection:
            report = inspection.inspect_objects(connection, target, [WantedTable("account")])
    finally:
        engine.dispose()
    assert report == ObjectReport()


def test_sqlite_is_inspected_read_only_and_a_missing_file_is_not_created(tmp_path: Path) -> None:
    existing = tmp_path / "existing.db"
    with plain_connection(f"sqlite:///{existing}") as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    missing = tmp_path / "missing.db"

    for path in (existing, missing):
        engine = inspection.open_engine(inspection.parse_url(f"sqlite:///{path}", tmp_path), 5)
        try:
            with engine.connect() as connection:
                assert inspection.INSPECTORS["sqlite"].server(connection).startswith("SQLite 3.")
                if path == existing:
                    with pytest.raises(OperationalError, match="readonly"):
                        connection.execute(text("INSERT INTO t VALUES (1)"))
        finally:
            engine.dispose()

    assert not missing.exists()
    assert inspection.is_new_sqlite_file(inspection.parse_url(f"sqlite:///{missing}", tmp_path))
    assert inspection.sqlite_missing(str(tmp_path / "nowhere" / "r.db")) == (
        f"the folder '{tmp_path / 'nowhere'}' (it does not exist: create it)",
    )
    assert inspection.sqlite_missing(str(existing)) == ()
