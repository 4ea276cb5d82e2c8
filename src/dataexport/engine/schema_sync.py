"""Keeping a subject's table and metadata rows in step with Dataverse's metadata (DES §6.5, §6.9, §7.8).

The schema of each subject is cached per process and read again every ``metadata_refresh_interval``, and at
once when a page carries an attribute the cached schema does not know (R7). Applying a schema runs the
idempotent DDL (metadata tables, DeleteLog, the entity or intersect table with added and widened columns)
and refreshes the metadata rows. A column whose type changed is left alone: one failure entry (RecordId
``N/A``) says so, and the other columns keep syncing.

The subject's ``metadata_stamp`` holds a digest of the schema last applied and of its type changes, so a
restart or another worker does not append the same type-change entry again.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

from dataexport.destination.base import TableChanges, TypeChange
from dataexport.domain.failures import ChangeType
from dataexport.domain.metadata import entity_metadata_rows
from dataexport.domain.schema import EntitySchema, ManyToManyRelationship
from dataexport.engine.context import SyncContext
from dataexport.engine.failure_log import record_subject_failure
from dataexport.engine.subjects import find_relationship
from dataexport.errors import TableNotUsable
from dataexport.store.values import SyncKey, SyncKind

_DIGEST_CHARS = 32


@dataclass(frozen=True, slots=True)
class SubjectSchema:
    """A subject's schema as last read.

    Attributes:
        schema: the entity (for a relationship: its intersect entity).
        relationship: the N:N relationship, for a relationship subject.
        read_at: when it was read from Dataverse.
        unknown: attributes rows carried that even this fresh schema does not know (no refresh for them again).
    """

    schema: EntitySchema
    relationship: ManyToManyRelationship | None
    read_at: datetime
    unknown: frozenset[str] = frozenset()

    @property
    def digest(self) -> str:
        """A digest of the schema and relationship, to tell whether anything changed."""
        text = self.schema.model_dump_json() + (self.relationship.model_dump_json() if self.relationship else "")
        return hashlib.sha256(text.encode()).hexdigest()[:_DIGEST_CHARS]


def type_changes_digest(changes: Collection[TypeChange]) -> str:
    """A digest of a set of type changes ('' when there are none)."""
    if not changes:
        return ""
    text = "\n".join(sorted(f"{c.column}:{c.existing_type}->{c.required_type}" for c in changes))
    return hashlib.sha256(text.encode()).hexdigest()[:_DIGEST_CHARS]


def split_stamp(stamp: str | None) -> tuple[str | None, str]:
    """The schema digest and the type-change digest of a stored stamp."""
    if not stamp:
        return None, ""
    schema_digest, _, types_digest = stamp.partition(":")
    return schema_digest, types_digest


class SchemaSync:
    """The per-process schema cache of one profile and the step that applies a schema (thread-safe)."""

    def __init__(self, context: SyncContext) -> None:
        self._context = context
        self._cache: dict[SyncKey, SubjectSchema] = {}
        self._stamps: dict[SyncKey, str] = {}
        self._lock = threading.Lock()

    def current(self, key: SyncKey, stamp: str | None) -> SubjectSchema:
        """The subject's schema, read again when not cached or older than the refresh interval.

        A schema seen for the first time in this process, or different from the one applied last, is applied.

        Raises:
            TerminalError: the table cannot be created or adopted, the entity or relationship is gone.
            TransientError: nothing was applied; retry.
        """
        with self._lock:
            cached = self._cache.get(key)
        now = self._context.clock()
        if cached is not None and now - cached.read_at < self._context.settings.metadata_refresh_interval:
            return cached
        fresh = self._read(key, now)
        if cached is None or fresh.digest != cached.digest:
            self.apply(key, fresh, stamp)
        return self._keep(key, fresh)

    def refresh_for_unknown(self, key: SyncKey, unknown: frozenset[str], stamp: str | None) -> SubjectSchema | None:
        """Read and apply the schema again because rows carry ``unknown`` attributes (R7, DES §6.9).

        Returns the new schema, or None when nothing is to be done: DataOnly mode (unknown attributes are
        skipped) or every attribute in ``unknown`` was already missing from the freshest metadata.
        """
        with self._lock:
            cached = self._cache.get(key)
        if not self._context.writes_ddl or (cached is not None and unknown <= cached.unknown):
            return None
        fresh = self._read(key, self._context.clock())
        self.apply(key, fresh, stamp)
        still_unknown = unknown - frozenset(fresh.schema.attributes_by_name)
        return self._keep(key, replace(fresh, unknown=still_unknown))

    def forget(self, key: SyncKey) -> None:
        """Drop the cached schema (the next step reads and applies it again)."""
        with self._lock:
            self._cache.pop(key, None)
            self._stamps.pop(key, None)

    def apply(self, key: SyncKey, subject: SubjectSchema, stamp: str | None) -> None:
        """Run the DDL and the metadata refresh for ``subject`` (only a table check in DataOnly mode).

        ``stamp`` is the subject's stored ``metadata_stamp``; a stamp this object wrote since is newer and wins.
        """
        context = self._context
        with self._lock:
            stamp = self._stamps.get(key, stamp)
        if not context.writes_ddl:
            self._require_table(subject.schema)
            return
        context.destination.ensure_metadata_tables(delete_log=context.profile.write_delete_log)
        changes = self._ensure_table(subject)
        rows = entity_metadata_rows(subject.schema)
        context.destination.refresh_metadata(rows, changed_columns=changes.changed_attributes)
        types_digest = type_changes_digest(changes.type_changes)
        if changes.type_changes and types_digest != split_stamp(stamp)[1]:
            for change in changes.type_changes:
                record_subject_failure(context, key, subject.schema.logical_name, ChangeType.UPDATE, change.reason)
        new_stamp = f"{subject.digest}:{types_digest}"
        context.store.states.set_metadata_stamp(key, new_stamp)
        with self._lock:
            self._stamps[key] = new_stamp

    def _ensure_table(self, subject: SubjectSchema) -> TableChanges:
        destination = self._context.destination
        if subject.relationship is not None:
            return destination.ensure_intersect_table(subject.relationship, subject.schema)
        return destination.ensure_entity_table(subject.schema)

    def _require_table(self, schema: EntitySchema) -> None:
        if not self._context.destination.has_table(schema.logical_name):
            message = f"Table of '{schema.logical_name}' is missing and DataOnly mode creates none"
            raise TableNotUsable(message, entity=schema.logical_name)

    def _read(self, key: SyncKey, now: datetime) -> SubjectSchema:
        source, profile = self._context.source, self._context.profile
        if key.kind is SyncKind.ENTITY:
            return SubjectSchema(source.entity_schema(key.name), None, now)
        relationship = find_relationship(source, profile, key.name)
        return SubjectSchema(source.entity_schema(relationship.intersect_entity), relationship, now)

    def _keep(self, key: SyncKey, subject: SubjectSchema) -> SubjectSchema:
        with self._lock:
            self._cache[key] = subject
        return subject
