"""Appending failure entries: the structured ledger in the control database, then the DES lines (DES §1.5, §8.3).

The ledger is written first and is the record of truth; the failure-store file follows. A crash between the
two loses the file's line, never the ledger entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import groupby

from dataexport.domain.failures import ChangeType, FailureEntry
from dataexport.engine.context import SyncContext
from dataexport.store.values import LedgerEntry, SyncKey


def publish(context: SyncContext, entries: Sequence[LedgerEntry]) -> None:
    """Write the DES lines of ledger entries to the failure store, one file per log and hour."""
    ordered = sorted(entries, key=lambda entry: (entry.log.value, entry.recorded_at))
    for (log, _hour), group in groupby(ordered, key=lambda entry: (entry.log, _hour_of(entry.recorded_at))):
        batch = list(group)
        lines = [entry.entry.format_line() for entry in batch]
        context.failure_store.write_lines(context.profile.id, lines, at=batch[0].recorded_at, log=log)


def record_subject_failure(
    context: SyncContext, key: SyncKey, entity: str, change_type: ChangeType, reason: str
) -> LedgerEntry:
    """Append an entry with RecordId ``N/A`` (entity, schema or outage failure, DES §8.1) and publish it."""
    entry = FailureEntry(entity, None, context.clock(), change_type, reason)
    stored = context.store.ledger.append(context.profile.id, [entry], kind=key.kind)
    publish(context, stored)
    return stored[0]


def _hour_of(moment: datetime) -> tuple[int, int, int, int]:
    return (moment.year, moment.month, moment.day, moment.hour)
