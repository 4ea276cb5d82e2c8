"""Writing one page (DES §7.3): write batches in stream order, each run of upserts or deletes one transaction.

A page is cut into write batches of ``batch_size`` changes (``bulk_batch_size`` where the destination has a bulk
path); inside a batch, consecutive upserts and consecutive deletes form runs applied in response order (R5), each
one destination transaction, keeping only the latest change per id within the run. Refused records go to the retry
queue; rows whose values did not fit their attributes too. Nothing here saves a link: the step checkpoints once the
whole page committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dataexport.destination.base import WriteResult
from dataexport.domain.changes import Delete, Upsert, latest_per_id
from dataexport.domain.failures import ChangeType
from dataexport.domain.schema import EntitySchema
from dataexport.engine.context import SyncContext
from dataexport.engine.failures import RecordFailures
from dataexport.engine.writes import write_deletes, write_upserts
from dataexport.source.base import Page
from dataexport.store.values import Counters, SyncKey


@dataclass(frozen=True, slots=True)
class PageWrite:
    """How one page is written.

    Attributes:
        read_started_at: when the poll (or read sequence) that read the page started (tombstone guard).
        rewrite_equal: rewrite rows whose stored version equals the incoming one (administrator's
            re-baseline, adopted tables, DES §6.9).
        initial: the page belongs to an initial read: unmappable rows are ``New`` failures, else ``Update``.
    """

    read_started_at: datetime
    rewrite_equal: bool = False
    initial: bool = False


def write_page(
    context: SyncContext, key: SyncKey, schema: EntitySchema, page: Page, how: PageWrite, failures: RecordFailures
) -> Counters:
    """Write every change of ``page`` and settle its failures; returns the page's counters (``pages=1``).

    Raises:
        TransientError: a batch was rolled back; batches before it stay committed (replaying them is harmless).
        TerminalError: the table cannot be written at all.
    """
    counters = Counters(pages=1, received=len(page.changes.changes) + len(page.rejected))
    settings = context.settings
    size = settings.bulk_batch_size if context.destination.capabilities.bulk_copy else settings.batch_size
    for batch in page.changes.chunks(size):
        for run in batch.runs():
            if run and isinstance(run[0], Upsert):
                upserts = [change for change in run if isinstance(change, Upsert)]
                counters += _write_upserts(context, key, schema, upserts, how, failures)
            else:
                deletes = [change for change in run if isinstance(change, Delete)]
                counters += _write_deletes(context, key, schema, deletes, how, failures)
    if page.rejected:
        change_type = ChangeType.NEW if how.initial else ChangeType.UPDATE
        failures.queue_unmappable(page.rejected, change_type, read_at=how.read_started_at)
        counters += Counters(failed=len(page.rejected))
    return counters


def _write_upserts(
    context: SyncContext,
    key: SyncKey,
    schema: EntitySchema,
    run: list[Upsert],
    how: PageWrite,
    failures: RecordFailures,
) -> Counters:
    latest = latest_per_id(run)
    result = write_upserts(
        context, key, schema, latest, read_started_at=how.read_started_at, rewrite_equal=how.rewrite_equal
    )
    failures.settle_upserts(latest, result, read_at=how.read_started_at)
    return _counted(result, superseded=len(run) - len(latest), deleting=False)


def _write_deletes(
    context: SyncContext,
    key: SyncKey,
    schema: EntitySchema,
    run: list[Delete],
    how: PageWrite,
    failures: RecordFailures,
) -> Counters:
    latest = latest_per_id(run)
    result = write_deletes(context, key, schema, latest)
    failures.settle_deletes(result, read_at=how.read_started_at)
    return _counted(result, superseded=len(run) - len(latest), deleting=True)


def _counted(result: WriteResult, *, superseded: int, deleting: bool) -> Counters:
    """Counters of one write; changes superseded by a later one of the same id in the run count as synced."""
    applied = len(result.applied)
    return Counters(
        synced=result.synced_count + superseded,
        upserted=0 if deleting else applied,
        deleted=applied if deleting else 0,
        failed=len(result.failures),
    )
