"""What a destination database looks like before a profile writes to it (DES §5 checks 7-13).

Read-only: nothing here creates, alters or writes anything (a missing SQLite file is inspected as an empty
in-memory database, so validating does not create it). Each engine family is one :class:`EngineInspector`
entry of :data:`INSPECTORS`; the callers look the entry up by dialect name and ask it, never the engine's type.
SQL Server statements are compiled and checked as text only (no server runs in the tests).

Errors: database errors are raised as SQLAlchemy exceptions; the caller turns them into messages with the
password removed (:func:`scrub`).
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from dataexport.destination.sql.dialects import DIALECTS, SqlDialect
from dataexport.destination.sql.naming import Naming
from dataexport.destination.sql.urls import destination_url
from dataexport.domain.checks import DestinationIdentity
from dataexport.domain.columns import ID_COLUMN
from dataexport.errors import UnsupportedDestination

DEFAULT_SCHEMA_NAME = "dbo"
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433}
#: Driver arguments bounding the login. PyMySQL's ``connect_timeout`` covers only the TCP connect, so its read
#: and write timeouts bound the handshake (and the inspection queries) too.
_TIMEOUT_ARGUMENTS = {
    "psycopg": ("connect_timeout",),
    "pymysql": ("connect_timeout", "read_timeout", "write_timeout"),
    "pymssql": ("login_timeout",),
}
_PRODUCTS = {
    "postgresql": "PostgreSQL",
    "mysql": "MySQL",
    "mariadb": "MariaDB",
    "sqlite": "SQLite",
    "mssql": "SQL Server",
}


@dataclass(frozen=True, slots=True)
class DestinationTarget:
    """One profile's destination: its URL (SQLite paths absolute), dialect entry, object naming and the
    namespace its objects live in (schema; MySQL/MariaDB: the database; SQLite: None)."""

    url: URL
    dialect: SqlDialect
    naming: Naming
    namespace: str | None

    @property
    def family(self) -> str:
        """``postgresql``, ``mysql``, ``sqlite`` or ``mssql``."""
        return self.dialect.capabilities.dialect

    @property
    def inspector(self) -> EngineInspector:
        """The inspection entry of this engine family."""
        return INSPECTORS[self.family]

    def qualified(self, table: str) -> str:
        """``namespace.table`` (or just the table), for messages."""
        return f"{self.namespace}.{table}" if self.namespace else table


def parse_url(connection_string: str, data_dir: Path) -> URL:
    """The URL of a destination connection string (DES §1.7), relative SQLite paths resolved in ``data_dir``.

    Raises:
        UnsupportedDestination: the string is malformed or names an unsupported engine (password not shown).
    """
    url = absolute_sqlite(destination_url(connection_string), data_dir)
    if url.get_backend_name() not in DIALECTS:
        raise UnsupportedDestination(f"Destination engine '{url.get_backend_name()}' is not supported")
    return url


def build_target(url: URL, schema_name: str, table_prefix: str) -> DestinationTarget:
    """The target a profile with this ``SchemaName`` and ``TablePrefix`` writes to at ``url``.

    Raises:
        InvalidIdentifier: the schema name or prefix is not made of letters and digits.
    """
    dialect = DIALECTS[url.get_backend_name()]
    naming = dialect.naming(table_prefix, schema_name)
    return DestinationTarget(url, dialect, naming, _namespace(dialect, url, schema_name))


def inspector_for(url: URL) -> EngineInspector:
    """The inspection entry of the engine family of ``url`` (a URL :func:`parse_url` accepted)."""
    return INSPECTORS[DIALECTS[url.get_backend_name()].capabilities.dialect]


def product_name(url: URL) -> str:
    """``PostgreSQL``, ``MariaDB``, ``MySQL``, ``SQLite`` or ``SQL Server``, for messages."""
    backend = url.get_backend_name()
    return _PRODUCTS.get(backend, _PRODUCTS.get(DIALECTS[backend].capabilities.dialect, backend))


def _namespace(dialect: SqlDialect, url: URL, schema_name: str) -> str | None:
    kind = INSPECTORS[dialect.capabilities.dialect].namespace_kind
    if kind == "schema":
        return schema_name
    if kind == "database":  # DES §2.1: the default ``dbo`` means the connection string's database
        return url.database if schema_name.lower() == DEFAULT_SCHEMA_NAME else schema_name
    return None


def absolute_sqlite(url: URL, data_dir: Path) -> URL:
    """A relative SQLite path (``sqlite:///rep.db``) resolved against the data directory (DES §1.7)."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or Path(database).is_absolute():
        return url
    return url.set(database=str((data_dir / database).resolve()))


def destination_identity(target: DestinationTarget) -> DestinationIdentity:
    """Server + database + schema + prefix of a profile's destination; no login, no password."""
    url = target.url
    host = url.host.lower() if url.host else None
    port = url.port or (_DEFAULT_PORTS.get(target.family) if host else None)
    return DestinationIdentity(target.family, host, port, url.database, target.namespace, target.naming.prefix)


def identity_of(connection_string: str, schema_name: str, table_prefix: str, data_dir: Path) -> DestinationIdentity:
    """:func:`destination_identity` of a profile's connection string, ``SchemaName`` and ``TablePrefix``.

    Raises:
        UnsupportedDestination, InvalidIdentifier: as :func:`parse_url` and :func:`build_target`.
    """
    return destination_identity(build_target(parse_url(connection_string, data_dir), schema_name, table_prefix))


def open_engine(url: URL, connect_timeout: float) -> Engine:
    """An engine for inspection only: no pool, the login must succeed within ``connect_timeout`` seconds.

    An existing SQLite file is opened read-only; a missing one is inspected as an empty in-memory database.
    """
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url.database)
    seconds = max(1, math.ceil(connect_timeout))
    connect_args = dict.fromkeys(_TIMEOUT_ARGUMENTS.get(url.get_driver_name(), ()), seconds)
    return create_engine(url, poolclass=NullPool, connect_args=connect_args)


