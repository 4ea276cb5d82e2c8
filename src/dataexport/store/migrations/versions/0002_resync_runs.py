"""resyncfailed runs: the ``resync_runs`` table and the run id of retry-queue entries (DES §8.7).

Revision ID: 0002
Revises: 0001
Create Date: 2025-03-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 36
_RUNNING = "state = 'Running'"


def _when(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "resync_runs",
        sa.Column("run_id", sa.String(ID), nullable=False),
        sa.Column("profile_id", sa.String(ID), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("queued_records", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        _when("started_at"),
        _when("completed_at", nullable=True),
        sa.PrimaryKeyConstraint("run_id", name="pk_resync_runs"),
    )
    op.create_index("ix_resync_runs_profile_started", "resync_runs", ["profile_id", "started_at"])
    # One running run per profile, enforced by the database so that two concurrent starts cannot both win.
    op.create_index(
        "uq_resync_runs_running",
        "resync_runs",
        ["profile_id"],
        unique=True,
        sqlite_where=sa.text(_RUNNING),
        postgresql_where=sa.text(_RUNNING),
    )
    with op.batch_alter_table("retry_queue") as batch:
        batch.add_column(sa.Column("resync_run_id", sa.String(ID), nullable=True))
        batch.create_index("ix_retry_queue_resync_run_id", ["resync_run_id"])


def downgrade() -> None:
    with op.batch_alter_table("retry_queue") as batch:
        batch.drop_index("ix_retry_queue_resync_run_id")
        batch.drop_column("resync_run_id")
    op.drop_index("uq_resync_runs_running", table_name="resync_runs")
    op.drop_index("ix_resync_runs_profile_started", table_name="resync_runs")
    op.drop_table("resync_runs")
