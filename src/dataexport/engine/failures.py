"""The record algorithm of DES §8.2 over the durable retry queue of the control database.

- A record the destination refuses goes to the retry queue with its first retry due ``RetryInterval``
  seconds later (``RetryCount = 0``: given up at once); the stream goes on.
- Each step retries the due records *after* its stream work, so a waiting record never stalls the entity:
  the record is re-read by id from Dataverse (gone: the delete path) and its current version written.
- After ``1 + RetryCount`` failed attempts the record is given up: it leaves the queue, joins the failed
  set, gets one ledger entry and one DES line in the failure store.
- Any later successful write of the record (stream or retry) clears its queue entry and failed-set
  membership; ledger entries are never touched.
- Entries of a ``resyncfailed`` run (:mod:`.resync`) follow the same rules from a fresh count; given up
  again, their line goes to ``forcerefreshfailurelog/``; each outcome counts for the run.
- A record given up is also written as read (its mapped column values, JSON) under the failure store's
  ``data/`` folder, unless ``EngineSettings.write_record_data`` is off (DES §8.4).

Transient and unavailable errors are never record failures: they propagate and stop the step.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from dataexport.destination.base import RecordFailure, WriteResult
from dataexport.domain.changes import Delete, Upsert
from dataexport.domain.failures import ChangeType
from dataexport.domain.schema import EntitySchema
from dataexport.domain.sync import GiveUp, RetryPolicy
from dataexport.engine.context import SyncContext
from dataexport.engine.failure_log import publish
from dataexport.engine.resync import RunTally
from dataexport.engine.writes import write_deletes, write_upserts
from dataexport.errors import ValueConversionError
from dataexport.store.values import Counters, FailureLog, LedgerEntry, QueuedRecord, RetryItem, SyncKey

#: The failure-store folder of given-up records as read (DES §8.4).
DATA_FOLDER = "data"


class RecordFailures:
    """Failure handling of one subject during one step (the step holds the subject's lease)."""

    def __init__(self, context: SyncContext, key: SyncKey) -> None:
        self._context = context
        self._key = key
        self._policy: RetryPolicy = context.profile.retry_policy
        self._pending: bool | None = None
        self._runs = RunTally(context.store, context.clock)

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
        self._queue(result.failures, read_at, {upsert.record_id: upsert for upsert in upserts})

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
            marked = self._runs.marks(self._key, versions)
            self._context.store.retries.clear_succeeded(self._key, versions)
            self._runs.count_dequeued(self._key, marked, succeeded=True)
            self._runs.finish()

    def _queue(
        self, failures: Sequence[RecordFailure], read_at: datetime, records: Mapping[str, Upsert] | None = None
    ) -> None:
        if not failures:
            return
        now = self._context.clock()
        decision = self._policy.after_failure(1, now)
        next_at = now if isinstance(decision, GiveUp) else decision.when
        items = [
            RetryItem(failure.record_id, failure.change_type, failure.version, failure.message, read_at, next_at)
            for failure in failures
        ]
        self._pending = True
        if isinstance(decision, GiveUp):
            self._give_up_at_once(items, records or {})
        else:
            self._context.store.retries.enqueue(self._key, items)

    def _give_up_at_once(self, items: Sequence[RetryItem], records: Mapping[str, Upsert]) -> None:
        """``RetryCount = 0``: give the records up now; a run entry they replace counts as ``Failed``.

        Each goes through the queue, whose rules skip a change already given up (a replayed page), so a
        replay never adds a second ledger entry.
        """
        marked = self._runs.marks(self._key, (item.record_id for item in items))
        retries = self._context.store.retries
        given_up: list[LedgerEntry] = []
        for item in items:
            if retries.enqueue(self._key, [item]):
                entry = retries.give_up(self._key, item.record_id, error=item.error, attempts=1)
                given_up += [entry] if entry is not None else []
        publish(self._context, given_up)
        self._write_data(records.get(entry.entry.record_id or "") for entry in given_up)
        self._runs.count_dequeued(self._key, marked, succeeded=False)
        self._runs.finish()

    def retry_due(self, schema: EntitySchema) -> Counters:
        """Retry the subject's due records (at most ``retries_per_step``): re-read by id, write, decide.

        Raises:
            TransientError: the step stops; attempts made so far are saved, the rest stay due.
        """
        due = self._context.store.retries.due(self._key, limit=self._context.settings.retries_per_step)
        runs = self._runs.marks(self._key, (queued.record_id for queued in due))
        counters = Counters()
        try:
            for queued in due:
                counters += self._retry(schema, queued, runs.get(queued.record_id))
        finally:
            self._runs.finish()
        return counters

    def _retry(self, schema: EntitySchema, queued: QueuedRecord, run_id: str | None) -> Counters:
        read_at = self._context.clock()
        try:
            record = self._context.source.read_record(schema, queued.record_id)
        except ValueConversionError as error:
            self._attempt_failed(queued, error.message, run_id, None)
            return Counters(failed=1)
        if record is None:
            result = write_deletes(self._context, self._key, schema, [Delete(queued.record_id)])
            versions: dict[str, int | None] = {queued.record_id: None}
        else:
            result = write_upserts(self._context, self._key, schema, [record], read_started_at=read_at)
            versions = {queued.record_id: record.version}
        if result.failures:
            self._attempt_failed(queued, result.failures[0].message, run_id, record)
            return Counters(failed=1)
        cleared = self._context.store.retries.clear_succeeded(self._key, versions)
        self._runs.count(run_id, succeeded=cleared.dequeued)
        deleted = len(result.removed)
        return Counters(synced=result.synced_count, upserted=len(result.applied) - deleted, deleted=deleted)

    def _attempt_failed(self, queued: QueuedRecord, message: str, run_id: str | None, record: Upsert | None) -> None:
        now = self._context.clock()
        retries = self._context.store.retries
        decision = self._policy.after_failure(queued.attempts + 1, now)
        if isinstance(decision, GiveUp):
            log = FailureLog.FAILURE if run_id is None else FailureLog.FORCE_REFRESH
            entry = retries.give_up(self._key, queued.record_id, error=message, attempts=decision.attempts, log=log)
            if entry is not None:
                publish(self._context, [entry])
                self._write_data([record])
                self._runs.count(run_id, failed=1)
            return
        retries.mark_attempt(self._key, queued.record_id, error=message, next_attempt_at=decision.when)

    def _write_data(self, records: Iterable[Upsert | None]) -> None:
        """Write given-up records as read under ``data/`` (DES §8.4), when the settings and the store allow.

        Failure stores without ``write_json`` (an older backend) write no ``data/`` files.
        """
        write_json = getattr(self._context.failure_store, "write_json", None)
        if write_json is None or not self._context.settings.write_record_data:
            return
        at = self._context.clock()
        for record in records:
            if record is not None:
                name = data_file_stem(self._key.name, record.record_id, at)
                write_json(self._context.profile.id, DATA_FOLDER, name, record_document(record), at=at)


def data_file_stem(entity: str, record_id: str, at: datetime) -> str:
    """``<entity>_<recordid>_<yyyyMMddTHHmmssZ>`` (DES §8.4)."""
    return f"{entity}_{record_id}_{at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def record_document(record: Upsert) -> bytes:
    """A record's mapped column values as UTF-8 JSON: datetimes ISO 8601 UTC with ``Z``, decimals as strings."""
    values = {name: _json_value(value) for name, value in record.values.items()}
    return json.dumps(values, ensure_ascii=False, sort_keys=True).encode("utf-8")


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
