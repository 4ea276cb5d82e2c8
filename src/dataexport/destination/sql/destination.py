"""``SqlDestination``: the :class:`~dataexport.destination.base.Destination` over a SQLAlchemy engine.

Dialect-agnostic: everything engine-specific comes from the :class:`~.dialects.SqlDialect` entry of the
engine (capabilities, types, statements, error table). The layout of each table is read once and kept,
and refreshed by the ``ensure_*`` methods; columns a table lacks are simply not written (DataOnly mode).

Test seam: to make the destination refuse one record, install a trigger on its table, e.g. on SQLite
``CREATE TRIGGER reject BEFORE INSERT ON account WHEN NEW.Id = '<id>' BEGIN SELECT RAISE(ABORT,
'rejected by test'); END`` (and the same ``BEFORE UPDATE``). The refusal is a record failure: the rest of
the batch commits and the record comes back in :attr:`WriteResult.failures` with the trigger's message.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select

from dataexport.destination.base import Capabilities, RecordFailure, TableChanges, WriteResult, require_intersect
from dataexport.destination.evolution import TableLayout
from dataexport.destination.sql import metadata_tables
from dataexport.destination.sql.context import SqlContext, translated_errors
from dataexport.destination.sql.ddl import ensure_table
from dataexport.destination.sql.dialects import dialect_of
from dataexport.destination.sql.engine import reading
from dataexport.destination.sql.isolation import write_isolated
from dataexport.destination.sql.layout import read_layout
from dataexport.destination.sql.plans import build_write_plan
from dataexport.destination.sql.seen import SqlSeenSet
from dataexport.destination.sql.writes import (
    WritePlan,
    execute_deletes,
    execute_upserts,
    read_stored,
    table_clause,
)
from dataexport.domain.changes import Delete, Upsert
from dataexport.domain.columns import column_specs
from dataexport.domain.failures import ChangeType
from dataexport.domain.guards import NO_TOMBSTONES, TombstoneGuard
from dataexport.domain.metadata import EntityMetadataRows
from dataexport.domain.schema import EntitySchema, ManyToManyRelationship
from dataexport.errors import TableNotUsable

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The service clock: aware UTC now."""
    return datetime.now(UTC)


