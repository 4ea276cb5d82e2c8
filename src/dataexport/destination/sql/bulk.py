"""Fast bulk paths for large upsert batches, chosen by capability (``Capabilities.bulk_copy``).

Each path is prepared once per :class:`~.writes.WritePlan` (its statements are built then) and returns the
:class:`~dataexport.destination.base.WriteResult` the row path would: the same version guard (an equal
version rewritten only on a re-baseline), the same tombstone guard, replays harmless.

MySQL/MariaDB need no path of their own: PyMySQL's executemany sends the row statement as multi-row
``INSERT ... VALUES (...), (...) ON DUPLICATE KEY UPDATE``, the guard in the update expressions.

PostgreSQL (:func:`postgresql_copy_upsert`): the batch is streamed with binary ``COPY`` into a session
temporary staging table, then applied by ONE set-based ``INSERT ... SELECT ... ON CONFLICT (Id) DO UPDATE
... WHERE <version guard>``. Profiled on account rows (``bench/write_throughput.py``), the time had gone to
Python work per value, text formatting of datetimes, a read of the stored versions, and a ``TRUNCATE`` and
a staging ``CREATE`` per batch; this path avoids each:

- rows are tuples of the domain values as they are (no encoder runs): the staging columns have the types of
  those values (``text`` for GUIDs, ``timestamptz`` for the aware datetimes, ``int8``, ``bool``; decimals as
  their text) and the statement casts them to the table's (``uuid``, a UTC ``timestamp``, ``numeric``);
  binary COPY formats them in C about three times faster than text COPY;
- the sink times are one parameter of the statement, not two values per row;
- no read of the stored versions: the statement's guard decides, and its row count tells whether it wrote
  every staged row (an initial sync, most deltas); only when it is short does one query name the skipped
  ones. Only the ids the tombstone guard would block are looked up first (usually none): absent ones are
  not staged;
- one staging table per session and column types, created once (``ON COMMIT DELETE ROWS``: nothing
  truncates it per batch; :func:`track_staging_tables`).

SQL Server (:func:`mssql_staged_upsert`): the rows to write, decided from the stored versions as on the row
path, are sent into a ``#`` temporary table shaped like the target with pyodbc's ``fast_executemany``
(parameter arrays; plain executemany on drivers without it), then applied by one guarded ``MERGE``. Its
statements are compiled and snapshot-tested only: no SQL Server runs here.

Everything runs in the caller's transaction, so a failure rolls back the whole batch exactly like the row
path. Errors of the work done on the driver connection (COPY, executemany) are raised as SQLAlchemy's, so
:mod:`.isolation` classifies them like any statement's; a value the binary format cannot take (an
unexpected Python type) raises :class:`~.writes.BatchNotEncodable` and the batch is redone row by row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from operator import itemgetter
from typing import Any

from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy import Connection, Engine, Executable, bindparam, cast, event, func, literal_column, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ColumnElement, TableClause, column, table
from sqlalchemy.types import NUMERIC

from dataexport.destination.base import WriteResult
from dataexport.destination.sql.writes import (
    BatchNotEncodable,
    BulkWriter,
    WritePlan,
    decide_upserts,
    decided_result,
    mssql_merge,
    quoted,
    read_stored,
    written_rows,
)
from dataexport.domain.changes import Upsert
from dataexport.domain.columns import TypeKind
from dataexport.domain.guards import TombstoneGuard


class _Source(Enum):
    ID = "id"
    NOW = "now"
    VERSION = "version"


@dataclass(frozen=True, slots=True)
class StagedColumns:
    """The row columns a staging table carries, in its order, and where each value comes from.

    Attributes:
        columns: target columns in staging order: the id, the value columns, the version.
        keys: the :attr:`Upsert.values` keys of the value columns.
        now_columns: columns written with the batch's time (the sink times), not staged.
    """

    columns: tuple[str, ...]
    keys: tuple[str, ...]
    now_columns: tuple[str, ...]

    @classmethod
    def of(cls, plan: WritePlan) -> StagedColumns | None:
        """The staged columns of ``plan``, from the sources :meth:`WritePlan.row` uses (later ones win); None
        if a value column would overwrite the id (the row path then handles the plan)."""
        sources: dict[str, _Source | str] = {plan.id_column: _Source.ID}
        for name in (plan.created_column, plan.modified_column):
            if name:
                sources[name] = _Source.NOW
        for planned in plan.columns:
            sources[planned.column] = planned.key
        sources[plan.version_column] = _Source.VERSION
        if sources[plan.id_column] is not _Source.ID:
            return None
        keyed = [(name, key) for name, key in sources.items() if isinstance(key, str)]
        columns = (plan.id_column, *(name for name, _ in keyed), plan.version_column)
        now_columns = tuple(name for name, source in sources.items() if source is _Source.NOW)
        return cls(columns, tuple(key for _, key in keyed), now_columns)

    def rows(self, batch: Sequence[Upsert], skipped: frozenset[str] = frozenset()) -> Iterator[tuple[object, ...]]:
        """The staged tuple of each upsert of ``batch`` not in ``skipped``: values as they are, no encoding."""
        keys = self.keys
        pick = _picker(keys)
        for upsert in batch:
            if skipped and upsert.record_id in skipped:
                continue
            try:
                values = pick(upsert.values)
            except KeyError:  # a key the mapping lacks is NULL, as on the row path
                values = tuple(map(upsert.values.get, keys))
            yield (upsert.record_id, *values, upsert.version)


def _picker(keys: tuple[str, ...]) -> Callable[[Mapping[str, object]], tuple[object, ...]]:
    """The values of ``keys`` as a tuple (``itemgetter``: C speed; mapped rows carry every key)."""
    if len(keys) > 1:
        return itemgetter(*keys)
    return lambda values: tuple(values[key] for key in keys)


def blocked_inserts(
    connection: Connection, plan: WritePlan, batch: Sequence[Upsert], guard: TombstoneGuard
) -> frozenset[str]:
    """Ids of ``batch`` the tombstone guard refuses: it blocks their insert and no row of theirs exists."""
    if not guard.floors and not guard.blocked:
        return frozenset()
    candidates = [u.record_id for u in batch if guard.blocks_insert(u.record_id, u.version)]
    if not candidates:
        return frozenset()
    stored = read_stored(connection, plan.target(), plan.id_column, plan.version_column, candidates, plan.id_array)
    return frozenset(record_id for record_id in candidates if record_id not in stored)


def staged_result(batch: Sequence[Upsert], stale: set[str], tombstoned: frozenset[str]) -> WriteResult:
    """The result of a staged batch: blocked ids tombstoned, ``stale`` ones stale, every other one applied."""
    ids = tuple(u.record_id for u in batch)
    if not stale and not tombstoned:  # the common case
        return WriteResult(applied=ids)
    return WriteResult(
        applied=tuple(record_id for record_id in ids if record_id not in stale and record_id not in tombstoned),
        stale=tuple(record_id for record_id in ids if record_id in stale),
        tombstoned=tuple(record_id for record_id in ids if record_id in tombstoned),
    )


@contextmanager
def driver_errors(
    connection: Connection, statement: str, *, session_broken: Callable[[Any], bool] = lambda _error: False
) -> Iterator[None]:
    """Raise errors of work done on the driver connection as SQLAlchemy would have for ``statement``.

    A database error becomes the matching :class:`~sqlalchemy.exc.DBAPIError`; a lost connection, or an
    error ``session_broken`` says the session cannot recover from, invalidates the connection as SQLAlchemy
    does (the error is then transient). A value the driver could not encode raises :class:`BatchNotEncodable`.
    """
    dialect = connection.dialect
    base: Any = dialect.loaded_dbapi.Error
    try:
        yield
    except base as error:
        lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, None) or session_broken(error)
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(statement, None, error, base, connection_invalidated=lost, dialect=dialect) from error
    except (TypeError, ValueError, OverflowError, AttributeError) as error:
        raise BatchNotEncodable(f"{type(error).__name__}: {error}") from error


# --- PostgreSQL ---------------------------------------------------------------------------------------------

#: The staging type of each logical type: the type of the domain's Python values, for binary COPY.
POSTGRESQL_STAGING_TYPES: Mapping[TypeKind, str] = {
    TypeKind.STRING: "text",
    TypeKind.TEXT: "text",
    TypeKind.GUID: "text",  # binary uuid would need UUID objects; the statement casts
    TypeKind.INTEGER: "int8",  # an out-of-range value fails in the statement: a record error, as on the row path
    TypeKind.BIGINT: "int8",
    TypeKind.IDENTITY: "int8",
    TypeKind.DECIMAL: "varchar",  # their text (see _DecimalAsText); the statement casts
    TypeKind.DATETIME: "timestamptz",  # aware datetimes; the statement takes them to UTC
    TypeKind.BOOLEAN: "bool",
}


@dataclass(frozen=True, slots=True)
class PostgresqlStaging:
    """The statements of the PostgreSQL bulk path for one plan."""

    staged: StagedColumns
    types: tuple[str, ...]
    name: str
    #: Creates the staging table if this session lacks it and empties it.
    prepare: str
    #: Empties it (rows an earlier batch of the open transaction staged).
    clear: str
    copy: str
    #: The guarded upsert from the staging table, per ``rewrite_equal`` (False, True).
    apply: tuple[Executable, Executable]
    #: The staged ids whose row this transaction did not write (run only when the upsert wrote fewer rows).
    unwritten: Executable

    @classmethod
    def of(cls, plan: WritePlan) -> PostgresqlStaging | None:
        """Build the statements of ``plan`` (None: the plan cannot be staged, see :meth:`StagedColumns.of`)."""
        staged = StagedColumns.of(plan)
        if staged is None:
            return None
        types = tuple(POSTGRESQL_STAGING_TYPES[plan.kinds[name]] for name in staged.columns)
        # One table per session and column types: every entity with the same shape shares it.
        digest = hashlib.sha1(",".join(types).encode(), usedforsecurity=False).hexdigest()[:16]
        name = f"dataexport_stage_{digest}"
        source = table(name, *(column(f"c{index}") for index in range(len(types))), schema="pg_temp")
        declared = ", ".join(f"c{index} {sql_type}" for index, sql_type in enumerate(types))
        create = f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ({declared}) ON COMMIT DELETE ROWS"
        return cls(
            staged=staged,
            types=types,
            name=name,
            prepare=f"{create}; DELETE FROM pg_temp.{name}",
            clear=f"DELETE FROM pg_temp.{name}",
            copy=f"COPY pg_temp.{name} FROM STDIN (FORMAT BINARY)",
            apply=(_apply_staged(plan, staged, source, False), _apply_staged(plan, staged, source, True)),
            unwritten=_unwritten(plan, source),
        )


class _DecimalAsText(Dumper):
    """Decimals are staged as their text and parsed by the statement, as the row path's bound text is:
    psycopg's binary numeric dumper takes three times longer than ``str()`` (digit groups built in Python)."""

    format = Format.BINARY
    oid = postgres.types["varchar"].oid

    def dump(self, obj: Any) -> bytes:
        return str(obj).encode()


