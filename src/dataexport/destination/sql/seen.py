"""The re-baseline seen-set staged in the destination (DES §6.1, §7.6): ``<prefix>_<entity>SeenIds``.

Ids are added with plain INSERTs of the ones not yet present (no dialect-specific upsert needed); the
sweep walks the entity's ids that are not in the set in key order, in batches, and deletes them through
the destination's normal delete path, so DeleteLog rows and tombstone information come out the same.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence

from sqlalchemy import Column, Connection, Engine, MetaData, PrimaryKeyConstraint, Table, insert, select
from sqlalchemy.schema import DropTable

from dataexport.destination.base import WriteResult
from dataexport.destination.sql.context import SqlContext, translated_errors
from dataexport.destination.sql.ddl import create_table
from dataexport.destination.sql.engine import reading
from dataexport.destination.sql.types import SqlType
from dataexport.destination.sql.writes import chunked, quoted, table_clause
from dataexport.domain.changes import Delete
from dataexport.domain.columns import GUID, ID_COLUMN
from dataexport.domain.schema import EntitySchema

DeleteBatch = Callable[[Sequence[Delete], bool], WriteResult]
SWEEP_BATCH = 1000


class SqlSeenSet:
    """A :class:`~dataexport.destination.base.SeenSet` kept in a staging table of the destination."""

    def __init__(
        self, engine: Engine, context: SqlContext, schema: EntitySchema, entity_table: str, delete: DeleteBatch
    ) -> None:
        self._engine = engine
        self._context = context
        self._entity = schema.logical_name
        self._entity_table = entity_table
        self._name = context.naming.seen_table(schema.logical_name)
        self._id = context.naming.column(ID_COLUMN)
        self._delete = delete

    def _table(self) -> Table:
        column = Column(quoted(self._id), self._context.dialect.declare(GUID), nullable=False)
        schema = quoted(self._context.naming.schema) if self._context.naming.schema else None
        return Table(quoted(self._name), MetaData(), column, PrimaryKeyConstraint(quoted(self._id)), schema=schema)

    def _types(self) -> dict[str, SqlType]:
        return self._context.bind_types({self._id: GUID})

    def _create(self, connection: Connection) -> None:
        create_table(connection, self._context, self._table())

    def record(self, ids: Iterable[str]) -> None:
        """Add ``ids`` (idempotent, one transaction)."""
        wanted = list(dict.fromkeys(ids))
        target = table_clause(self._name, self._context.naming.schema, [self._id], self._types())
        key = target.c[self._id]
        with translated_errors(self._context, self._entity), self._engine.begin() as connection:
            self._create(connection)
            for chunk in chunked(wanted):
                present = {str(row[0]) for row in connection.execute(select(key).where(key.in_(chunk)))}
                missing = [{self._id: record_id} for record_id in chunk if record_id not in present]
                if missing:
                    connection.execute(insert(target), missing)

    def clear(self) -> None:
        """Empty the set (drop and re-create its table)."""
        with translated_errors(self._context, self._entity), self._engine.begin() as connection:
            connection.execute(DropTable(self._table(), if_exists=True))
            self._create(connection)

    def drop(self) -> None:
        """Drop the staging table (the one object the service ever drops)."""
        with translated_errors(self._context, self._entity), self._engine.begin() as connection:
            connection.execute(DropTable(self._table(), if_exists=True))

    def sweep(self, *, failed_ids: Collection[str], write_delete_log: bool) -> WriteResult:
        """Delete rows neither seen nor failed, :data:`SWEEP_BATCH` per transaction."""
        with translated_errors(self._context, self._entity), self._engine.begin() as connection:
            self._create(connection)
        failed = set(failed_ids)
        result, after = WriteResult(), ""
        while True:
            unseen = self._unseen_after(after)
            if not unseen:
                return result
            after = unseen[-1]
            doomed = [Delete(record_id) for record_id in unseen if record_id not in failed]
            if doomed:
                result += self._delete(doomed, write_delete_log)

    def _unseen_after(self, after: str) -> list[str]:
        schema = self._context.naming.schema
        entity = table_clause(self._entity_table, schema, [self._id], self._types())
        seen = table_clause(self._name, schema, [self._id], self._types())
        entity_id, seen_id = entity.c[self._id], seen.c[self._id]
        query = (
            select(entity_id)
            .where(~select(seen_id).where(seen_id == entity_id).exists())
            .order_by(entity_id)
            .limit(SWEEP_BATCH)
        )
        query = query.where(entity_id > after) if after else query  # '' is no valid uuid on PostgreSQL
        with translated_errors(self._context, self._entity), reading(self._engine) as connection:
            return [str(row[0]) for row in connection.execute(query)]
