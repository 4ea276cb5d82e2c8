"""Write statements and their execution inside one transaction (DES §6.7, §6.8, §7.3, §7.5).

Each executor runs on a connection whose transaction the caller owns, reads the stored versions of the
batch's ids first, decides every record with the pure guards of :mod:`dataexport.domain.guards`, then
sends only the rows that change. The statements carry the version guard themselves as well, so a
statement replayed on its own is still harmless. Batches of at least :data:`BULK_MIN_ROWS` records take
the dialect's bulk path instead, where it has one (:mod:`.bulk`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    any_,
    bindparam,
    delete,
    insert,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql import TableClause, column, quoted_name, table
from sqlalchemy.sql.functions import Function

from dataexport.destination.base import RemovedRow, WriteResult
from dataexport.destination.sql.types import Encoder, SqlType, identity
from dataexport.domain.changes import Delete, Upsert, latest_per_id
from dataexport.domain.columns import TypeKind
from dataexport.domain.guards import ABSENT, StoredRow, TombstoneGuard, UpsertDecision, decide_upsert, should_delete

_WRITTEN = frozenset({UpsertDecision.INSERT, UpsertDecision.UPDATE})
CHUNK = 500  # ids per IN list: well under every engine's bind-parameter limit
ARRAY_CHUNK = 10_000  # ids per array parameter

UpsertBuilder = Callable[[TableClause, str, str, Sequence[str], bool], Executable]
#: A dialect's fast path prepared for one plan: (connection, batch with one upsert per id, guard,
#: rewrite_equal, now) -> the result, exactly as :func:`execute_upserts` would report it.
BulkWriter = Callable[[Connection, Sequence[Upsert], TombstoneGuard, bool, datetime], WriteResult]
#: Prepares a dialect's fast path for a plan (its statements are built once per plan, not per batch); None:
#: the plan cannot take it.
BulkUpsert = Callable[["WritePlan"], BulkWriter | None]
#: Batches with at least this many records take the dialect's bulk path, if it has one.
BULK_MIN_ROWS = 200


class BatchNotEncodable(Exception):
    """A bulk path met a value it cannot encode (a Python type its format does not take): the transaction
    is aborted and :mod:`.isolation` redoes the batch row by row, where the driver binds each value."""


def quoted(name: str) -> quoted_name:
    """An identifier that is always quoted."""
    return quoted_name(name, quote=True)


def table_clause(
    name: str, schema: str | None, columns: Sequence[str], types: Mapping[str, SqlType] | None = None
) -> TableClause:
    """A lightweight table for DML; values are bound as given (encoders ran before).

    ``types`` gives columns a SQL type where the driver must cast bound values (PostgreSQL ``uuid``).
    """
    typed = types or {}
    return table(
        quoted(name),
        *(column(quoted(c), typed.get(c)) for c in columns),
        schema=quoted(schema) if schema else None,
    )


def on_conflict_upsert(
    insert: Callable[[TableClause], Any],
) -> Callable[[TableClause, str, str, Sequence[str], bool], Executable]:
    """The guarded ``INSERT ... ON CONFLICT (Id) DO UPDATE SET ... WHERE t.v IS NULL OR excluded.v > t.v``
    (``>=`` to rewrite equal versions) of a dialect whose ``insert`` has ``on_conflict_do_update``."""

    def upsert(
        target: TableClause, id_column: str, version_column: str, update_columns: Sequence[str], rewrite_equal: bool
    ) -> Executable:
        statement = insert(target)
        stored, incoming = target.c[version_column], statement.excluded[version_column]
        newer = incoming >= stored if rewrite_equal else incoming > stored
        return statement.on_conflict_do_update(  # type: ignore[no-any-return]
            index_elements=[target.c[id_column]],
            set_={name: statement.excluded[name] for name in update_columns},
            where=or_(stored.is_(None), newer),
        )

    return upsert


sqlite_upsert = on_conflict_upsert(sqlite.insert)
postgresql_upsert = on_conflict_upsert(postgresql.insert)


def mysql_upsert(
    target: TableClause, id_column: str, version_column: str, update_columns: Sequence[str], rewrite_equal: bool
) -> Executable:
    """``INSERT ... ON DUPLICATE KEY UPDATE c = IF(guard, VALUES(c), c), ..., versionnumber = IF(...)``.

    Only the ``VALUES(col)`` form both MySQL and MariaDB accept (DES §6.8); the assignments run left to
    right, so ``versionnumber`` comes last and every earlier guard still sees the stored version.
    """
    del id_column  # the primary key decides the duplicate
    statement = mysql.insert(target)
    stored = target.c[version_column]
    incoming: ColumnElement[Any] = literal_column(f"VALUES({_mysql_quote(version_column)})")
    newer = incoming >= stored if rewrite_equal else incoming > stored
    guard = or_(stored.is_(None), newer)
    ordered = [name for name in update_columns if name != version_column] + [version_column]
    assignments: list[tuple[str, ColumnElement[Any]]] = []
    for name in ordered:
        incoming_value: ColumnElement[Any] = literal_column(f"VALUES({_mysql_quote(name)})")
        chosen: Function[Any] = Function("IF", guard, incoming_value, target.c[name])
        assignments.append((name, chosen))
    return statement.on_duplicate_key_update(assignments)


def mssql_upsert(
    target: TableClause, id_column: str, version_column: str, update_columns: Sequence[str], rewrite_equal: bool
) -> Executable:
    """A guarded ``MERGE`` of one bound row (SQL Server; DES §6.8), run with executemany."""
    quote = _mssql_quote
    name = f"{quote(target.schema)}.{quote(target.name)}" if target.schema else quote(target.name)
    columns = [c.name for c in target.columns]
    source = "(SELECT " + ", ".join(f":{c} AS {quote(c)}" for c in columns) + ")"
    return text(mssql_merge(name, source, id_column, version_column, columns, update_columns, rewrite_equal))


def mssql_merge(
    target: str,
    source: str,
    id_column: str,
    version_column: str,
    columns: Sequence[str],
    update_columns: Sequence[str],
    rewrite_equal: bool,
) -> str:
    """``MERGE INTO <target> WITH (HOLDLOCK) AS t USING <source> AS s ON <ids> WHEN MATCHED AND <version
    guard> THEN UPDATE ... WHEN NOT MATCHED THEN INSERT ...;`` (``target`` quoted, ``source`` a table or a
    parenthesized SELECT)."""
    quote = _mssql_quote
    compare = ">=" if rewrite_equal else ">"
    stored, incoming = f"t.{quote(version_column)}", f"s.{quote(version_column)}"
    assignments = ", ".join(f"t.{quote(c)} = s.{quote(c)}" for c in update_columns)
    return (
        f"MERGE INTO {target} WITH (HOLDLOCK) AS t USING {source} AS s "
        f"ON t.{quote(id_column)} = s.{quote(id_column)} "
        f"WHEN MATCHED AND ({stored} IS NULL OR {incoming} {compare} {stored}) THEN UPDATE SET {assignments} "
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(f's.{quote(c)}' for c in columns)});"
    )


def _mssql_quote(name: str | None) -> str:
    return "[" + str(name).replace("]", "]]") + "]"


def _mysql_quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True, slots=True)
class PlannedColumn:
    """A value column: the key in :attr:`Upsert.values`, the destination column, the encoder."""

    key: str
    column: str
    encode: Encoder


@dataclass(frozen=True, slots=True)
class WritePlan:
    """How upserts of one entity become rows of its table (columns present and writable only)."""

    table: str
    schema: str | None
    id_column: str
    version_column: str
    created_column: str | None
    modified_column: str | None
    columns: tuple[PlannedColumn, ...]
    encode_time: Encoder
    upsert: UpsertBuilder
    #: SQL types of the columns whose bound values need a cast (empty where none do).
    types: Mapping[str, SqlType] = field(default_factory=dict)
    #: The logical type of every row column (what the bulk paths stage).
    kinds: Mapping[str, TypeKind] = field(default_factory=dict)
    #: The dialect's bulk path prepared for this plan (None: the row statement with executemany).
    bulk: BulkWriter | None = None
    #: An array type of the id for ``= ANY(:ids)`` look-ups (None: ``IN`` lists).
    id_array: SqlType | None = None

    @property
    def row_columns(self) -> tuple[str, ...]:
        """Every column a row carries, in order, without duplicates."""
        system = (self.id_column, self.created_column, self.modified_column)
        names = [name for name in system if name] + [c.column for c in self.columns] + [self.version_column]
        return tuple(dict.fromkeys(names))

    def target(self) -> TableClause:
        """The table clause of the plan's columns."""
        return table_clause(self.table, self.schema, self.row_columns, self.types)

    def row(self, upsert: Upsert, now: object) -> dict[str, object]:
        """The bound row of ``upsert``; sink times are ``now`` (already encoded)."""
        row: dict[str, object] = {self.id_column: upsert.record_id}
        for name in (self.created_column, self.modified_column):
            if name:
                row[name] = now
        get = upsert.values.get
        for planned in self.columns:
            value = get(planned.key)
            # NULL is NULL on every engine; skipping the call matters for large batches.
            row[planned.column] = value if value is None or planned.encode is identity else planned.encode(value)
        row[self.version_column] = upsert.version
        return row

    def statement(self, rewrite_equal: bool) -> Executable:
        """The guarded upsert; ``SinkCreatedOn`` and ``Id`` are never updated."""
        kept = {self.id_column, self.created_column}
        update = [name for name in self.row_columns if name not in kept]
        return self.upsert(self.target(), self.id_column, self.version_column, update, rewrite_equal)