def is_new_sqlite_file(url: URL) -> bool:
    """Whether ``url`` is a SQLite file that does not exist yet (activation will create it)."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return False
    return not Path(database).exists()


def _sqlite_engine(database: str | None) -> Engine:
    path = Path(database) if database and database != ":memory:" else None
    if path is None or not path.exists():
        return create_engine("sqlite://", poolclass=NullPool)
    uri = f"file:{quote(str(path))}?mode=ro"
    return create_engine("sqlite://", poolclass=NullPool, creator=lambda: sqlite3.connect(uri, uri=True))


@dataclass(frozen=True, slots=True)
class NamespaceState:
    """Whether the schema (MySQL: database) exists, and whether the login may create it."""

    exists: bool
    may_create: bool


@dataclass(frozen=True, slots=True)
class WantedTable:
    """A table the profile will create or adopt; ``keyed`` tables must have a usable ``Id`` column."""

    name: str
    keyed: bool = True


@dataclass(frozen=True, slots=True)
class ObjectReport:
    """What already exists under the profile's target names.

    Attributes:
        existing: usable tables that exist (adopted on activation).
        not_tables: names taken by a view or another non-table object.
        unusable: existing tables with their reason (no ``Id`` column, ``Id`` not a key).
    """

    existing: tuple[str, ...] = ()
    not_tables: tuple[str, ...] = ()
    unusable: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class EngineInspector:
    """How to inspect one engine family.

    Attributes:
        namespace_kind: ``schema``, ``database`` (MySQL/MariaDB) or None (SQLite: no namespace, check skipped).
        server: the product and version (``PostgreSQL 15.19``).
        namespace_state: whether the namespace exists / may be created; None where there is none.
        missing_rights: the rights the login lacks, each as text (``CREATE on schema 'dbo'``), given the
            existing target tables (adopted tables need ownership on PostgreSQL).
        settings_advice: advisory settings findings (SQL Server only); None: not applicable.
    """

    namespace_kind: str | None
    server: Callable[[Connection], str]
    namespace_state: Callable[[Connection, DestinationTarget], NamespaceState] | None
    missing_rights: Callable[[Connection, DestinationTarget, Sequence[str]], tuple[str, ...]]
    settings_advice: Callable[[Connection], tuple[str, ...]] | None = None


def inspect_objects(connection: Connection, target: DestinationTarget, wanted: Iterable[WantedTable]) -> ObjectReport:
    """Which of the ``wanted`` names exist, and as what (compared case-insensitively)."""
    namespace = target.namespace
    inspector = inspect(connection)
    if namespace is not None and namespace not in inspector.get_schema_names():
        return ObjectReport()
    tables = {name.lower(): name for name in inspector.get_table_names(schema=namespace)}
    others = {name.lower() for name in _other_relations(connection, namespace)}
    existing: list[str] = []
    not_tables: list[str] = []
    unusable: list[tuple[str, str]] = []
    for table in wanted:
        key = table.name.lower()
        if key in others and key not in tables:
            not_tables.append(table.name)
        elif key in tables:
            reason = _key_problem(connection, tables[key], namespace) if table.keyed else None
            if reason is None:
                existing.append(tables[key])
            else:
                unusable.append((tables[key], reason))
    return ObjectReport(tuple(existing), tuple(not_tables), tuple(unusable))


def _other_relations(connection: Connection, namespace: str | None) -> list[str]:
    inspector = inspect(connection)
    names = list(inspector.get_view_names(schema=namespace))
    for reader in (inspector.get_materialized_view_names, inspector.get_sequence_names):
        try:
            names += reader(schema=namespace)
        except NotImplementedError:
            continue
    return names


def _key_problem(connection: Connection, table: str, namespace: str | None) -> str | None:
    """Why ``table`` cannot be written by Id (upserts need ``Id`` as its primary or a unique key), or None."""
    inspector = inspect(connection)
    columns = [str(column["name"]) for column in inspector.get_columns(table, schema=namespace)]
    id_column = next((name for name in columns if name.lower() == ID_COLUMN.lower()), None)
    if id_column is None:
        return f"Table '{table}' has no Id column"
    keys = [list(inspector.get_pk_constraint(table, schema=namespace).get("constrained_columns") or [])]
    keys += [list(unique["column_names"]) for unique in inspector.get_unique_constraints(table, schema=namespace)]
    for index in inspector.get_indexes(table, schema=namespace):
        if index["unique"]:
            keys.append([str(name) for name in index["column_names"]])
    if [id_column] not in keys:
        return f"Table '{table}' has an Id column that is neither its primary key nor a unique key"
    return None


# ----- statements and pure rules ----------------------------------------------------------------------

POSTGRESQL_NAMESPACE_QUERY = (
    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = :schema), "
    "has_database_privilege(current_database(), 'CREATE')"
)
POSTGRESQL_SCHEMA_RIGHTS_QUERY = (
    "SELECT has_schema_privilege(:schema, 'USAGE'), has_schema_privilege(:schema, 'CREATE')"
)
#: Existing target tables the login does not own (ALTER needs ownership, or membership of the owner role).
POSTGRESQL_NOT_OWNED_QUERY = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = :schema AND c.relname = ANY(:tables) AND NOT pg_has_role(c.relowner, 'MEMBER') "
    "ORDER BY c.relname"
)
MYSQL_NAMESPACE_QUERY = "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :database"
#: What the writer needs on the database (DES §5); DROP is added where re-baselines stage a seen-set table.
MYSQL_RIGHTS = ("CREATE", "ALTER", "SELECT", "INSERT", "UPDATE", "DELETE")
MSSQL_VERSION_QUERY = (
    "SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)), CAST(SERVERPROPERTY('Edition') AS nvarchar(128))"
)
MSSQL_NAMESPACE_QUERY = (
    "SELECT CASE WHEN SCHEMA_ID(:schema) IS NULL THEN 0 ELSE 1 END, "
    "HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'CREATE SCHEMA')"
)
MSSQL_SETTINGS_QUERY = (
    "SELECT d.is_read_committed_snapshot_on, CAST(SERVERPROPERTY('EngineEdition') AS int), "
    "CAST(DATABASEPROPERTYEX(DB_NAME(), 'ServiceObjective') AS nvarchar(128)), "
    "(SELECT CAST(value AS int) FROM sys.database_scoped_configurations WHERE name = 'MAXDOP') "
    "FROM sys.databases d WHERE d.name = DB_NAME()"
)
_MSSQL_SCHEMA_RIGHTS = ("ALTER", "SELECT", "INSERT", "UPDATE", "DELETE")
_AZURE_SQL_DATABASE = 5  # SERVERPROPERTY('EngineEdition')
_GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON (?P<object>\S+) TO ", re.IGNORECASE)
_DATABASE_LEVEL = re.compile(r"^`(?P<name>(?:[^`]|``)+)`\.\*$")
_PREMIUM = re.compile(r"^P(?P<size>\d+)$", re.IGNORECASE)


def mssql_permission_queries(schema_exists: bool) -> tuple[tuple[str, str], ...]:
    """(right, ``HAS_PERMS_BY_NAME`` statement) pairs of DES §5 check 10 on SQL Server; ``{schema}`` in the
    right is the schema name, ``:schema`` in the statement its bound value."""
    queries = [("CREATE TABLE on the database", "SELECT HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'CREATE TABLE')")]
    if not schema_exists:
        statement = "SELECT HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'CREATE SCHEMA')"
        return (*queries, ("CREATE SCHEMA on the database (schema '{schema}' is missing)", statement))
    for right in _MSSQL_SCHEMA_RIGHTS:
        queries.append((f"{right} on schema '{{schema}}'", f"SELECT HAS_PERMS_BY_NAME(:schema, 'SCHEMA', '{right}')"))
    return tuple(queries)


def mssql_settings_advice(
    read_committed_snapshot: bool, engine_edition: int, service_objective: str | None, maxdop: int | None
) -> tuple[str, ...]:
    """The DES recommendations a SQL Server database does not follow (advisory, DES §5 check 13)."""
    advice: list[str] = []
    if not read_committed_snapshot:
        advice.append(
            "READ_COMMITTED_SNAPSHOT is OFF: turn it on (ALTER DATABASE CURRENT SET READ_COMMITTED_SNAPSHOT ON) "
            "so that readers do not block the writer."
        )
    if engine_edition != _AZURE_SQL_DATABASE:
        return tuple(advice)
    if not _is_premium_or_better(service_objective):
        advice.append(f"Service objective '{service_objective}' is below Premium P1, which DES recommended.")
    if maxdop != 1:
        advice.append(f"MAXDOP is {maxdop}: DES recommended 1 (ALTER DATABASE SCOPED CONFIGURATION SET MAXDOP = 1).")
    return tuple(advice)


def _is_premium_or_better(service_objective: str | None) -> bool:
    if service_objective is None:
        return False
    premium = _PREMIUM.match(service_objective)
    if premium is not None:
        return int(premium["size"]) >= 1
    return service_objective.upper().startswith(("GP_", "BC_", "HS_"))  # vCore tiers


def mysql_missing(grants: Iterable[str], database: str, required: Sequence[str]) -> tuple[str, ...]:
    """The ``required`` privileges that no global (``*.*``) or database-level grant of ``SHOW GRANTS``
    gives on ``database`` (database patterns with ``%``/``_`` wildcards are honoured)."""
    held: set[str] = set()
    for line in grants:
        match = _GRANT.match(line)
        if match is not None and _covers(match["object"], database):
            held |= {privilege.strip().upper() for privilege in match["privileges"].split(",")}
    if held & {"ALL", "ALL PRIVILEGES"}:
        return ()
    return tuple(right for right in required if right not in held)


def _covers(grant_object: str, database: str) -> bool:
    if grant_object == "*.*":
        return True
    match = _DATABASE_LEVEL.match(grant_object)
    return match is not None and _like(match["name"].replace("``", "`"), database)


def _like(pattern: str, value: str) -> bool:
    """MySQL's grant-pattern match: ``%`` any run, ``_`` one character, ``\\`` escapes the next one."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.fullmatch("".join(parts), value) is not None