def _staged_value(value: ColumnElement[Any], kind: TypeKind) -> ColumnElement[Any]:
    if kind is TypeKind.GUID:
        return cast(value, postgresql.UUID(as_uuid=False))
    if kind is TypeKind.DECIMAL:
        return cast(value, NUMERIC())
    if kind is TypeKind.DATETIME:  # timestamptz -> timestamp in UTC (an offset is cheaper than a zone name)
        return func.timezone(literal_column("INTERVAL '00:00'"), value)
    return value  # the insert's assignment casts do the rest: text -> varchar(n), int8 -> integer, numeric scale


def _apply_staged(plan: WritePlan, staged: StagedColumns, source: TableClause, rewrite_equal: bool) -> Executable:
    """``INSERT INTO t (...) SELECT <cast staged columns>, :now FROM staging ON CONFLICT (Id) DO UPDATE SET ...
    WHERE t.v IS NULL OR excluded.v > t.v`` (``>=`` to rewrite equal versions)."""
    now = bindparam("now", type_=postgresql.TIMESTAMP())
    values: dict[str, ColumnElement[Any]] = dict.fromkeys(staged.now_columns, now)
    for index, name in enumerate(staged.columns):
        values[name] = _staged_value(source.c[f"c{index}"], plan.kinds[name])
    target = plan.target()
    columns = plan.row_columns
    staged_rows = select(*(values[c] for c in columns))
    statement = postgresql.insert(target).from_select([quoted(c) for c in columns], staged_rows)
    stored, incoming = target.c[plan.version_column], statement.excluded[plan.version_column]
    newer = incoming >= stored if rewrite_equal else incoming > stored
    kept = {plan.id_column, plan.created_column}
    upsert = statement.on_conflict_do_update(
        index_elements=[target.c[plan.id_column]],
        set_={c: statement.excluded[c] for c in columns if c not in kept},
        where=or_(stored.is_(None), newer),
    )
    return upsert.execution_options(preserve_rowcount=True)  # SQLAlchemy keeps INSERT row counts only if asked