def chunked(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    """``items`` in slices of ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def read_stored(
    connection: Connection,
    target: TableClause,
    id_column: str,
    version_column: str,
    ids: Sequence[str],
    id_array: SqlType | None = None,
) -> dict[str, StoredRow]:
    """The stored version of each of ``ids`` that exists.

    With ``id_array`` (an array type of the id, PostgreSQL) the ids go as one array parameter per
    :data:`ARRAY_CHUNK` (``= ANY(:ids)``) instead of ``IN`` lists of :data:`CHUNK`.
    """
    stored: dict[str, StoredRow] = {}
    id_col, version_col = target.c[id_column], target.c[version_column]
    for chunk in chunked(ids, ARRAY_CHUNK if id_array is not None else CHUNK):
        if id_array is not None:
            condition = id_col == any_(bindparam("ids", list(chunk), type_=id_array))
        else:
            condition = id_col.in_(chunk)
        for record_id, version in connection.execute(select(id_col, version_col).where(condition)):
            stored[str(record_id)] = StoredRow(True, version)
    return stored


def execute_upserts(
    connection: Connection,
    plan: WritePlan,
    upserts: Sequence[Upsert],
    *,
    guard: TombstoneGuard,
    rewrite_equal: bool,
    now: datetime,
) -> WriteResult:
    """Apply guarded upserts on ``connection`` (the caller commits)."""
    batch = latest_per_id(upserts)
    # Bulk paths run at the top level of the transaction: PostgreSQL's tells its rows by the transaction id.
    if plan.bulk is not None and len(batch) >= BULK_MIN_ROWS and not connection.in_nested_transaction():
        return plan.bulk(connection, batch, guard, rewrite_equal, now)
    decided = decide_upserts(connection, plan, batch, guard, rewrite_equal)
    rows = written_rows(plan, batch, decided, now)
    if rows:
        connection.execute(plan.statement(rewrite_equal), rows)
    return decided_result(plan, rows, decided)


def decide_upserts(
    connection: Connection, plan: WritePlan, batch: Sequence[Upsert], guard: TombstoneGuard, rewrite_equal: bool
) -> dict[str, UpsertDecision]:
    """What each upsert of ``batch`` (one per id) does, from the stored versions read first."""
    ids = [u.record_id for u in batch]
    stored = read_stored(connection, plan.target(), plan.id_column, plan.version_column, ids, plan.id_array)
    return {
        u.record_id: decide_upsert(
            stored.get(u.record_id, ABSENT), u.record_id, u.version, guard, rewrite_equal=rewrite_equal
        )
        for u in batch
    }


def written_rows(
    plan: WritePlan, batch: Sequence[Upsert], decided: Mapping[str, UpsertDecision], now: datetime
) -> list[dict[str, object]]:
    """The bound rows of the upserts that insert or update."""
    encoded_now = plan.encode_time(now)
    return [plan.row(u, encoded_now) for u in batch if decided[u.record_id] in _WRITTEN]


def decided_result(
    plan: WritePlan, rows: Sequence[Mapping[str, object]], decided: Mapping[str, UpsertDecision]
) -> WriteResult:
    """The result of writing ``rows`` after ``decided``."""
    return WriteResult(
        applied=tuple(str(row[plan.id_column]) for row in rows),
        stale=tuple(i for i, d in decided.items() if d is UpsertDecision.STALE),
        tombstoned=tuple(i for i, d in decided.items() if d is UpsertDecision.TOMBSTONED),
    )


@dataclass(frozen=True, slots=True)
class DeleteLogTarget:
    """Where and how DeleteLog rows are written; ``names`` maps DES column names to destination names."""

    table: TableClause
    entity: str
    encode_time: Encoder
    names: Mapping[str, str]


def execute_deletes(
    connection: Connection,
    target: TableClause,
    id_column: str,
    version_column: str,
    deletes: Sequence[Delete],
    *,
    delete_log: DeleteLogTarget | None,
    now: datetime,
) -> WriteResult:
    """Apply deletes (and their DeleteLog rows) on ``connection`` (the caller commits)."""
    batch = latest_per_id(deletes)
    stored = read_stored(connection, target, id_column, version_column, [d.record_id for d in batch])
    removed = [
        RemovedRow(d.record_id, stored.get(d.record_id, ABSENT).version, d.version)
        for d in batch
        if should_delete(stored.get(d.record_id, ABSENT), d.version)
    ]
    present = [row.record_id for row in removed if row.record_id in stored]
    for chunk in chunked(present):
        connection.execute(delete(target).where(target.c[id_column].in_(chunk)))
    if delete_log is not None and removed:
        connection.execute(insert(delete_log.table), _log_rows(delete_log, removed, now))
    skipped = tuple(d.record_id for d in batch if d.record_id not in {r.record_id for r in removed})
    return WriteResult(applied=tuple(r.record_id for r in removed), stale=skipped, removed=tuple(removed))


def _log_rows(log: DeleteLogTarget, removed: Sequence[RemovedRow], now: datetime) -> list[dict[str, object]]:
    when, names = log.encode_time(now), log.names
    return [
        {
            names["EntityName"]: log.entity,
            names["RecordId"]: row.record_id,
            names["SinkDeleteTime"]: when,
            names["VersionNumber"]: row.version,
        }
        for row in removed
    ]