class SqlDestination:
    """One export profile's destination database (DES §6)."""

    def __init__(
        self,
        engine: Engine,
        *,
        table_prefix: str = "",
        schema_name: str | None = None,
        clock: Clock = utc_now,
        bulk_paths: bool = True,
    ) -> None:
        """Args:
        bulk_paths: use the dialect's fast path for large batches where it has one (False: always the row
            statement with executemany; for comparisons such as ``bench/write_throughput.py``).
        """
        dialect = dialect_of(engine)
        if not bulk_paths:
            dialect = replace(dialect, bulk_upsert=None)
        self._engine = engine
        self._context = SqlContext(dialect, dialect.naming(table_prefix, schema_name), engine.dialect)
        self._clock = clock
        self._layouts: dict[str, TableLayout] = {}
        self._plans: dict[str, tuple[EntitySchema, TableLayout, WritePlan]] = {}

    @property
    def capabilities(self) -> Capabilities:
        """What this destination can do."""
        return self._context.dialect.capabilities

    def table_name(self, logical_name: str) -> str:
        """The destination table of an entity (``crm_account``)."""
        return self._context.naming.entity_table(logical_name)

    def ensure_entity_table(self, schema: EntitySchema) -> TableChanges:
        """Create or evolve the entity's table (see the Protocol)."""
        table = self.table_name(schema.logical_name)
        with translated_errors(self._context, schema.logical_name), self._engine.begin() as connection:
            changes, layout = ensure_table(connection, self._context, schema.logical_name, table, column_specs(schema))
        self._layouts[table] = layout
        return changes

    def ensure_intersect_table(self, relationship: ManyToManyRelationship, schema: EntitySchema) -> TableChanges:
        """Create or evolve the intersect table of ``relationship`` (see the Protocol)."""
        require_intersect(relationship, schema)
        return self.ensure_entity_table(schema)

    def ensure_metadata_tables(self, *, delete_log: bool) -> None:
        """Create the metadata tables (and DeleteLog) if missing."""
        tables = metadata_tables.METADATA_TABLES + ((metadata_tables.DELETE_LOG,) if delete_log else ())
        with translated_errors(self._context), self._engine.begin() as connection:
            metadata_tables.create_fixed_tables(connection, self._context, tables)

    def refresh_metadata(self, rows: EntityMetadataRows, *, changed_columns: Collection[str] = ()) -> None:
        """Store one entity's metadata rows in one transaction (see the Protocol)."""
        now = self._clock()
        with translated_errors(self._context, rows.entity), self._engine.begin() as connection:
            metadata_tables.refresh_entity_metadata(connection, self._context, rows, changed_columns, now)

    def has_table(self, logical_name: str) -> bool:
        """Whether the entity's table exists."""
        with translated_errors(self._context, logical_name), reading(self._engine) as connection:
            return read_layout(connection, self.table_name(logical_name), self._context.naming.schema) is not None

    def apply_upserts(
        self,
        schema: EntitySchema,
        upserts: Sequence[Upsert],
        *,
        guard: TombstoneGuard = NO_TOMBSTONES,
        rewrite_equal: bool = False,
    ) -> WriteResult:
        """Guarded upserts in one transaction, refused records isolated (see the Protocol)."""
        if not upserts:
            return WriteResult()
        plan, now = self._plan(schema), self._clock()

        def write(connection: Connection, batch: Sequence[Upsert]) -> WriteResult:
            return execute_upserts(connection, plan, batch, guard=guard, rewrite_equal=rewrite_equal, now=now)

        def describe(connection: Connection, upsert: Upsert, message: str) -> RecordFailure:
            stored = read_stored(connection, plan.target(), plan.id_column, plan.version_column, [upsert.record_id])
            change_type = ChangeType.UPDATE if stored else ChangeType.NEW
            return RecordFailure(upsert.record_id, upsert.version, change_type, message)

        return write_isolated(self._engine, self._context, schema.logical_name, upserts, write, describe)

    def apply_deletes(self, schema: EntitySchema, deletes: Sequence[Delete], *, write_delete_log: bool) -> WriteResult:
        """Deletes with DeleteLog rows in one transaction (see the Protocol)."""
        if not deletes:
            return WriteResult()
        plan, now = self._plan(schema), self._clock()
        log = metadata_tables.delete_log_target(self._context, schema.logical_name) if write_delete_log else None
        target = plan.target()

        def write(connection: Connection, batch: Sequence[Delete]) -> WriteResult:
            return execute_deletes(
                connection, target, plan.id_column, plan.version_column, batch, delete_log=log, now=now
            )

        def describe(_connection: Connection, change: Delete, message: str) -> RecordFailure:
            return RecordFailure(change.record_id, change.version, ChangeType.DELETE, message)

        return write_isolated(self._engine, self._context, schema.logical_name, deletes, write, describe)

    def seen_set(self, schema: EntitySchema) -> SqlSeenSet:
        """The re-baseline seen-set staging table of the entity."""
        plan = self._plan(schema)

        def delete(batch: Sequence[Delete], write_delete_log: bool) -> WriteResult:
            return self.apply_deletes(schema, batch, write_delete_log=write_delete_log)

        return SqlSeenSet(self._engine, self._context, schema, plan.table, delete)

    def iter_record_ids(self, schema: EntitySchema, *, chunk_size: int = 1000) -> Iterator[tuple[str, ...]]:
        """Every Id of the entity's table in ascending order, in chunks."""
        plan = self._plan(schema)
        key = table_clause(plan.table, plan.schema, [plan.id_column], plan.types).c[plan.id_column]
        after = ""
        while True:
            query = select(key).order_by(key).limit(chunk_size)
            query = query.where(key > after) if after else query  # '' is no valid uuid on PostgreSQL
            with translated_errors(self._context, schema.logical_name), reading(self._engine) as connection:
                chunk = tuple(str(row[0]) for row in connection.execute(query))
            if not chunk:
                return
            yield chunk
            after = chunk[-1]

    def _plan(self, schema: EntitySchema) -> WritePlan:
        table = self.table_name(schema.logical_name)
        layout = self._layouts.get(table) or self._read_layout(schema.logical_name, table)
        cached = self._plans.get(table)
        if cached is not None and cached[0] == schema and cached[1] == layout:
            return cached[2]
        plan = build_write_plan(self._context, schema, layout)
        self._plans[table] = (schema, layout, plan)
        return plan

    def _read_layout(self, entity: str, table: str) -> TableLayout:
        with translated_errors(self._context, entity), reading(self._engine) as connection:
            layout = read_layout(connection, table, self._context.naming.schema)
        if layout is None:
            raise TableNotUsable(f"Table '{table}' does not exist", entity=entity)
        self._layouts[table] = layout
        return layout
