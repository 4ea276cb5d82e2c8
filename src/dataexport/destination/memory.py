"""``MemoryDestination``: the Destination contract kept in memory, for engine tests.

It applies the same pure rules as the SQL destination (column specs, evolution planning, guards), keeps
rows as dicts, and offers scripted seams: :meth:`MemoryDestination.reject` makes one record fail as the
database would refuse it, :meth:`MemoryDestination.fail_next` makes the next write call raise (e.g. a
:class:`~dataexport.errors.DestinationBusy`) without changing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from dataexport.destination.base import (
    Capabilities,
    ColumnChange,
    ColumnChangeKind,
    RecordFailure,
    RemovedRow,
    TableChanges,
    TypeChange,
    WriteResult,
    require_intersect,
)
from dataexport.destination.evolution import ExistingColumn, TableLayout, TypeFit, plan_evolution, writable_specs
from dataexport.domain.changes import Delete, Upsert, latest_per_id
from dataexport.domain.columns import (
    SINK_CREATED_ON,
    SINK_MODIFIED_ON,
    VERSION_COLUMN,
    ColumnSpec,
    SourceKind,
    column_specs,
)
from dataexport.domain.failures import ChangeType
from dataexport.domain.guards import (
    ABSENT,
    NO_TOMBSTONES,
    StoredRow,
    TombstoneGuard,
    UpsertDecision,
    decide_upsert,
    should_delete,
)
from dataexport.domain.metadata import AttributeRow, EntityMetadataRows
from dataexport.domain.schema import EntitySchema, ManyToManyRelationship
from dataexport.errors import DataExportError, DestinationFault, TableNotUsable

Row = dict[str, object]
MEMORY_CAPABILITIES = Capabilities(dialect="memory", transactional_ddl=True, schemas=False)


@dataclass(frozen=True, slots=True)
class DeleteLogRow:
    """One DeleteLog row."""

    entity: str
    record_id: str
    deleted_at: datetime
    version: int | None


@dataclass(slots=True)
class MemoryTable:
    """An entity table: its layout (declared types are logical type names) and its rows by id."""

    layout: TableLayout
    rows: dict[str, Row]


def _same(name: str) -> str:
    return name


class MemoryDestination:
    """A :class:`~dataexport.destination.base.Destination` in memory (single-threaded use)."""

    def __init__(self, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.tables: dict[str, MemoryTable] = {}
        self.delete_log: list[DeleteLogRow] = []
        self.metadata: dict[str, EntityMetadataRows] = {}
        self.attribute_versions: dict[tuple[str, str], tuple[AttributeRow, int]] = {}
        self.metadata_tables = False
        self.delete_log_table = False
        self.seen_ids: dict[str, set[str]] = {}
        self._clock = clock
        self._rejected: dict[str, str] = {}
        self._faults: list[DataExportError] = []

    @property
    def capabilities(self) -> Capabilities:
        """What this destination can do."""
        return MEMORY_CAPABILITIES

    def reject(self, record_id: str, message: str = "rejected by test") -> None:
        """Seam: refuse every write of ``record_id`` as a record failure."""
        self._rejected[record_id] = message

    def accept(self, record_id: str) -> None:
        """Seam: stop refusing ``record_id`` (undoes :meth:`reject`)."""
        self._rejected.pop(record_id, None)

    def fail_next(self, error: DataExportError) -> None:
        """Seam: the next write call raises ``error`` and changes nothing."""
        self._faults.append(error)

    def raise_scripted_fault(self) -> None:
        """Raise the next error given to :meth:`fail_next`, if any."""
        if self._faults:
            raise self._faults.pop(0)

    def ensure_entity_table(self, schema: EntitySchema) -> TableChanges:
        """Create or evolve the entity's table (see the Protocol)."""
        self.raise_scripted_fault()
        name, specs = schema.logical_name, column_specs(schema)
        if name not in self.tables:
            columns = tuple(ExistingColumn(spec.name, str(spec.type)) for spec in specs)
            self.tables[name] = MemoryTable(TableLayout(name, columns), {})
            return TableChanges(name, created=True)
        return _evolve(self.tables[name], specs)

    def ensure_intersect_table(self, relationship: ManyToManyRelationship, schema: EntitySchema) -> TableChanges:
        """As the SQL destination: the schema must be the relationship's intersect entity."""
        require_intersect(relationship, schema)
        return self.ensure_entity_table(schema)

    def ensure_metadata_tables(self, *, delete_log: bool) -> None:
        """Mark the metadata tables (and DeleteLog) as created."""
        self.raise_scripted_fault()
        self.metadata_tables = True
        self.delete_log_table = self.delete_log_table or delete_log

    def refresh_metadata(self, rows: EntityMetadataRows, *, changed_columns: Collection[str] = ()) -> None:
        """Keep the rows; attribute versions start at 1 and rise on each change."""
        self.raise_scripted_fault()
        self.metadata[rows.entity] = rows
        for row in rows.attributes:
            key = (rows.entity, row.attribute)
            stored = self.attribute_versions.get(key)
            if stored is None:
                self.attribute_versions[key] = (row, 1)
            elif stored[0] != row or row.attribute in changed_columns:
                self.attribute_versions[key] = (row, stored[1] + 1)

    def has_table(self, logical_name: str) -> bool:
        """Whether the entity's table exists."""
        return logical_name in self.tables

    def rows(self, logical_name: str) -> dict[str, Row]:
        """The rows of an entity's table by id (a copy)."""
        return {record_id: dict(row) for record_id, row in self._table(logical_name).rows.items()}

    def _table(self, logical_name: str) -> MemoryTable:
        if logical_name not in self.tables:
            raise TableNotUsable(f"Table '{logical_name}' does not exist", entity=logical_name)
        return self.tables[logical_name]

    def apply_upserts(
        self,
        schema: EntitySchema,
        upserts: Sequence[Upsert],
        *,
        guard: TombstoneGuard = NO_TOMBSTONES,
        rewrite_equal: bool = False,
    ) -> WriteResult:
        """Guarded upserts (see the Protocol)."""
        table = self._table(schema.logical_name)
        self.raise_scripted_fault()
        now = self._clock()
        values = [s for s in column_specs(schema) if s.source.kind is not SourceKind.SYSTEM]
        writable = [name for spec, name in writable_specs(table.layout, values, _same, str)]
        result = WriteResult()
        for upsert in latest_per_id(upserts):
            result += self._upsert(table, upsert, writable, guard, rewrite_equal, now)
        return result

    def _upsert(
        self,
        table: MemoryTable,
        upsert: Upsert,
        columns: list[str],
        guard: TombstoneGuard,
        rewrite_equal: bool,
        now: datetime,
    ) -> WriteResult:
        current = table.rows.get(upsert.record_id)
        stored = StoredRow(True, _version(current)) if current is not None else ABSENT
        decision = decide_upsert(stored, upsert.record_id, upsert.version, guard, rewrite_equal=rewrite_equal)
        if decision is UpsertDecision.STALE:
            return WriteResult(stale=(upsert.record_id,))
        if decision is UpsertDecision.TOMBSTONED:
            return WriteResult(tombstoned=(upsert.record_id,))
        if upsert.record_id in self._rejected:
            change_type = ChangeType.UPDATE if current is not None else ChangeType.NEW
            failure = RecordFailure(upsert.record_id, upsert.version, change_type, self._rejected[upsert.record_id])
            return WriteResult(failures=(failure,))
        row: Row = {name: upsert.values.get(name) for name in columns}
        row[VERSION_COLUMN] = upsert.version
        row[SINK_CREATED_ON] = current[SINK_CREATED_ON] if current is not None else now
        row[SINK_MODIFIED_ON] = now
        table.rows[upsert.record_id] = row
        return WriteResult(applied=(upsert.record_id,))

    def apply_deletes(self, schema: EntitySchema, deletes: Sequence[Delete], *, write_delete_log: bool) -> WriteResult:
        """Deletes with DeleteLog rows (see the Protocol)."""
        table = self._table(schema.logical_name)
        self.raise_scripted_fault()
        if write_delete_log and not self.delete_log_table:
            raise DestinationFault("no such table: DeleteLog", entity=schema.logical_name)
        now = self._clock()
        result = WriteResult()
        for change in latest_per_id(deletes):
            result += self._delete(schema.logical_name, table, change, write_delete_log, now)
        return result

    def _delete(self, entity: str, table: MemoryTable, change: Delete, log: bool, now: datetime) -> WriteResult:
        current = table.rows.get(change.record_id)
        stored = StoredRow(True, _version(current)) if current is not None else ABSENT
        if not should_delete(stored, change.version):
            return WriteResult(stale=(change.record_id,))
        if change.record_id in self._rejected:
            message = self._rejected[change.record_id]
            return WriteResult(failures=(RecordFailure(change.record_id, change.version, ChangeType.DELETE, message),))
        table.rows.pop(change.record_id, None)
        if log:
            self.delete_log.append(DeleteLogRow(entity, change.record_id, now, stored.version))
        removed = RemovedRow(change.record_id, stored.version, change.version)
        return WriteResult(applied=(change.record_id,), removed=(removed,))

    def seen_set(self, schema: EntitySchema) -> MemorySeenSet:
        """The re-baseline seen-set of the entity."""
        return MemorySeenSet(self, schema)

    def iter_record_ids(self, schema: EntitySchema, *, chunk_size: int = 1000) -> Iterator[tuple[str, ...]]:
        """Every id in ascending order, in chunks."""
        ids = sorted(self._table(schema.logical_name).rows)
        for start in range(0, len(ids), chunk_size):
            yield tuple(ids[start : start + chunk_size])