def _unwritten(plan: WritePlan, source: TableClause) -> Executable:
    """``SELECT s.c0 FROM staging s WHERE (SELECT age(t.xmin) FROM target t WHERE t.Id = s.c0) IS DISTINCT FROM
    0``: the staged ids whose row was not written by this transaction.

    ``age(xmin)`` is 0 exactly for rows whose version this transaction wrote at its top level: PostgreSQL
    measures the age from the transaction's own id, which it has by then (the COPY gave it one). Every staged
    id has a row after the upsert (inserted, or the conflicting row the upsert locked), so these are exactly
    the ones the version guard skipped. A scalar subquery runs as one index lookup per staged row, whatever
    the planner thinks of the never-analyzed staging table.
    """
    target = plan.target().alias("t")
    staged_id = source.c.c0
    age = (
        select(func.age(literal_column("t.xmin")))
        .where(target.c[plan.id_column] == cast(staged_id, postgresql.UUID(as_uuid=False)))
        .scalar_subquery()
    )
    return select(staged_id).where(age.is_distinct_from(0))


#: ``Connection.info`` keys (one ``info`` per database session): the staging tables the session has (their
#: creation committed), and those the open transaction created or filled.
STAGING_CREATED = "dataexport_staging_created"
STAGING_OPEN = "dataexport_staging_open"


