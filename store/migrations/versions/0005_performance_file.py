"""The performance file reads a person's records across cycles: an index led by the
person's id on each record table that lacked one.

Revision ID: 0005_performance_file
Revises: 0004_idempotency
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_performance_file"
down_revision: str | Sequence[str] | None = "0004_idempotency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: tuple[tuple[str, str, list[str]], ...] = (
    ("goals", "ix_goals_owner", ["owner_id"]),
    ("checkins", "ix_checkins_employee_at", ["employee_id", "at"]),
    ("reviews", "ix_reviews_subject_at", ["subject_id", "at"]),
    ("ratings", "ix_ratings_employee", ["employee_id"]),
    ("calibration_changes", "ix_calibration_changes_employee_at", ["employee_id", "at"]),
    ("acknowledgments", "ix_acknowledgments_employee_at", ["employee_id", "at"]),
    ("result_proposals", "ix_result_proposals_employee", ["employee_id"]),
)


def upgrade() -> None:
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for table, name, _ in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
