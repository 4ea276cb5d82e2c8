"""The ``Destination`` Protocol the engine writes through, with its contract, and the values it returns.

Guarantees shared by every method:

- Each write method is **one transaction per call** (a batch), except where it says otherwise.
- Writes are **idempotent**: replaying any batch leaves the destination unchanged (version guard, DES §7.3).
- Errors are raised from :mod:`dataexport.errors` only: a :class:`~dataexport.errors.TransientError` means
  nothing of the call was committed and the same call may be retried; a
  :class:`~dataexport.errors.TerminalError` means the entity cannot continue. Record-level failures are
  never raised by the write methods: they are isolated row by row and returned in
  :attr:`WriteResult.failures`, while the rest of the batch commits.
- Tombstones live in the control database, not in the destination: the engine resolves them into a
  :class:`~dataexport.domain.guards.TombstoneGuard` passed to :meth:`Destination.apply_upserts`, and stores
  :meth:`RemovedRow.tombstone` of each :attr:`WriteResult.removed` after :meth:`Destination.apply_deletes`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from dataexport.domain.changes import Delete, Upsert
from dataexport.domain.failures import ChangeType
from dataexport.domain.guards import NO_TOMBSTONES, Tombstone, TombstoneGuard, tombstone_for
from dataexport.domain.metadata import EntityMetadataRows
from dataexport.domain.schema import EntitySchema, ManyToManyRelationship
from dataexport.errors import TableNotUsable


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a destination can do; the engine checks these, never the destination's type.

    Attributes:
        dialect: engine family (``sqlite``, ``postgresql``, ``mysql``, ``mssql``), for messages only.
        bulk_copy: a fast bulk path exists for large batches (PostgreSQL COPY into a staging table; SQL Server
            a staging table and one MERGE); the engine then writes whole pages per batch.
        merge: upserts use ``MERGE`` rather than ``INSERT ... ON CONFLICT``-style statements.
        max_identifier_length: the identifier limit names are truncated to (None: no limit).
        transactional_ddl: DDL commits or rolls back with its transaction.
        schemas: the profile's ``SchemaName`` names a schema (False: ignored, e.g. SQLite).
        seen_set_table: a re-baseline seen-set can be staged in the destination (:meth:`Destination.seen_set`).
        widens_columns: string widening and precision raises are real ALTERs (False: types have no length).
    """

    dialect: str
    bulk_copy: bool = False
    merge: bool = False
    max_identifier_length: int | None = None
    transactional_ddl: bool = False
    schemas: bool = True
    seen_set_table: bool = True
    widens_columns: bool = True


class ColumnChangeKind(StrEnum):
    """A schema change applied to an existing table (DES §6.9)."""

    ADDED = "added"
    WIDENED = "widened"
    PRECISION_RAISED = "precision_raised"


@dataclass(frozen=True, slots=True)
class ColumnChange:
    """One column added or altered; types are the declared SQL types."""

    column: str
    attribute: str | None
    kind: ColumnChangeKind
    new_type: str
    old_type: str | None = None


@dataclass(frozen=True, slots=True)
class TypeChange:
    """An attribute whose column has an incompatible type: the column is left untouched and not written."""

    table: str
    column: str
    attribute: str | None
    existing_type: str
    required_type: str

    @property
    def reason(self) -> str:
        """The failure-entry reason (DES §6.9): names the old and new type."""
        return (
            f"Attribute '{self.attribute or self.column}' changed type: column '{self.column}' of table "
            f"'{self.table}' is {self.existing_type} but the attribute now needs {self.required_type}. "
            "The column is left unchanged and no longer written; rename or drop it to have it re-created."
        )


@dataclass(frozen=True, slots=True)
class TableChanges:
    """What :meth:`Destination.ensure_entity_table` did."""

    table: str
    created: bool = False
    columns: tuple[ColumnChange, ...] = ()
    type_changes: tuple[TypeChange, ...] = ()

    @property
    def changed_attributes(self) -> frozenset[str]:
        """Attributes whose column was added, widened or raised (their AttributeMetadata version moves)."""
        return frozenset(change.attribute for change in self.columns if change.attribute)

    @property
    def is_unchanged(self) -> bool:
        """Nothing was created, altered or reported."""
        return not (self.created or self.columns or self.type_changes)


@dataclass(frozen=True, slots=True)
class RecordFailure:
    """A record the destination refused; ``change_type`` says whether the row existed (DES §8.3)."""

    record_id: str
    version: int | None
    change_type: ChangeType
    message: str


