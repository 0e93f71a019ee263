"""The engine's tables: employees, notifications, cycles and the performance file.

- org: `employees` (the embedded HRIS; the manager reference is deferred so an org chart
  loads in any order).
- notifications: `notifications` (the in-app inbox), `notification_deliveries` (external
  channels, one row per message and channel).
- cycles: `cycles`, `cycle_participants`, `participant_phases` (the progress read model),
  `tasks` (the inbox) and `task_events`.
- records: `objectives`, `goals`, `checkins`, `reviews`, `ratings`,
  `calibration_changes`, `interview_minutes`, `acknowledgments`, `result_proposals`,
  `hris_outbox` and `performance_events`.

Revision ID: 0002_engine
Revises: 0001_definitions
Create Date: 2026-11-26 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_engine"
down_revision: str | Sequence[str] | None = "0001_definitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cycles",
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("definition_ref", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("nominal_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("nominal_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("launched_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "org_objectives",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'cancelled')", name=op.f("ck_cycles_status_known")
        ),
        sa.PrimaryKeyConstraint("cycle_id", name=op.f("pk_cycles")),
    )
    op.create_table(
        "employees",
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("manager_id", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("employment_type", sa.String(length=20), nullable=False),
        sa.Column("hire_date", sa.Date(), nullable=True),
        sa.Column("salary", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("range_midpoint", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("job_title", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("terminated_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "employment_type IN ('full_time', 'part_time', 'contractor', 'intern')",
            name=op.f("ck_employees_employment_type_known"),
        ),
        sa.ForeignKeyConstraint(
            ["manager_id"],
            ["employees.employee_id"],
            name=op.f("fk_employees_manager_id_employees"),
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("employee_id", name=op.f("pk_employees")),
    )
    with op.batch_alter_table("employees", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_employees_department"), ["department"], unique=False)
        batch_op.create_index(batch_op.f("ix_employees_manager_id"), ["manager_id"], unique=False)

    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("business_key", sa.String(length=512), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'sent')", name=op.f("ck_notification_deliveries_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint(
            "business_key", "channel", name=op.f("uq_notification_deliveries_business_key_channel")
        ),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("business_key", sa.String(length=512), nullable=False),
        sa.Column("recipient_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=True),
        sa.Column("cycle_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("business_key", name=op.f("uq_notifications_business_key")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_recipient_read", ["recipient_id", "read_at"], unique=False
        )

    op.create_table(
        "performance_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_key", sa.String(length=512), nullable=False),
        sa.Column("employee_id", sa.String(length=201), nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("ref", sa.String(length=255), nullable=True),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_performance_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_performance_events_event_key")),
    )
    with op.batch_alter_table("performance_events", schema=None) as batch_op:
        batch_op.create_index("ix_performance_events_cycle", ["cycle_id"], unique=False)
        batch_op.create_index(
            "ix_performance_events_employee_at", ["employee_id", "at"], unique=False
        )

    op.create_table(
        "acknowledgments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('acknowledge', 'disagree')",
            name=op.f("ck_acknowledgments_decision_known"),
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.cycle_id"],
            name=op.f("fk_acknowledgments_cycle_id_cycles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acknowledgments")),
        sa.UniqueConstraint("task_id", name=op.f("uq_acknowledgments_task_id")),
    )
    with op.batch_alter_table("acknowledgments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_acknowledgments_cycle_employee", ["cycle_id", "employee_id"], unique=False
        )

    op.create_table(
        "calibration_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=False),
        sa.Column("group", sa.String(length=200), nullable=False),
        sa.Column("from_rating", sa.Integer(), nullable=True),
        sa.Column("to_rating", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("calibrator_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.cycle_id"],
            name=op.f("fk_calibration_changes_cycle_id_cycles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_changes")),
        sa.UniqueConstraint(
            "task_id", "employee_id", name=op.f("uq_calibration_changes_task_id_employee_id")
        ),
    )
    with op.batch_alter_table("calibration_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_calibration_changes_cycle_employee", ["cycle_id", "employee_id"], unique=False
        )

    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.cycle_id"],
            name=op.f("fk_checkins_cycle_id_cycles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
        sa.UniqueConstraint("task_id", name=op.f("uq_checkins_task_id")),
    )
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.create_index(
            "ix_checkins_cycle_employee", ["cycle_id", "employee_id"], unique=False
        )

    op.create_table(
        "cycle_participants",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("group", sa.String(length=200), nullable=False),
        sa.Column("manager_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("joined_late", sa.Boolean(), nullable=False),
        sa.Column(
            "profile", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'left', 'cancelled', 'completed')",
            name=op.f("ck_cycle_participants_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.cycle_id"],
            name=op.f("fk_cycle_participants_cycle_id_cycles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycle_participants")),
        sa.UniqueConstraint(
            "cycle_id", "employee_id", name=op.f("uq_cycle_participants_cycle_id_employee_id")
        ),
    )
    with op.batch_alter_table("cycle_participants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cycle_participants_cycle_group", ["cycle_id", "group"], unique=False
        )
        batch_op.create_index("ix_cycle_participants_employee", ["employee_id"], unique=False)

    op.create_table(
        "goals",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column(
            "target", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("confidence", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'returned', 'approved', 'closed')",
            name=op.f("ck_goals_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.cycle_id"],
            name=op.f("fk_goals_cycle_id_cycles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goals")),
    )
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.create_index("ix_goals_cycle_owner", ["cycle_id", "owner_id"], unique=False)

    op.create_table(
        "hris_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("business_key", sa.String(length=512), nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent')", name=op.f("ck_hris_outbox_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.cycle_id"],
            name=op.f("fk_hris_outbox_cycle_id_cycles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hris_outbox")),
        sa.UniqueConstraint("business_key", name=op.f("uq_hris_outbox_business_key")),
    )
    with op.batch_alter_table("hris_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_hris_outbox_status", ["status"], unique=False)

    op.create_table(
        "interview_minutes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column(
            "sections", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("strengths", sa.Text(), nullable=True),
        sa.Column("development_areas", sa.Text(), nullable=True),
        sa.Column(
            "action_items", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "agreed_next_goals",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.cycle_id"],
            name=op.f("fk_interview_minutes_cycle_id_cycles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interview_minutes")),
        sa.UniqueConstraint("task_id", name=op.f("uq_interview_minutes_task_id")),
    )
    with op.batch_alter_table("interview_minutes", schema=None) as batch_op:
        batch_op.create_index("ix_interview_minutes_employee", ["employee_id"], unique=False)

    op.create_table(
        "objectives",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("objective_id", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("group", sa.String(length=200), nullable=True),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column(
            "key_results", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("task_id", sa.String(length=255), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "level IN ('org', 'department')", name=op.f("ck_objectives_level_known")
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.cycle_id"],
            name=op.f("fk_objectives_cycle_id_cycles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objectives")),
        sa.UniqueConstraint(
            "cycle_id", "objective_id", name=op.f("uq_objectives_cycle_id_objective_id")
        ),
    )
    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.create_index(
            "ix_objectives_cycle_level_group", ["cycle_id", "level", "group"], unique=False
        )

    op.create_table(
        "participant_phases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("phase_id", sa.String(length=63), nullable=False),
        sa.Column("group", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'waiting', 'completed', 'skipped', 'cancelled')",
            name=op.f("ck_participant_phases_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.cycle_id"],
            name=op.f("fk_participant_phases_cycle_id_cycles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant_phases")),
        sa.UniqueConstraint(
            "cycle_id",
            "employee_id",
            "phase_id",
            name=op.f("uq_participant_phases_cycle_id_employee_id_phase_id"),
        ),
    )
    with op.batch_alter_table("participant_phases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_participant_phases_cycle_phase_status",
            ["cycle_id", "phase_id", "status"],
            unique=False,
        )

    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column(
            "sources", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("calibrated_rating", sa.Integer(), nullable=True),
        sa.Column("calibrated_by", sa.String(length=64), nullable=True),
        sa.Column("calibration_reason", sa.Text(), nullable=True),
        sa.Column("final_rating", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.cycle_id"],
            name=op.f("fk_ratings_cycle_id_cycles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint(
            "cycle_id", "employee_id", name=op.f("uq_ratings_cycle_id_employee_id")
        ),
    )
    op.create_table(
        "result_proposals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("group", sa.String(length=200), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("base_merit_percent", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("base_merit_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("merit_percent", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("merit_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("lump_sum", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("bonus", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("nine_box", sa.String(length=32), nullable=True),
        sa.Column(
            "flags", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('proposed', 'approved', 'synced')",
            name=op.f("ck_result_proposals_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.cycle_id"],
            name=op.f("fk_result_proposals_cycle_id_cycles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result_proposals")),
        sa.UniqueConstraint(
            "cycle_id", "employee_id", name=op.f("uq_result_proposals_cycle_id_employee_id")
        ),
    )
    with op.batch_alter_table("result_proposals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_result_proposals_cycle_group", ["cycle_id", "group"], unique=False
        )

    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("reviewer_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "ratings", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("overall", sa.Double(), nullable=True),
        sa.Column(
            "comments", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('self', 'manager', 'peer', 'upward')", name=op.f("ck_reviews_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.cycle_id"],
            name=op.f("fk_reviews_cycle_id_cycles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("task_id", name=op.f("uq_reviews_task_id")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index("ix_reviews_cycle_subject", ["cycle_id", "subject_id"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("task_id", sa.String(length=255), nullable=False),
        sa.Column("cycle_id", sa.String(length=100), nullable=False),
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("subject_id", sa.String(length=201), nullable=False),
        sa.Column("assignee_id", sa.String(length=64), nullable=False),
        sa.Column("phase_id", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("form_id", sa.String(length=63), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.String(length=64), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column(
            "prefill", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'overdue', 'submitted', 'closed', 'cancelled')",
            name=op.f("ck_tasks_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.cycle_id"],
            name=op.f("fk_tasks_cycle_id_cycles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_assignee_status", ["assignee_id", "status"], unique=False)
        batch_op.create_index("ix_tasks_cycle_phase", ["cycle_id", "phase_id"], unique=False)
        batch_op.create_index("ix_tasks_subject", ["subject_id"], unique=False)

    op.create_table(
        "task_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("what", sa.String(length=16), nullable=False),
        sa.Column("who", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.CheckConstraint(
            "what IN ('opened', 'submitted', 'overdue', 'reassigned', 'reopened', 'closed', "
            "'cancelled', 'due_changed')",
            name=op.f("ck_task_events_what_known"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.task_id"],
            name=op.f("fk_task_events_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_events")),
        sa.UniqueConstraint("task_id", "event_key", name=op.f("uq_task_events_task_id_event_key")),
    )


def downgrade() -> None:
    op.drop_table("task_events")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_subject")
        batch_op.drop_index("ix_tasks_cycle_phase")
        batch_op.drop_index("ix_tasks_assignee_status")

    op.drop_table("tasks")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_cycle_subject")

    op.drop_table("reviews")
    with op.batch_alter_table("result_proposals", schema=None) as batch_op:
        batch_op.drop_index("ix_result_proposals_cycle_group")

    op.drop_table("result_proposals")
    op.drop_table("ratings")
    with op.batch_alter_table("participant_phases", schema=None) as batch_op:
        batch_op.drop_index("ix_participant_phases_cycle_phase_status")

    op.drop_table("participant_phases")
    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.drop_index("ix_objectives_cycle_level_group")

    op.drop_table("objectives")
    with op.batch_alter_table("interview_minutes", schema=None) as batch_op:
        batch_op.drop_index("ix_interview_minutes_employee")

    op.drop_table("interview_minutes")
    with op.batch_alter_table("hris_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_hris_outbox_status")

    op.drop_table("hris_outbox")
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.drop_index("ix_goals_cycle_owner")

    op.drop_table("goals")
    with op.batch_alter_table("cycle_participants", schema=None) as batch_op:
        batch_op.drop_index("ix_cycle_participants_employee")
        batch_op.drop_index("ix_cycle_participants_cycle_group")

    op.drop_table("cycle_participants")
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index("ix_checkins_cycle_employee")

    op.drop_table("checkins")
    with op.batch_alter_table("calibration_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_calibration_changes_cycle_employee")

    op.drop_table("calibration_changes")
    with op.batch_alter_table("acknowledgments", schema=None) as batch_op:
        batch_op.drop_index("ix_acknowledgments_cycle_employee")

    op.drop_table("acknowledgments")
    with op.batch_alter_table("performance_events", schema=None) as batch_op:
        batch_op.drop_index("ix_performance_events_employee_at")
        batch_op.drop_index("ix_performance_events_cycle")

    op.drop_table("performance_events")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_recipient_read")

    op.drop_table("notifications")
    op.drop_table("notification_deliveries")
    with op.batch_alter_table("employees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employees_manager_id"))
        batch_op.drop_index(batch_op.f("ix_employees_department"))

    op.drop_table("employees")
    op.drop_table("cycles")
