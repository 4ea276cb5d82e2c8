"""Values the control store hands out and takes in: frozen, free of SQLAlchemy, safe to pass between threads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NewType

from dataexport.domain.failures import ChangeType, FailureEntry
from dataexport.domain.sync import EntityPhase

#: Returns the current time, timezone-aware UTC. Injected so tests can move time.
Clock = Callable[[], datetime]

#: The lease's fencing token: a new one is drawn at every acquisition.
LeaseToken = NewType("LeaseToken", str)


def system_clock() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


class SyncKind(StrEnum):
    """What a per-profile sync subject is: a table by logical name, or an N:N relationship by SchemaName."""

    ENTITY = "entity"
    RELATIONSHIP = "relationship"


class LinkKind(StrEnum):
    """Which Web API link a saved resume point is (DES §7.4)."""

    NEXT = "next"  # an @odata.nextLink: the next page of a baseline or of a delta poll
    DELTA = "delta"  # an @odata.deltaLink: the change-tracking token


class FailureLog(StrEnum):
    """Which failure log a ledger entry belongs to (DES §8.4, §8.7)."""

    FAILURE = "failurelog"
    FORCE_REFRESH = "forcerefreshfailurelog"


class ResyncState(StrEnum):
    """The state of a ``resyncfailed`` run (DES §2.2 ``Resync.State``, §8.7)."""

    RUNNING = "Running"
    COMPLETED = "Completed"


@dataclass(frozen=True, slots=True)
class SyncKey:
    """Identifies one sync subject: (profile, kind, name). Entity names are lowercase logical names."""

    profile_id: str
    name: str
    kind: SyncKind = SyncKind.ENTITY

    def __str__(self) -> str:
        return f"{self.profile_id}/{self.kind.value}/{self.name}"


@dataclass(frozen=True, slots=True)
class Counters:
    """Per-subject counters (DES §4.4); used both as totals and as the delta a checkpoint adds.

    Attributes:
        received: changes received (row versions and deletes): ``TotalRecords``.
        synced: changes applied or skipped as stale by a guard: ``SyncedRecords``.
        upserted: rows inserted or updated.
        deleted: rows deleted.
        failed: write attempts that failed and went to the retry queue.
        pages: pages checkpointed.
    """

    received: int = 0
    synced: int = 0
    upserted: int = 0
    deleted: int = 0
    failed: int = 0
    pages: int = 0

    def __add__(self, other: Counters) -> Counters:
        return Counters(
            self.received + other.received,
            self.synced + other.synced,
            self.upserted + other.upserted,
            self.deleted + other.deleted,
            self.failed + other.failed,
            self.pages + other.pages,
        )


NO_COUNTS = Counters()


@dataclass(frozen=True, slots=True)
class EntityState:
    """The stored sync state of one subject (DES §1.4, §4.4, §7.4).

    Attributes:
        key: the subject.
        phase: the per-entity state.
        state_reason: why it is in that phase (``Rebaseline: token expired``...), or None.
        last_error: the last error seen (transient or terminal), or None; a successful checkpoint clears it.
        link: the saved resume link (the whole URL), or None to start from the baseline request.
        link_kind: which kind ``link`` is; None when ``link`` is None.
        last_delta_link: the last saved deltaLink, kept apart so that a rejected nextLink can fall back to it.
        page_size: the persisted ``odata.maxpagesize`` for this table, or None for the default.
        counters: totals since the subject was last added.
        failed_records: size of the failed set (``FailedRecords``).
        metadata_stamp: an opaque stamp of the metadata last applied (a hash or version), or None.
        revision: optimistic-concurrency counter; every guarded write increments it.
    """

    key: SyncKey
    phase: EntityPhase
    revision: int
    counters: Counters = NO_COUNTS
    failed_records: int = 0
    state_reason: str | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    link: str | None = None
    link_kind: LinkKind | None = None
    last_delta_link: str | None = None
    page_size: int | None = None
    metadata_stamp: str | None = None
    initial_sync_started_at: datetime | None = None
    initial_sync_completed_at: datetime | None = None
    last_poll_started_at: datetime | None = None
    last_synced_at: datetime | None = None
    last_change_at: datetime | None = None
    modified_at: datetime | None = None

    def fallback_link(self) -> str | None:
        """Where to restart when the saved nextLink is rejected: the last deltaLink, else the baseline (None)."""
        return self.last_delta_link


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to run one subject's step until ``expires_at``; ``token`` fences out former holders."""

    key: SyncKey
    owner: str
    token: LeaseToken
    acquired_at: datetime
    expires_at: datetime

    def is_expired(self, now: datetime) -> bool:
        """Whether the lease has run out at ``now`` (it may already have been taken earlier)."""
        return now >= self.expires_at