def sqlite_missing(database: str | None) -> tuple[str, ...]:
    """What keeps the service from writing the SQLite file ``database`` (its folder must be writable too:
    SQLite keeps its write-ahead log next to the file)."""
    if not database or database == ":memory:":
        return ()
    path = Path(database)
    folder = path.parent
    if not folder.is_dir():
        return (f"the folder '{folder}' (it does not exist: create it)",)
    missing: list[str] = []
    if path.exists() and not os.access(path, os.W_OK):
        missing.append(f"write access to the file '{path}'")
    if not os.access(folder, os.W_OK | os.X_OK):
        missing.append(f"write access to the folder '{folder}'")
    return tuple(missing)


# ----- engine families ------------------------------------------------------------------------------------


def _scalar_text(connection: Connection, statement: str) -> str:
    return str(connection.execute(text(statement)).scalar_one())


def _postgresql_server(connection: Connection) -> str:
    version = _scalar_text(connection, "SELECT current_setting('server_version')")
    return f"PostgreSQL {version.split()[0]}"


def _mysql_server(connection: Connection) -> str:
    version = _scalar_text(connection, "SELECT VERSION()")
    product = "MariaDB" if "mariadb" in version.lower() else "MySQL"
    return f"{product} {version.split('-')[0]}"


def _sqlite_server(connection: Connection) -> str:
    return f"SQLite {_scalar_text(connection, 'SELECT sqlite_version()')}"


