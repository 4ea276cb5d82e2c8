"""The DES failure-log line format (DES §8.3), checked against the spec's own example lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dataexport.domain.failures import ChangeType, FailureEntry, flatten_reason, format_notification_time

SPEC_LINE_1 = (
    "Entity: contact, RecordId: 0d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22, NotificationTime: 3/7/2025 2:05:09 PM, "
    "ChangeType: Update, FailureReason: Cannot create a row of size 8112 which is greater than the allowable "
    "maximum row size of 8060."
)
SPEC_LINE_2 = (
    "Entity: lead, RecordId: N/A, NotificationTime: 3/7/2025 9:14:00 AM, ChangeType: Trigger Initial Export, "
    "FailureReason: CREATE TABLE permission denied in database 'rep'."
)


def test_record_entry_formats_as_the_spec_example() -> None:
    entry = FailureEntry(
        entity="contact",
        record_id="0d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22",
        notification_time=datetime(2025, 3, 7, 14, 5, 9, tzinfo=UTC),
        change_type=ChangeType.UPDATE,
        reason="Cannot create a row of size 8112 which is greater than the allowable maximum row size of 8060.",
    )
    assert entry.format_line() == SPEC_LINE_1


def test_entity_entry_formats_as_the_spec_example() -> None:
    entry = FailureEntry(
        entity="lead",
        record_id=None,
        notification_time=datetime(2025, 3, 7, 9, 14, 0, tzinfo=UTC),
        change_type=ChangeType.TRIGGER_INITIAL_EXPORT,
        reason="CREATE TABLE permission denied in database 'rep'.",
    )
    assert entry.format_line() == SPEC_LINE_2


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2025, 3, 7, 0, 0, 0, tzinfo=UTC), "3/7/2025 12:00:00 AM"),
        (datetime(2025, 3, 7, 12, 0, 0, tzinfo=UTC), "3/7/2025 12:00:00 PM"),
        (datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "12/31/2025 11:59:59 PM"),
        (datetime(2025, 1, 1, 1, 2, 3, tzinfo=UTC), "1/1/2025 1:02:03 AM"),
        (datetime(2025, 3, 7, 16, 5, 9, tzinfo=timezone(timedelta(hours=2))), "3/7/2025 2:05:09 PM"),
    ],
)
def test_notification_time_is_us_invariant_utc(moment: datetime, text: str) -> None:
    assert format_notification_time(moment) == text


def test_line_breaks_in_the_reason_become_single_spaces() -> None:
    assert flatten_reason("first\r\nsecond\nthird\rfourth\n\n") == "first second third fourth "
    entry = FailureEntry("account", None, datetime(2025, 3, 7, tzinfo=UTC), ChangeType.DELETE, "a\r\nb")
    line = entry.format_line()
    assert "\n" not in line and "\r" not in line and line.endswith("ChangeType: Delete, FailureReason: a b")


def test_change_type_values() -> None:
    assert [c.value for c in ChangeType] == ["New", "Update", "Delete", "Trigger Initial Export"]
