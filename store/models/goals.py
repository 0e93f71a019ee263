"""The goal change log: every change of a goal (who, when, what, why), kept for good.

A change of an approved goal that the definition sends to the manager
(`goal_setting.approval.changes_after_approval: manager`) is stored `pending` and is
applied only when the manager approves it (`applied`) or never (`rejected`). Changes that
need nobody's approval (drafting, the manager's own decisions, HR's bulk assignment, a
lapse) are stored `applied` at once. `change_key` makes a retried write a no-op.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utc_now
from store.models.cycles import CYCLE_ID_LENGTH, TASK_ID_LENGTH, cycle_fk, one_of
from store.models.notifications import BUSINESS_KEY_LENGTH
from store.models.org import EMPLOYEE_ID_LENGTH
from store.models.records import GOAL_ID_LENGTH

CHANGE_STATUSES = ("applied", "pending", "rejected")
CHANGE_ACTIONS = (
    "created",
    "changed",
    "status",
    "dropped",
    "assigned",
    "realign",
)


class GoalChange(Base):
    """One change of one goal. `changes` maps each changed field to `[before, after]`."""

    __tablename__ = "goal_changes"
    __table_args__ = (
        UniqueConstraint("change_key"),
        CheckConstraint(one_of("status", CHANGE_STATUSES), name="status_known"),
        CheckConstraint(one_of("action", CHANGE_ACTIONS), name="action_known"),
        Index("ix_goal_changes_goal_at", "goal_id", "at"),
        Index("ix_goal_changes_owner_at", "owner_id", "at"),
        Index("ix_goal_changes_cycle_status", "cycle_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    change_key: Mapped[str] = mapped_column(String(BUSINESS_KEY_LENGTH))
    goal_id: Mapped[str] = mapped_column(String(GOAL_ID_LENGTH))
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    owner_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    changed_by: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    action: Mapped[str] = mapped_column(String(16))
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="applied")
    decided_by: Mapped[str | None] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[str | None] = mapped_column(String(TASK_ID_LENGTH))
    at: Mapped[datetime] = mapped_column(default=utc_now)
