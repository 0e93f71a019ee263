"""Results beyond the proposal: what reached the HRIS, the talent decisions HR recorded,
and the KPI actuals a finished cycle leaves for the next one.

- `ResultSync`: one row per result record the HRIS confirmed (business key
  `<cycle>/<employee>/<kind>`). The sync activity skips a key it finds here, so a re-run
  sends nothing; a crash between the HRIS's answer and this row leaves only that one
  record to be sent again, and the HRIS's idempotency key makes that a no-op.
- `TalentDecision`: develop, promote, retain or key position for one person, with who
  decided, in which task, and when. A re-submitted task replaces its own decisions.
- `KpiActual`: at the end of a cycle, the actual of every KPI goal per person and metric,
  with the person's department and job title at that time (the basis of target ranges).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utc_now
from store.models.cycles import CYCLE_ID_LENGTH, GROUP_LENGTH, TASK_ID_LENGTH, cycle_fk, one_of
from store.models.notifications import BUSINESS_KEY_LENGTH
from store.models.org import EMPLOYEE_ID_LENGTH
from store.models.records import GOAL_ID_LENGTH

TALENT_DECISIONS = ("develop", "promote", "retain", "key_position")
SYNC_STATUSES = ("sent", "already_sent")


class ResultSync(Base):
    """One result record the HRIS confirmed (`status` is its receipt)."""

    __tablename__ = "result_syncs"
    __table_args__ = (
        UniqueConstraint("business_key"),
        CheckConstraint(one_of("status", SYNC_STATUSES), name="status_known"),
        Index("ix_result_syncs_cycle_employee", "cycle_id", "employee_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    business_key: Mapped[str] = mapped_column(String(BUSINESS_KEY_LENGTH))
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    employee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    approved_by: Mapped[str | None] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    at: Mapped[datetime] = mapped_column(default=utc_now)


class TalentDecision(Base):
    """A talent decision about one person in one cycle, and who made it."""

    __tablename__ = "talent_decisions"
    __table_args__ = (
        UniqueConstraint("task_id", "employee_id", "decision"),
        CheckConstraint(one_of("decision", TALENT_DECISIONS), name="decision_known"),
        Index("ix_talent_decisions_cycle_group", "cycle_id", "group"),
        Index("ix_talent_decisions_employee_at", "employee_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    employee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    group: Mapped[str] = mapped_column(String(GROUP_LENGTH))
    decision: Mapped[str] = mapped_column(String(16))
    position: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    task_id: Mapped[str] = mapped_column(String(TASK_ID_LENGTH))
    at: Mapped[datetime]


class KpiActual(Base):
    """The actual a person reached on a KPI metric in a finished cycle."""

    __tablename__ = "kpi_actuals"
    __table_args__ = (
        UniqueConstraint("cycle_id", "goal_id"),
        Index("ix_kpi_actuals_metric", "metric"),
        Index("ix_kpi_actuals_employee_metric", "employee_id", "metric"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    employee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    goal_id: Mapped[str] = mapped_column(String(GOAL_ID_LENGTH))
    metric: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(8), default="higher")
    actual: Mapped[float]
    target: Mapped[dict[str, Any]] = mapped_column(default=dict)
    department: Mapped[str | None] = mapped_column(String(GROUP_LENGTH))
    job_title: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime]