def _committed(connection: Connection) -> None:
    if connection.invalidated:
        return
    opened = connection.info.pop(STAGING_OPEN, None)
    if opened:
        connection.info.setdefault(STAGING_CREATED, set()).update(opened)


def _rolled_back(connection: Connection) -> None:
    if not connection.invalidated:  # an invalidated session's info goes with it
        connection.info.pop(STAGING_OPEN, None)


def track_staging_tables(engine: Engine) -> None:
    """Let the PostgreSQL bulk path create each staging table once per session and skip emptying it.

    A table the open transaction created exists after its commit only, and the rows it staged are gone after
    its commit (``ON COMMIT DELETE ROWS``) or rollback. Without this tracking (an engine not made by
    :func:`~.engine.create_destination_engine`) every batch sends ``CREATE ... IF NOT EXISTS`` and empties the
    table first: as correct, one round trip more. A commit that fails after the hook ran (a deferred
    constraint) leaves a table remembered that is not there: the COPY then drops the session (a transient
    error) and the retry starts on a fresh one.
    """
    if not event.contains(engine, "commit", _committed):
        event.listen(engine, "commit", _committed)
        event.listen(engine, "rollback", _rolled_back)


def _prepare_staging(connection: Connection, staging: PostgresqlStaging) -> None:
    info = connection.info
    if not event.contains(connection.engine, "commit", _committed):
        connection.exec_driver_sql(staging.prepare)
        return
    opened: set[str] = info.setdefault(STAGING_OPEN, set())
    if staging.name in opened:  # an earlier batch of this transaction filled it
        connection.exec_driver_sql(staging.clear)
    elif staging.name not in info.get(STAGING_CREATED, ()):
        connection.exec_driver_sql(staging.prepare)
    opened.add(staging.name)


def _staging_gone(error: Any) -> bool:
    return getattr(error, "sqlstate", None) == "42P01"  # undefined_table: see track_staging_tables


def postgresql_copy_upsert(plan: WritePlan) -> BulkWriter | None:
    """The PostgreSQL bulk path of ``plan``: binary COPY into staging, one guarded upsert (see the module).

    The upsert's row count tells whether every staged row was written (an initial sync, most deltas); only
    when it is short, one more query names the rows the version guard skipped. This relies on the bulk path
    running at the top level of its transaction (:func:`~.writes.execute_upserts` sees to it).
    """
    staging = PostgresqlStaging.of(plan)
    if staging is None:
        return None

    def write(
        connection: Connection, batch: Sequence[Upsert], guard: TombstoneGuard, rewrite_equal: bool, now: datetime
    ) -> WriteResult:
        tombstoned = blocked_inserts(connection, plan, batch, guard)
        _prepare_staging(connection, staging)
        _copy_staged(connection, staging, staging.staged.rows(batch, tombstoned))
        written = connection.execute(staging.apply[rewrite_equal], {"now": plan.encode_time(now)}).rowcount
        stale: set[str] = set()
        if written < len(batch) - len(tombstoned):
            stale = {str(record_id) for record_id in connection.execute(staging.unwritten).scalars()}
        return staged_result(batch, stale, tombstoned)

    return write