@dataclass(frozen=True, slots=True)
class RetryItem:
    """A record whose write failed, to put in the durable retry queue (DES §8.2 step 2).

    Attributes:
        record_id: lowercase GUID.
        change_type: what the failed write was (``New``, ``Update``, ``Delete``).
        version: the record version of the failed change, None for a versionless delete.
        error: the failure message.
        notification_time: UTC time the change was read (the ledger's ``NotificationTime``).
        next_attempt_at: when the first retry is due.
    """

    record_id: str
    change_type: ChangeType
    version: int | None
    error: str
    notification_time: datetime
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class QueuedRecord:
    """An entry of the retry queue; ``attempts`` counts the failed attempts so far (the first one included)."""

    key: SyncKey
    record_id: str
    change_type: ChangeType
    version: int | None
    attempts: int
    next_attempt_at: datetime
    last_error: str
    notification_time: datetime
    first_failed_at: datetime


@dataclass(frozen=True, slots=True)
class FailedRecord:
    """A member of a failed set: given up at ``version`` after ``attempts`` attempts (DES §8.2 step 5)."""

    key: SyncKey
    record_id: str
    change_type: ChangeType
    version: int | None
    attempts: int
    failed_at: datetime
    last_error: str


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A stored, never-edited failure-ledger entry: the DES line fields plus where and when it was recorded."""

    id: int
    profile_id: str
    kind: SyncKind
    entry: FailureEntry
    log: FailureLog
    recorded_at: datetime
    version: int | None = None
    attempts: int | None = None


@dataclass(frozen=True, slots=True)
class Cleared:
    """What :meth:`RetryQueue.clear_succeeded` removed: queue entries and failed-set members."""

    dequeued: int = 0
    unfailed: int = 0


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    """A shared Dataverse budget per organization identity (DES §7.7): requests and server time per window."""

    requests: int = 6000
    server_seconds: float = 1200.0
    window: timedelta = timedelta(minutes=5)
    bucket: timedelta = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Organization:
    """A registered Dataverse organization (DES §1.1). Never holds credentials."""

    id: str
    url: str
    friendly_name: str | None = None
    unique_name: str | None = None
    tenant_id: str | None = None
    region: str | None = None
    privacy_terms_accepted_at: datetime | None = None
    privacy_terms_accepted_by: str | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Purged:
    """What a retention run removed."""

    tombstones: int = 0
    ledger_entries: int = 0


@dataclass(frozen=True, slots=True)
class ResyncRun:
    """One ``resyncfailed`` run of a profile (DES §8.7, §2.2 ``Resync``).

    Attributes:
        run_id: lowercase GUID.
        profile_id: the profile it re-attempts.
        state: ``Running`` until none of its queued records remains, then ``Completed``.
        queued_records: failed records put in the retry queue when it started.
        succeeded: records that synced (their id left the failed set).
        failed: records given up again (a line under ``forcerefreshfailurelog/``).
        started_at: when it started; completed_at: when it completed, or None while running.
    """

    run_id: str
    profile_id: str
    state: ResyncState
    queued_records: int
    succeeded: int
    failed: int
    started_at: datetime
    completed_at: datetime | None = None
