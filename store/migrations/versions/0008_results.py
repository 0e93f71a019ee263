"""Results: the HRIS sync log, talent decisions and the KPI actuals of finished cycles.

Revision ID: 0008_results
Revises: 0007_monitoring
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_results"
down_revision: str | Sequence[str] | None = "0007_monitoring"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _cycle_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["cycle_id"],
        ["cycles.cycle_id"],
        name=op.f(f"fk_{table}_cycle_id_cycles"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "result_syncs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("business_key", sa.String(length=512), nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('sent', 'already_sent')", name=op.f("ck_result_syncs_status_known")
        ),
        _cycle_fk("result_syncs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result_syncs")),
        sa.UniqueConstraint("business_key", name=op.f("uq_result_syncs_business_key")),
    )
    with op.batch_alter_table("result_syncs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_result_syncs_cycle_employee", ["cycle_id", "employee_id"], unique=False
        )

    op.create_table(
        "talent_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("group", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("position", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('develop', 'promote', 'retain', 'key_position')",
            name=op.f("ck_talent_decisions_decision_known"),
        ),
        _cycle_fk("talent_decisions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_decisions")),
        sa.UniqueConstraint(
            "task_id",
            "employee_id",
            "decision",
            name=op.f("uq_talent_decisions_task_id_employee_id_decision"),
        ),
    )
    with op.batch_alter_table("talent_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_talent_decisions_cycle_group", ["cycle_id", "group"], unique=False
        )
        batch_op.create_index(
            "ix_talent_decisions_employee_at", ["employee_id", "at"], unique=False
        )

    op.create_table(
        "kpi_actuals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("goal_id", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("actual", sa.Double(), nullable=False),
        sa.Column("target", JSON, nullable=False),
        sa.Column("department", sa.String(length=200), nullable=True),
        sa.Column("job_title", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        _cycle_fk("kpi_actuals"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_actuals")),
        sa.UniqueConstraint("cycle_id", "goal_id", name=op.f("uq_kpi_actuals_cycle_id_goal_id")),
    )
    with op.batch_alter_table("kpi_actuals", schema=None) as batch_op:
        batch_op.create_index("ix_kpi_actuals_metric", ["metric"], unique=False)
        batch_op.create_index(
            "ix_kpi_actuals_employee_metric", ["employee_id", "metric"], unique=False
        )


def downgrade() -> None:
    for table in ("kpi_actuals", "talent_decisions", "result_syncs"):
        op.drop_table(table)