def _copy_staged(connection: Connection, staging: PostgresqlStaging, rows: Iterator[tuple[object, ...]]) -> None:
    driver: Any = connection.connection.driver_connection
    with driver_errors(connection, staging.copy, session_broken=_staging_gone), driver.cursor() as cursor:
        cursor.adapters.register_dumper(Decimal, _DecimalAsText)  # this cursor's adapters only
        with cursor.copy(staging.copy) as copy:
            copy.set_types(staging.types)
            write_row = copy.write_row
            for row in rows:
                write_row(row)


# --- SQL Server ---------------------------------------------------------------------------------------------

#: The session temporary table SQL Server's bulk path stages rows in (recreated per batch, like the target).
MSSQL_STAGING = "#dataexport_stage"


def _mssql_quote(name: str | None) -> str:
    return "[" + str(name).replace("]", "]]") + "]"


@dataclass(frozen=True, slots=True)
class MssqlStaging:
    """The statements of the SQL Server bulk path for one plan."""

    columns: tuple[str, ...]
    #: Drops a staging table left in the session, then creates it empty with the target's column types.
    stage: str
    #: One staged row; ``{placeholder}`` is the driver's parameter marker.
    insert_template: str
    #: The guarded ``MERGE`` from the staging table, per ``rewrite_equal`` (False, True).
    merge: tuple[str, str]

    @classmethod
    def of(cls, plan: WritePlan) -> MssqlStaging:
        """Build the statements of ``plan``."""
        quote = _mssql_quote
        target = f"{quote(plan.schema)}.{quote(plan.table)}" if plan.schema else quote(plan.table)
        columns = plan.row_columns
        listed = ", ".join(quote(c) for c in columns)
        stage = (
            f"IF OBJECT_ID(N'tempdb..{MSSQL_STAGING}') IS NOT NULL DROP TABLE {MSSQL_STAGING}; "
            f"SELECT TOP 0 {listed} INTO {MSSQL_STAGING} FROM {target}"
        )
        insert = f"INSERT INTO {MSSQL_STAGING} ({listed}) VALUES ({', '.join('{placeholder}' for _ in columns)})"
        kept = {plan.id_column, plan.created_column}
        update = [c for c in columns if c not in kept]
        merge = tuple(
            mssql_merge(target, MSSQL_STAGING, plan.id_column, plan.version_column, columns, update, rewrite_equal)
            for rewrite_equal in (False, True)
        )
        return cls(columns, stage, insert, (merge[0], merge[1]))

    def insert(self, placeholder: str) -> str:
        """The staged-row insert with the driver's parameter marker (``?`` for pyodbc, ``%s`` for pymssql)."""
        return self.insert_template.replace("{placeholder}", placeholder)


def mssql_staged_upsert(plan: WritePlan) -> BulkWriter:
    """The SQL Server bulk path of ``plan``: decided rows into ``#`` staging, one guarded MERGE."""
    staging = MssqlStaging.of(plan)

    def write(
        connection: Connection, batch: Sequence[Upsert], guard: TombstoneGuard, rewrite_equal: bool, now: datetime
    ) -> WriteResult:
        decided = decide_upserts(connection, plan, batch, guard, rewrite_equal)
        rows = written_rows(plan, batch, decided, now)
        if rows:
            connection.exec_driver_sql(staging.stage)
            placeholder = "?" if connection.dialect.loaded_dbapi.paramstyle == "qmark" else "%s"
            send_rows(connection, staging.insert(placeholder), [tuple(row[c] for c in staging.columns) for row in rows])
            connection.exec_driver_sql(staging.merge[rewrite_equal])
        return decided_result(plan, rows, decided)

    return write


def send_rows(connection: Connection, statement: str, rows: Sequence[tuple[object, ...]]) -> None:
    """``executemany`` on the driver cursor, with pyodbc's ``fast_executemany`` where the driver has it
    (parameter arrays in a few round trips instead of one per row)."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with driver_errors(connection, statement):
            if hasattr(cursor, "fast_executemany"):
                cursor.fast_executemany = True
            cursor.executemany(statement, rows)
    finally:
        cursor.close()
