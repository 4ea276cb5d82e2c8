"""ORM models of the control database: the only place its tables are declared (DES §1.4-1.6).

Per-subject tables share the key columns ``profile_id``, ``kind``, ``entity`` (see
:class:`~dataexport.store.values.SyncKey`). None of them references ``profiles``: ``dataexport sync
--profile FILE`` runs a profile that was never stored, and deleting a profile purges its rows explicitly.

Every change here needs a new migration under ``migrations/versions/``; the models describe the head.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    and_,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from dataexport.domain.failures import ChangeType
from dataexport.domain.sync import EntityPhase
from dataexport.store.values import FailureLog, LinkKind, ResyncState, SyncKey, SyncKind

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = 36  # a lowercase GUID
NAME = 256  # logical names and relationship SchemaNames


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every dialect.

    SQLite keeps them as naive UTC text (so comparisons in SQL are string comparisons of one format);
    PostgreSQL as ``timestamptz``. A naive datetime is refused: it is always a bug here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the control store takes timezone-aware UTC only")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type[SyncKind | EntityPhase | LinkKind | ChangeType | FailureLog | ResyncState], length: int) -> Enum:
    """A StrEnum stored as its value in a plain VARCHAR (no native enum type to migrate)."""
    return Enum(
        cls, native_enum=False, create_constraint=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime()}


class SubjectKey:
    """The key columns of every per-subject table."""

    # sort_order puts the key columns first, so the primary key reads (profile_id, kind, entity, record_id)
    # for ``session.get``; mixin columns would otherwise follow the table's own.
    profile_id: Mapped[str] = mapped_column(String(ID), primary_key=True, sort_order=-3)
    kind: Mapped[SyncKind] = mapped_column(_enum(SyncKind, 16), primary_key=True, sort_order=-2)
    entity: Mapped[str] = mapped_column(String(NAME), primary_key=True, sort_order=-1)

    @classmethod
    def is_key(cls, key: SyncKey) -> ColumnElement[bool]:
        """A WHERE clause selecting the rows of ``key``."""
        return and_(cls.profile_id == key.profile_id, cls.kind == key.kind, cls.entity == key.name)

    @property
    def key(self) -> SyncKey:
        """The subject this row belongs to."""
        return SyncKey(self.profile_id, self.entity, self.kind)


class OrganizationRow(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    friendly_name: Mapped[str | None] = mapped_column(String(256))
    unique_name: Mapped[str | None] = mapped_column(String(256))
    tenant_id: Mapped[str | None] = mapped_column(String(ID))
    region: Mapped[str | None] = mapped_column(String(64))
    privacy_terms_accepted_at: Mapped[datetime | None]
    privacy_terms_accepted_by: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]


class ProfileRow(Base):
    __tablename__ = "profiles"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    organization_id: Mapped[str] = mapped_column(String(ID), ForeignKey("organizations.id"), index=True)
    document: Mapped[dict[str, object]] = mapped_column(JsonDocument)
    state: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]


class EntityStateRow(SubjectKey, Base):
    __tablename__ = "entity_states"

    phase: Mapped[EntityPhase] = mapped_column(_enum(EntityPhase, 32))
    state_reason: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    link: Mapped[str | None] = mapped_column(Text)
    link_kind: Mapped[LinkKind | None] = mapped_column(_enum(LinkKind, 16))
    last_delta_link: Mapped[str | None] = mapped_column(Text)
    page_size: Mapped[int | None] = mapped_column(Integer)
    metadata_stamp: Mapped[str | None] = mapped_column(String(256))
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    synced: Mapped[int] = mapped_column(BigInteger, default=0)
    upserted: Mapped[int] = mapped_column(BigInteger, default=0)
    deleted: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[int] = mapped_column(BigInteger, default=0)
    pages: Mapped[int] = mapped_column(BigInteger, default=0)
    initial_sync_started_at: Mapped[datetime | None]
    initial_sync_completed_at: Mapped[datetime | None]
    last_poll_started_at: Mapped[datetime | None]
    last_synced_at: Mapped[datetime | None]
    last_change_at: Mapped[datetime | None]
    revision: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]


class LeaseRow(SubjectKey, Base):
    __tablename__ = "leases"

    owner: Mapped[str] = mapped_column(String(256))
    token: Mapped[str] = mapped_column(String(64))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class TombstoneRow(SubjectKey, Base):
    __tablename__ = "tombstones"
    __table_args__ = (Index("ix_tombstones_recorded_at", "recorded_at"),)

    record_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    version: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime]


class RetryQueueRow(SubjectKey, Base):
    __tablename__ = "retry_queue"
    __table_args__ = (Index("ix_retry_queue_due", "profile_id", "kind", "entity", "next_attempt_at"),)

    record_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    change_type: Mapped[ChangeType] = mapped_column(_enum(ChangeType, 32))
    version: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(Text)
    notification_time: Mapped[datetime]
    first_failed_at: Mapped[datetime]
    # Set while the entry belongs to a resyncfailed run (DES §8.7); its outcome counts for that run.
    resync_run_id: Mapped[str | None] = mapped_column(String(ID), index=True)


class FailedRecordRow(SubjectKey, Base):
    __tablename__ = "failed_records"

    record_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    change_type: Mapped[ChangeType] = mapped_column(_enum(ChangeType, 32))
    version: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer)
    failed_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(Text)


class LedgerRow(Base):
    __tablename__ = "failure_ledger"
    __table_args__ = (
        Index("ix_failure_ledger_profile_recorded", "profile_id", "recorded_at"),
        Index("ix_failure_ledger_recorded_at", "recorded_at"),
    )

    # BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(ID))
    kind: Mapped[SyncKind] = mapped_column(_enum(SyncKind, 16))
    entity: Mapped[str] = mapped_column(String(NAME))
    record_id: Mapped[str | None] = mapped_column(String(ID))
    version: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int | None] = mapped_column(Integer)
    notification_time: Mapped[datetime]
    change_type: Mapped[ChangeType] = mapped_column(_enum(ChangeType, 32))
    reason: Mapped[str] = mapped_column(Text)
    log: Mapped[FailureLog] = mapped_column(_enum(FailureLog, 32))
    recorded_at: Mapped[datetime]


class SeenIdRow(SubjectKey, Base):
    __tablename__ = "seen_ids"

    record_id: Mapped[str] = mapped_column(String(ID), primary_key=True)


class ThrottleIdentityRow(Base):
    __tablename__ = "throttle_identities"

    identity: Mapped[str] = mapped_column(String(512), primary_key=True)
    paused_until: Mapped[datetime | None]
    modified_at: Mapped[datetime]


class ThrottleBucketRow(Base):
    __tablename__ = "throttle_buckets"

    identity: Mapped[str] = mapped_column(String(512), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    server_seconds: Mapped[float] = mapped_column(Float, default=0.0)


#: The condition of the partial unique index that allows one running resync per profile.
RUNNING_RESYNC = "state = 'Running'"


class ResyncRunRow(Base):
    __tablename__ = "resync_runs"
    __table_args__ = (
        Index("ix_resync_runs_profile_started", "profile_id", "started_at"),
        Index(
            "uq_resync_runs_running",
            "profile_id",
            unique=True,
            sqlite_where=text(RUNNING_RESYNC),
            postgresql_where=text(RUNNING_RESYNC),
        ),
    )

    run_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(ID))
    state: Mapped[ResyncState] = mapped_column(_enum(ResyncState, 16))
    queued_records: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