def _mssql_server(connection: Connection) -> str:
    row = connection.execute(text(MSSQL_VERSION_QUERY)).one()
    return f"SQL Server {row[0]} ({row[1]})"


def _postgresql_namespace(connection: Connection, target: DestinationTarget) -> NamespaceState:
    row = connection.execute(text(POSTGRESQL_NAMESPACE_QUERY), {"schema": target.namespace}).one()
    return NamespaceState(bool(row[0]), bool(row[1]))


def _mysql_namespace(connection: Connection, target: DestinationTarget) -> NamespaceState:
    database = target.namespace or ""
    found = connection.execute(text(MYSQL_NAMESPACE_QUERY), {"database": database}).first()
    grants = [str(row[0]) for row in connection.execute(text("SHOW GRANTS"))]
    return NamespaceState(found is not None, not mysql_missing(grants, database, ("CREATE",)))


def _mssql_namespace(connection: Connection, target: DestinationTarget) -> NamespaceState:
    row = connection.execute(text(MSSQL_NAMESPACE_QUERY), {"schema": target.namespace}).one()
    return NamespaceState(bool(row[0]), bool(row[1]))


def _postgresql_rights(connection: Connection, target: DestinationTarget, existing: Sequence[str]) -> tuple[str, ...]:
    schema = target.namespace or DEFAULT_SCHEMA_NAME
    state = _postgresql_namespace(connection, target)
    if not state.exists:
        return () if state.may_create else (f"CREATE on the database (schema '{schema}' is missing)",)
    row = connection.execute(text(POSTGRESQL_SCHEMA_RIGHTS_QUERY), {"schema": schema}).one()
    missing = [
        f"{right} on schema '{schema}'" for right, held in zip(("USAGE", "CREATE"), row, strict=True) if not held
    ]
    if existing:
        parameters = {"schema": schema, "tables": list(existing)}
        not_owned = connection.execute(text(POSTGRESQL_NOT_OWNED_QUERY), parameters).scalars()
        missing += [f"ownership of table '{schema}.{table}' (it will be adopted and altered)" for table in not_owned]
    return tuple(missing)


