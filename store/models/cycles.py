"""Cycles, their participants, and the read model of where everyone stands.

Temporal holds the process; these tables are what the API and the cycle's gates read:

- `Cycle`: one launched review cycle and the definition version it pinned.
- `CycleParticipant`: who takes part, snapshotted from the HRIS at launch (late joiners
  added by the population sync), with a profile *without names or pay*.
- `ParticipantPhase`: each participant's status in each phase; the cycle workflow polls
  it (aggregated) to decide when a group may be calibrated or approved.
- `Task` and `TaskEvent`: the inbox, keyed by the engine's deterministic task id, and the
  append-only history of every task (opened, submitted, overdue, reassigned, ...).

Times written by the engine are *nominal* (the cycle's business calendar), as the
activities receive them; `created_at` and `updated_at` of rows the engine does not time
are wall-clock UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, JSONType, utc_now
from store.models.org import EMPLOYEE_ID_LENGTH

CYCLE_ID_LENGTH = 100
TASK_ID_LENGTH = 255
GROUP_LENGTH = 200
PHASE_ID_LENGTH = 63

CYCLE_STATUSES = ("running", "completed", "cancelled")
PARTICIPANT_STATUSES = ("active", "left", "cancelled", "completed")
PHASE_STATUSES = ("pending", "active", "waiting", "completed", "skipped", "cancelled")
TASK_STATUSES = ("open", "overdue", "submitted", "closed", "cancelled")
TASK_EVENTS = (
    "opened",
    "submitted",
    "overdue",
    "reassigned",
    "reopened",
    "closed",
    "cancelled",
    "due_changed",
)


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK expression: `column` holds one of `values`."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def cycle_fk() -> ForeignKey:
    """A reference to the cycle a row belongs to; rows go when their cycle is deleted."""
    return ForeignKey("cycles.cycle_id", ondelete="CASCADE")


class Cycle(Base):
    """One launched cycle; written by the cycle workflow at launch and at its end."""

    __tablename__ = "cycles"
    __table_args__ = (CheckConstraint(one_of("status", CYCLE_STATUSES), name="status_known"),)

    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), primary_key=True)
    definition_ref: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="running")
    nominal_start: Mapped[datetime]
    nominal_end: Mapped[datetime]
    launched_by: Mapped[str | None] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
    org_objectives: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)


class CycleParticipant(Base):
    """One person in one cycle.

    `profile` is `activities.types.ParticipantProfile` as JSON: what the participant
    workflow is started with. It deliberately holds no name, e-mail or pay. `group` is
    the calibration and approval group (the department at launch; it does not follow
    later moves, so a group's head count stays stable through the cycle).
    """

    __tablename__ = "cycle_participants"
    __table_args__ = (
        UniqueConstraint("cycle_id", "employee_id"),
        CheckConstraint(one_of("status", PARTICIPANT_STATUSES), name="status_known"),
        Index("ix_cycle_participants_cycle_group", "cycle_id", "group"),
        Index("ix_cycle_participants_employee", "employee_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    employee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    group: Mapped[str] = mapped_column(String(GROUP_LENGTH))
    manager_id: Mapped[str | None] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default="active")
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]
    joined_late: Mapped[bool] = mapped_column(default=False)
    profile: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class ParticipantPhase(Base):
    """A participant's status in one phase, as the participant workflow last recorded it.

    No row means the phase has not started for them (pending).
    """

    __tablename__ = "participant_phases"
    __table_args__ = (
        UniqueConstraint("cycle_id", "employee_id", "phase_id"),
        CheckConstraint(one_of("status", PHASE_STATUSES), name="status_known"),
        Index("ix_participant_phases_cycle_phase_status", "cycle_id", "phase_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    employee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    phase_id: Mapped[str] = mapped_column(String(PHASE_ID_LENGTH))
    group: Mapped[str] = mapped_column(String(GROUP_LENGTH))
    status: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime]


class Task(Base):
    """One human task: the inbox row. `task_id` is the engine's deterministic id.

    `payload` is the latest accepted submission and `revision` counts submissions (a
    reopened task is submitted again with the next revision). Group tasks (department
    objectives, calibration, results approval) have subject `@<group>`.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(one_of("status", TASK_STATUSES), name="status_known"),
        Index("ix_tasks_assignee_status", "assignee_id", "status"),
        Index("ix_tasks_cycle_phase", "cycle_id", "phase_id"),
        Index("ix_tasks_subject", "subject_id"),
    )

    task_id: Mapped[str] = mapped_column(String(TASK_ID_LENGTH), primary_key=True)
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    workflow_id: Mapped[str] = mapped_column(String(TASK_ID_LENGTH))
    subject_id: Mapped[str] = mapped_column(String(GROUP_LENGTH + 1))
    assignee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    phase_id: Mapped[str] = mapped_column(String(PHASE_ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(40))
    form_id: Mapped[str] = mapped_column(String(PHASE_ID_LENGTH))
    title: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="open")
    due_at: Mapped[datetime]
    opened_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    submitted_by: Mapped[str | None] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    late: Mapped[bool] = mapped_column(default=False)
    revision: Mapped[int] = mapped_column(default=0)
    prefill: Mapped[dict[str, Any]] = mapped_column(default=dict)
    payload: Mapped[dict[str, Any] | None]
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class TaskEvent(Base):
    """Append-only history of a task. `event_key` makes a retried write a no-op."""

    __tablename__ = "task_events"
    __table_args__ = (
        UniqueConstraint("task_id", "event_key"),
        CheckConstraint(one_of("what", TASK_EVENTS), name="what_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(
        String(TASK_ID_LENGTH), ForeignKey("tasks.task_id", ondelete="CASCADE")
    )
    event_key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    what: Mapped[str] = mapped_column(String(16))
    who: Mapped[str | None] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