@dataclass(frozen=True, slots=True)
class RemovedRow:
    """A delete that applied.

    Attributes:
        record_id: the deleted id.
        version: the removed row's stored version (None: the row was absent); DeleteLog's ``VersionNumber``.
        delete_version: the version the delete itself carried, if any.
    """

    record_id: str
    version: int | None
    delete_version: int | None = None

    def tombstone(self, now: datetime) -> Tombstone:
        """The tombstone the engine stores for this delete (DES §7.5): the highest version known."""
        return tombstone_for(self.record_id, self.delete_version, self.version, now)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The outcome of one write call, per record id.

    Attributes:
        applied: ids inserted, updated or deleted.
        stale: ids skipped by the version guard (counted as synced).
        tombstoned: ids whose insert the tombstone guard refused (counted as synced).
        failures: records the destination refused (the rest of the batch committed).
        removed: for deletes, what each applied delete removed (to store tombstones).
    """

    applied: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    tombstoned: tuple[str, ...] = ()
    failures: tuple[RecordFailure, ...] = ()
    removed: tuple[RemovedRow, ...] = ()

    def __add__(self, other: WriteResult) -> WriteResult:
        return WriteResult(
            self.applied + other.applied,
            self.stale + other.stale,
            self.tombstoned + other.tombstoned,
            self.failures + other.failures,
            self.removed + other.removed,
        )

    @property
    def synced_count(self) -> int:
        """Changes applied or skipped as stale (DES §4.4 ``SyncedRecords``)."""
        return len(self.applied) + len(self.stale) + len(self.tombstoned)


def require_intersect(relationship: ManyToManyRelationship, schema: EntitySchema) -> None:
    """Check that ``schema`` is the intersect entity of ``relationship``.

    Raises:
        TableNotUsable: it is not.
    """
    if not schema.is_intersect or schema.logical_name != relationship.intersect_entity:
        message = f"'{schema.logical_name}' is not the intersect entity of {relationship.schema_name}"
        raise TableNotUsable(message, entity=schema.logical_name)


class SeenSet(Protocol):
    """The ids read by a re-baseline (DES §7.6), kept so that it survives a crash."""

    def record(self, ids: Iterable[str]) -> None:
        """Add ``ids``; idempotent; durable when it returns. Creates the set if needed.

        Raises:
            TransientError: nothing was recorded; retry.
        """
        ...

    def clear(self) -> None:
        """Empty the set (a re-baseline restarting from the start). Idempotent."""
        ...

    def sweep(self, *, failed_ids: Collection[str], write_delete_log: bool) -> WriteResult:
        """Delete every row whose id is neither in the set nor in ``failed_ids``, as :meth:`apply_deletes` does.

        Runs in batches, each its own transaction; re-running after a crash finishes the sweep. The
        removed rows are in :attr:`WriteResult.removed`, for tombstones.
        """
        ...

    def drop(self) -> None:
        """Remove the set and its storage, after the new delta link is saved. Idempotent."""
        ...


class Destination(Protocol):
    """Where one export profile writes: entity tables, metadata tables, DeleteLog (DES §6)."""

    @property
    def capabilities(self) -> Capabilities:
        """What this destination can do."""
        ...

    def ensure_entity_table(self, schema: EntitySchema) -> TableChanges:
        """Create the entity's table, or adopt and evolve an existing one (DES §6.2-6.4, §6.9).

        Idempotent. Missing columns are added at the end; strings are widened and decimal scales raised
        where the engine has such types. A column whose type no longer fits is never altered: it is reported
        in :attr:`TableChanges.type_changes` and no longer written. Nothing is ever dropped.

        Raises:
            TableNotUsable: the name belongs to a non-table, or the table has no ``Id`` column.
            DestinationAccessDenied: DDL is refused.
            TransientError: nothing changed; retry.
        """
        ...

    def ensure_intersect_table(self, relationship: ManyToManyRelationship, schema: EntitySchema) -> TableChanges:
        """As :meth:`ensure_entity_table` for the intersect entity of an N:N relationship (DES §6.6).

        Raises:
            TableNotUsable: ``schema`` is not the relationship's intersect entity.
        """
        ...

    def ensure_metadata_tables(self, *, delete_log: bool) -> None:
        """Create the six metadata tables, and ``DeleteLog`` when ``delete_log`` (DES §6.5, §6.7). Idempotent."""
        ...

    def refresh_metadata(self, rows: EntityMetadataRows, *, changed_columns: Collection[str] = ()) -> None:
        """Store one entity's metadata rows in one transaction (DES §6.5).

        Label and target rows of the entity (and of the global option sets it uses) are replaced;
        AttributeMetadata rows are updated in place, keeping ``Id``: ``Version`` is raised when a stored field
        differs or the attribute is in ``changed_columns``; rows of removed attributes stay.
        """
        ...

    def has_table(self, logical_name: str) -> bool:
        """Whether the entity's (or intersect entity's) table exists."""
        ...

    def apply_upserts(
        self,
        schema: EntitySchema,
        upserts: Sequence[Upsert],
        *,
        guard: TombstoneGuard = NO_TOMBSTONES,
        rewrite_equal: bool = False,
    ) -> WriteResult:
        """Insert or update rows in one transaction, version-guarded (DES §7.3, §7.5).

        A row is updated only if the incoming version is greater than the stored one (a stored NULL is
        older); equal is a no-op unless ``rewrite_equal`` (an administrator's re-baseline). An absent row is
        inserted unless ``guard`` blocks it. Several upserts of one id: the highest version wins. Sink
        timestamps take one clock value per call; ``SinkCreatedOn`` is kept on update. Columns the table
        lacks, or whose type changed, are not written.
        """
        ...

    def apply_deletes(self, schema: EntitySchema, deletes: Sequence[Delete], *, write_delete_log: bool) -> WriteResult:
        """Delete rows by id in one transaction, with a DeleteLog row each when ``write_delete_log``.

        Deleting an absent row is a no-op that is still logged (VersionNumber NULL). A delete carrying a
        version does not remove a row stored with a newer version (reported stale).
        """
        ...

    def seen_set(self, schema: EntitySchema) -> SeenSet:
        """The re-baseline seen-set of the entity (requires :attr:`Capabilities.seen_set_table`)."""
        ...

    def iter_record_ids(self, schema: EntitySchema, *, chunk_size: int = 1000) -> Iterator[tuple[str, ...]]:
        """Every ``Id`` of the entity's table in ascending order, ``chunk_size`` at a time (keyset paging).

        For a seen-set kept in the control database (DataOnly mode).
        """
        ...