def _mysql_rights(connection: Connection, target: DestinationTarget, _existing: Sequence[str]) -> tuple[str, ...]:
    grants = [str(row[0]) for row in connection.execute(text("SHOW GRANTS"))]
    database = target.namespace or ""
    required = MYSQL_RIGHTS + (("DROP",) if target.dialect.capabilities.seen_set_table else ())
    return tuple(f"{right} on database '{database}'" for right in mysql_missing(grants, database, required))


def _sqlite_rights(_connection: Connection, target: DestinationTarget, _existing: Sequence[str]) -> tuple[str, ...]:
    return sqlite_missing(target.url.database)


def _mssql_rights(connection: Connection, target: DestinationTarget, _existing: Sequence[str]) -> tuple[str, ...]:
    exists = _mssql_namespace(connection, target).exists
    missing: list[str] = []
    for right, statement in mssql_permission_queries(exists):
        if not connection.execute(text(statement), {"schema": target.namespace}).scalar():
            missing.append(right.format(schema=target.namespace))
    return tuple(missing)


def _mssql_settings(connection: Connection) -> tuple[str, ...]:
    row = connection.execute(text(MSSQL_SETTINGS_QUERY)).one()
    return mssql_settings_advice(
        bool(row[0]), int(row[1]), None if row[2] is None else str(row[2]), None if row[3] is None else int(row[3])
    )


INSPECTORS: dict[str, EngineInspector] = {
    "postgresql": EngineInspector("schema", _postgresql_server, _postgresql_namespace, _postgresql_rights),
    "mysql": EngineInspector("database", _mysql_server, _mysql_namespace, _mysql_rights),
    "sqlite": EngineInspector(None, _sqlite_server, None, _sqlite_rights),
    "mssql": EngineInspector("schema", _mssql_server, _mssql_namespace, _mssql_rights, _mssql_settings),
}
