"""Control schema: organizations, profiles, sync state, leases, tombstones, retry queue, failed set, ledger,
seen-set, throttle budget.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 36
NAME = 256
_COUNTERS = ("received", "synced", "upserted", "deleted", "failed", "pages")


def _when(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _subject_key() -> list[sa.Column[object]]:
    return [
        sa.Column("profile_id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("entity", sa.String(NAME), nullable=False),
    ]


def _subject_pk(table: str, *extra: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("profile_id", "kind", "entity", *extra, name=f"pk_{table}")


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("friendly_name", sa.String(256), nullable=True),
        sa.Column("unique_name", sa.String(256), nullable=True),
        sa.Column("tenant_id", sa.String(ID), nullable=True),
        sa.Column("region", sa.String(64), nullable=True),
        _when("privacy_terms_accepted_at", nullable=True),
        sa.Column("privacy_terms_accepted_by", sa.String(256), nullable=True),
        _when("created_at"),
        _when("modified_at"),
        sa.PrimaryKeyConstraint("id", name="pk_organizations"),
        sa.UniqueConstraint("url", name="uq_organizations_url"),
    )
    op.create_table(
        "profiles",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("organization_id", sa.String(ID), nullable=False),
        sa.Column("document", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        _when("created_at"),
        _when("modified_at"),
        sa.PrimaryKeyConstraint("id", name="pk_profiles"),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name="fk_profiles_organization_id_organizations"
        ),
    )
    op.create_index("ix_profiles_organization_id", "profiles", ["organization_id"])
    op.create_table(
        "entity_states",
        *_subject_key(),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _when("last_error_at", nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("link_kind", sa.String(16), nullable=True),
        sa.Column("last_delta_link", sa.Text(), nullable=True),
        sa.Column("page_size", sa.Integer(), nullable=True),
        sa.Column("metadata_stamp", sa.String(256), nullable=True),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _COUNTERS),
        _when("initial_sync_started_at", nullable=True),
        _when("initial_sync_completed_at", nullable=True),
        _when("last_poll_started_at", nullable=True),
        _when("last_synced_at", nullable=True),
        _when("last_change_at", nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        _when("created_at"),
        _when("modified_at"),
        _subject_pk("entity_states"),
    )
    op.create_table(
        "leases",
        *_subject_key(),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        _when("acquired_at"),
        _when("expires_at"),
        _subject_pk("leases"),
    )
    op.create_table(
        "tombstones",
        *_subject_key(),
        sa.Column("record_id", sa.String(ID), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=True),
        _when("recorded_at"),
        _subject_pk("tombstones", "record_id"),
    )
    op.create_index("ix_tombstones_recorded_at", "tombstones", ["recorded_at"])
    op.create_table(
        "retry_queue",
        *_subject_key(),
        sa.Column("record_id", sa.String(ID), nullable=False),
        sa.Column("change_type", sa.String(32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=False),
        _when("notification_time"),
        _when("first_failed_at"),
        _subject_pk("retry_queue", "record_id"),
    )
    op.create_index("ix_retry_queue_due", "retry_queue", ["profile_id", "kind", "entity", "next_attempt_at"])
    op.create_table(
        "failed_records",
        *_subject_key(),
        sa.Column("record_id", sa.String(ID), nullable=False),
        sa.Column("change_type", sa.String(32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("failed_at"),
        sa.Column("last_error", sa.Text(), nullable=False),
        _subject_pk("failed_records", "record_id"),
    )
    op.create_table(
        "failure_ledger",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False, autoincrement=True),
        sa.Column("profile_id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("entity", sa.String(NAME), nullable=False),
        sa.Column("record_id", sa.String(ID), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=True),
        _when("notification_time"),
        sa.Column("change_type", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("log", sa.String(32), nullable=False),
        _when("recorded_at"),
        sa.PrimaryKeyConstraint("id", name="pk_failure_ledger"),
    )
    op.create_index("ix_failure_ledger_profile_recorded", "failure_ledger", ["profile_id", "recorded_at"])
    op.create_index("ix_failure_ledger_recorded_at", "failure_ledger", ["recorded_at"])
    op.create_table(
        "seen_ids",
        *_subject_key(),
        sa.Column("record_id", sa.String(ID), nullable=False),
        _subject_pk("seen_ids", "record_id"),
    )
    op.create_table(
        "throttle_identities",
        sa.Column("identity", sa.String(512), nullable=False),
        _when("paused_until", nullable=True),
        _when("modified_at"),
        sa.PrimaryKeyConstraint("identity", name="pk_throttle_identities"),
    )
    op.create_table(
        "throttle_buckets",
        sa.Column("identity", sa.String(512), nullable=False),
        _when("bucket_start"),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("server_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("identity", "bucket_start", name="pk_throttle_buckets"),
    )


_TABLES = (
    "throttle_buckets",
    "throttle_identities",
    "seen_ids",
    "failure_ledger",
    "failed_records",
    "retry_queue",
    "tombstones",
    "leases",
    "entity_states",
    "profiles",
    "organizations",
)


def downgrade() -> None:
    for table in _TABLES:
        op.drop_table(table)
