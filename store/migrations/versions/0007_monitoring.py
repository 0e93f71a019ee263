"""Monitoring: progress events from project tools, and anomaly rule firings.

Revision ID: 0007_monitoring
Revises: 0005_performance_file
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_monitoring"
down_revision: str | Sequence[str] | None = "0006_goals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "progress_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=True),
        sa.Column("goal_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("progress", sa.Double(), nullable=True),
        sa.Column("milestone_id", sa.String(length=128), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("achieved", sa.Boolean(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.CheckConstraint(
            "kind IN ('progress', 'issue_closed', 'milestone')",
            name=op.f("ck_progress_events_kind_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_events")),
        sa.UniqueConstraint(
            "source_id", "event_id", name=op.f("uq_progress_events_source_id_event_id")
        ),
    )
    with op.batch_alter_table("progress_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_progress_events_employee_at", ["employee_id", "occurred_at"], unique=False
        )

    op.create_table(
        "anomalies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("anomaly_key", sa.String(length=512), nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("manager_id", sa.String(length=64), nullable=True),
        sa.Column("phase_id", sa.String(length=63), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rests_until", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('coach', 'notify', 'flag')", name=op.f("ck_anomalies_action_known")
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.cycle_id"],
            name=op.f("fk_anomalies_cycle_id_cycles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomalies")),
        sa.UniqueConstraint("anomaly_key", name=op.f("uq_anomalies_anomaly_key")),
    )
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.create_index(
            "ix_anomalies_cycle_employee", ["cycle_id", "employee_id"], unique=False
        )
        batch_op.create_index("ix_anomalies_manager", ["manager_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.drop_index("ix_anomalies_manager")
        batch_op.drop_index("ix_anomalies_cycle_employee")
    op.drop_table("anomalies")
    with op.batch_alter_table("progress_events", schema=None) as batch_op:
        batch_op.drop_index("ix_progress_events_employee_at")
    op.drop_table("progress_events")
