"""Goals in depth: the goal change log, the full goal status set, and objectives that
can change or be dropped mid-cycle and carry a roll-up weight.

Revision ID: 0006_goals
Revises: 0005_performance_file
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_goals"
down_revision: str | Sequence[str] | None = "0005_performance_file"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_GOAL_STATUSES = "status IN ('draft', 'returned', 'approved', 'closed')"
NEW_GOAL_STATUSES = (
    "status IN ('draft', 'proposed', 'returned', 'approved', 'in_progress', 'achieved', "
    "'missed', 'dropped', 'closed')"
)


def upgrade() -> None:
    op.create_table(
        "goal_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("change_key", sa.String(length=512), nullable=False),
        sa.Column("goal_id", sa.String(length=64), nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column(
            "changes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column("task_id", sa.String(length=255), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('applied', 'pending', 'rejected')",
            name=op.f("ck_goal_changes_status_known"),
        ),
        sa.CheckConstraint(
            "action IN ('created', 'changed', 'status', 'dropped', 'assigned', 'realign')",
            name=op.f("ck_goal_changes_action_known"),
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.cycle_id"],
            name=op.f("fk_goal_changes_cycle_id_cycles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goal_changes")),
        sa.UniqueConstraint("change_key", name=op.f("uq_goal_changes_change_key")),
    )
    with op.batch_alter_table("goal_changes", schema=None) as batch_op:
        batch_op.create_index("ix_goal_changes_goal_at", ["goal_id", "at"], unique=False)
        batch_op.create_index("ix_goal_changes_owner_at", ["owner_id", "at"], unique=False)
        batch_op.create_index("ix_goal_changes_cycle_status", ["cycle_id", "status"], unique=False)

    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="active", nullable=False)
        )
        batch_op.add_column(sa.Column("weight", sa.Integer(), server_default="1", nullable=False))
        batch_op.create_check_constraint(
            "status_known", "status IN ('active', 'changed', 'dropped')"
        )

    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_goals_status_known"), type_="check")
        batch_op.create_check_constraint("status_known", NEW_GOAL_STATUSES)


def downgrade() -> None:
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_goals_status_known"), type_="check")
        batch_op.create_check_constraint("status_known", OLD_GOAL_STATUSES)
    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_objectives_status_known"), type_="check")
        batch_op.drop_column("weight")
        batch_op.drop_column("status")
    with op.batch_alter_table("goal_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_goal_changes_cycle_status")
        batch_op.drop_index("ix_goal_changes_owner_at")
        batch_op.drop_index("ix_goal_changes_goal_at")
    op.drop_table("goal_changes")
