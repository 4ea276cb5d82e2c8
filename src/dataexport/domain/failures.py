"""Failure-ledger entries and their DES line format (DES §8.3).

A line looks like (one line in the log)::

    Entity: contact, RecordId: 0d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22, NotificationTime: 3/7/2025 2:05:09 PM,
    ChangeType: Update, FailureReason: Cannot create a row of size 8112 ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

NOT_APPLICABLE = "N/A"
_LINE_BREAKS = re.compile(r"[\r\n]+")


class ChangeType(StrEnum):
    """The ``ChangeType`` of a failure entry."""

    NEW = "New"  # the row was absent in the destination (incl. initial-read rows)
    UPDATE = "Update"  # the row existed; also schema and outage entries after the initial sync
    DELETE = "Delete"
    TRIGGER_INITIAL_EXPORT = "Trigger Initial Export"  # table creation or initial-export setup failed


@dataclass(frozen=True, slots=True)
class FailureEntry:
    """One give-up, as appended to the failure ledger.

    Attributes:
        entity: entity logical name (or relationship intersect entity).
        record_id: lowercase GUID, or None for entity-level, schema and outage entries (``N/A``).
        notification_time: UTC time the change was read.
        change_type: see :class:`ChangeType`.
        reason: the engine's message; line breaks are flattened when formatted.
    """

    entity: str
    record_id: str | None
    notification_time: datetime
    change_type: ChangeType
    reason: str

    def format_line(self) -> str:
        """The DES failure-log line, without a trailing newline."""
        return (
            f"Entity: {self.entity}, RecordId: {self.record_id or NOT_APPLICABLE}, "
            f"NotificationTime: {format_notification_time(self.notification_time)}, "
            f"ChangeType: {self.change_type.value}, FailureReason: {flatten_reason(self.reason)}"
        )


def format_notification_time(moment: datetime) -> str:
    """US invariant ``M/d/yyyy h:mm:ss tt`` in UTC: ``3/7/2025 2:05:09 PM`` (no leading zeros on M, d, h)."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    hour = utc.hour % 12 or 12
    meridiem = "AM" if utc.hour < 12 else "PM"
    return f"{utc.month}/{utc.day}/{utc.year:04d} {hour}:{utc.minute:02d}:{utc.second:02d} {meridiem}"


def flatten_reason(reason: str) -> str:
    """Replace each run of CR/LF characters with a single space (DES §8.3, our choice)."""
    return _LINE_BREAKS.sub(" ", reason)
