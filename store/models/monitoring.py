"""Monitoring (phase 2): progress from project tools, and the anomalies rules found.

`ProgressEvent` is one fact a project tool reported about a person: progress on a goal,
an issue closed, a milestone reached or missed. It comes in by the signed webhook
(`POST /v1/progress-events`) or by a pull adapter (`activities.progress`); either way
`(source_id, event_id)` is unique, so a replayed delivery or a repeated pull stores
nothing twice. Milestone achievement rates are computed from the `milestone` events
(`store.monitoring.milestone_rates`).

`Anomaly` is one firing of a definition's anomaly rule for one participant, with the
evidence (the rule's variables when it fired). `anomaly_key` (cycle / person / rule /
firing number) makes a retried write a no-op. A coaching rule's task is `task_id`; the
anomaly stays open on the team dashboard until that task is done, or, for rules without
a task, until its cooldown ends.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utc_now
from store.models.cycles import (
    CYCLE_ID_LENGTH,
    PHASE_ID_LENGTH,
    TASK_ID_LENGTH,
    cycle_fk,
    one_of,
)
from store.models.notifications import BUSINESS_KEY_LENGTH
from store.models.org import EMPLOYEE_ID_LENGTH
from store.models.records import GOAL_ID_LENGTH

SOURCE_ID_LENGTH = 64
EVENT_ID_LENGTH = 128
PROGRESS_EVENT_KINDS = ("progress", "issue_closed", "milestone")
ANOMALY_ACTIONS = ("coach", "notify", "flag")


class ProgressEvent(Base):
    """One fact from a project tool about one person (append-only)."""

    __tablename__ = "progress_events"
    __table_args__ = (
        UniqueConstraint("source_id", "event_id"),
        CheckConstraint(one_of("kind", PROGRESS_EVENT_KINDS), name="kind_known"),
        Index("ix_progress_events_employee_at", "employee_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(String(SOURCE_ID_LENGTH))
    event_id: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH))
    employee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    cycle_id: Mapped[str | None] = mapped_column(String(CYCLE_ID_LENGTH))
    goal_id: Mapped[str | None] = mapped_column(String(GOAL_ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str | None] = mapped_column(String(500))
    progress: Mapped[float | None]
    milestone_id: Mapped[str | None] = mapped_column(String(EVENT_ID_LENGTH))
    due_on: Mapped[date | None]
    achieved: Mapped[bool | None]
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utc_now)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Anomaly(Base):
    """One firing of an anomaly rule for one participant."""

    __tablename__ = "anomalies"
    __table_args__ = (
        UniqueConstraint("anomaly_key"),
        CheckConstraint(one_of("action", ANOMALY_ACTIONS), name="action_known"),
        Index("ix_anomalies_cycle_employee", "cycle_id", "employee_id"),
        Index("ix_anomalies_manager", "manager_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    anomaly_key: Mapped[str] = mapped_column(String(BUSINESS_KEY_LENGTH))
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    employee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    manager_id: Mapped[str | None] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    phase_id: Mapped[str] = mapped_column(String(PHASE_ID_LENGTH))
    rule_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(String(500))
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    task_id: Mapped[str | None] = mapped_column(String(TASK_ID_LENGTH))
    fired_at: Mapped[datetime]
    rests_until: Mapped[datetime]
