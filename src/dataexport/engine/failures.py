"""The record algorithm of DES §8.2 over the durable retry queue of the control database.

- A record the destination refuses goes to the retry queue with its first retry due ``RetryInterval``
  seconds later (``RetryCount = 0``: given up at once); the stream goes on.
- Each step retries the due records *after* its stream work, so a waiting record never stalls the entity:
  the record is re-read by id from Dataverse (gone: the delete path) and its current version written.
- After ``1 + RetryCount`` failed attempts the record is given up: it leaves the queue, joins the failed
  set, gets one ledger entry and one DES line in the failure store.
- Any later successful write of the record (stream or retry) clears its queue entry and failed-set
  membership; ledger entries are never touched.

Transient and unavailable errors are never record failures: they propagate and stop the step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from dataexport.destination.base import RecordFailure, WriteResult
from dataexport.domain.changes import Delete, Upsert
from dataexport.domain.failures import ChangeType
from dataexport.domain.schema import EntitySchema
from dataexport.domain.sync import GiveUp, RetryPolicy
from dataexport.engine.context import SyncContext
from dataexport.engine.failure_log import publish
from dataexport.engine.writes import write_deletes, write_upserts
from dataexport.errors import ValueConversionError
from dataexport.store.values import Counters, LedgerEntry, QueuedRecord, RetryItem, SyncKey


class RecordFailures:
    """Failure handling of one subject during one step (the step holds the subject's lease)."""

    def __init__(self, context: SyncContext, key: SyncKey) -> None:
        self._context = context
        self._key = key
        self._policy: RetryPolicy = context.profile.retry_policy
        self._pending: bool | None = None

    def _has_pending(self) -> bool:
        # Only the lease holder adds to the queue or the failed set, so once known empty it stays so
        # for this step until this object adds something.
        if self._pending is None:
            store = self._context.store
            self._pending = bool(store.retries.queued_count(self._key) or store.failed.count(self._key))
        return self._pending

    def settle_upserts(self, upserts: Sequence[Upsert], result: WriteResult, *, read_at: datetime) -> None:
        """Queue the refused upserts of a write, clear the records it settled."""
        versions = {upsert.record_id: upsert.version for upsert in upserts}
        settled = (*result.applied, *result.stale, *result.tombstoned)
        self._clear({record_id: versions.get(record_id) for record_id in settled})
        self._queue(result.failures, read_at)

    def settle_deletes(self, result: WriteResult, *, read_at: datetime) -> None:
        """Queue the refused deletes of a write, clear the records it deleted."""
        self._clear(dict.fromkeys(result.applied))
        self._queue(result.failures, read_at)

    def queue_unmappable(
        self, errors: Iterable[ValueConversionError], change_type: ChangeType, *, read_at: datetime
    ) -> None:
        """Queue rows whose values did not fit their attributes (read, but never written)."""
        failures = [
            RecordFailure(error.record_id, None, change_type, error.message) for error in errors if error.record_id
        ]
        self._queue(failures, read_at)

    def _clear(self, versions: Mapping[str, int | None]) -> None:
        if versions and self._has_pending():
            self._context.store.retries.clear_succeeded(self._key, versions)

    def _queue(self, failures: Sequence[RecordFailure], read_at: datetime) -> None:
        if not failures:
            return
        now = self._context.clock()
        decision = self._policy.after_failure(1, now)
        next_at = now if isinstance(decision, GiveUp) else decision.when
        queued: list[RetryItem] = []
        given_up: list[LedgerEntry] = []
        for failure in failures:
            item = RetryItem(failure.record_id, failure.change_type, failure.version, failure.message, read_at, next_at)
            if isinstance(decision, GiveUp):
                given_up.append(self._context.store.retries.give_up_at_once(self._key, item, attempts=1))
            else:
                queued.append(item)
        if queued:
            self._pending = True
            self._context.store.retries.enqueue(self._key, queued)
        if given_up:
            self._pending = True
            publish(self._context, given_up)

    def retry_due(self, schema: EntitySchema) -> Counters:
        """Retry the subject's due records (at most ``retries_per_step``): re-read by id, write, decide.

        Raises:
            TransientError: the step stops; attempts made so far are saved, the rest stay due.
        """
        due = self._context.store.retries.due(self._key, limit=self._context.settings.retries_per_step)
        counters = Counters()
        for queued in due:
            counters += self._retry(schema, queued)
        return counters

    def _retry(self, schema: EntitySchema, queued: QueuedRecord) -> Counters:
        read_at = self._context.clock()
        try:
            record = self._context.source.read_record(schema, queued.record_id)
        except ValueConversionError as error:
            self._attempt_failed(queued, error.message)
            return Counters(failed=1)
        if record is None:
            result = write_deletes(self._context, self._key, schema, [Delete(queued.record_id)])
            versions: dict[str, int | None] = {queued.record_id: None}
        else:
            result = write_upserts(self._context, self._key, schema, [record], read_started_at=read_at)
            versions = {queued.record_id: record.version}
        if result.failures:
            self._attempt_failed(queued, result.failures[0].message)
            return Counters(failed=1)
        self._context.store.retries.clear_succeeded(self._key, versions)
        deleted = len(result.removed)
        return Counters(synced=result.synced_count, upserted=len(result.applied) - deleted, deleted=deleted)

    def _attempt_failed(self, queued: QueuedRecord, message: str) -> None:
        now = self._context.clock()
        retries = self._context.store.retries
        decision = self._policy.after_failure(queued.attempts + 1, now)
        if isinstance(decision, GiveUp):
            entry = retries.give_up(self._key, queued.record_id, error=message, attempts=decision.attempts)
            if entry is not None:
                publish(self._context, [entry])
            return
        retries.mark_attempt(self._key, queued.record_id, error=message, next_attempt_at=decision.when)