class MemorySeenSet:
    """A :class:`~dataexport.destination.base.SeenSet` kept by a :class:`MemoryDestination`."""

    def __init__(self, destination: MemoryDestination, schema: EntitySchema) -> None:
        self._destination = destination
        self._schema = schema

    @property
    def _ids(self) -> set[str]:
        return self._destination.seen_ids.setdefault(self._schema.logical_name, set())

    def record(self, ids: Iterable[str]) -> None:
        """Add ``ids``."""
        self._destination.raise_scripted_fault()
        self._ids.update(ids)

    def clear(self) -> None:
        """Empty the set."""
        self._ids.clear()

    def sweep(self, *, failed_ids: Collection[str], write_delete_log: bool) -> WriteResult:
        """Delete the rows neither seen nor failed."""
        keep = self._ids | set(failed_ids)
        chunks = self._destination.iter_record_ids(self._schema)
        doomed = [Delete(record_id) for chunk in chunks for record_id in chunk if record_id not in keep]
        return self._destination.apply_deletes(self._schema, doomed, write_delete_log=write_delete_log)

    def drop(self) -> None:
        """Forget the set."""
        self._destination.seen_ids.pop(self._schema.logical_name, None)


def _evolve(table: MemoryTable, specs: Sequence[ColumnSpec]) -> TableChanges:
    """Apply the evolution plan to a memory table: add columns, widen, report type changes."""
    name = table.layout.table
    evolution = plan_evolution(table.layout, specs, _same, str)
    added = tuple(ExistingColumn(spec.name, str(spec.type)) for spec in evolution.add)
    changes = [
        ColumnChange(column.name, spec.attribute, ColumnChangeKind.ADDED, column.declared)
        for column, spec in zip(added, evolution.add, strict=True)
    ]
    for alter in evolution.alter:
        kind = ColumnChangeKind.WIDENED if alter.fit is TypeFit.WIDEN else ColumnChangeKind.PRECISION_RAISED
        changes.append(ColumnChange(alter.column, alter.spec.attribute, kind, alter.required, alter.existing))
    widened = {alter.column: alter.required for alter in evolution.alter}
    kept = tuple(ExistingColumn(c.name, widened.get(c.name, c.declared)) for c in table.layout.columns)
    table.layout = TableLayout(name, kept + added)
    type_changes = tuple(
        TypeChange(name, c.column, c.spec.attribute, c.existing, c.required) for c in evolution.type_changes
    )
    return TableChanges(name, False, tuple(changes), type_changes)


def _version(row: Row | None) -> int | None:
    value = None if row is None else row.get(VERSION_COLUMN)
    return value if isinstance(value, int) else None
