"""The continuous performance file: every goal, check-in, review, rating, minute and
decision a cycle produces, and the timeline (`PerformanceEvent`) that ties them together.

Rows that come from a task are keyed by its task id (unique), so recording a submission
again (a retried activity, a reopened task) updates the record instead of duplicating it.
Append-only tables (`CalibrationChange`, `PerformanceEvent`) carry a unique key for the
same reason. Each table also has an index led by the person's id: the performance file
(`GET /v1/employees/{id}/performance-file`) reads a person's rows across cycles. These
are simple forms now; later issues deepen them (goal history, peer review aggregates,
target ranges from actuals).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, JSONType, utc_now
from store.models.cycles import (
    CYCLE_ID_LENGTH,
    GROUP_LENGTH,
    TASK_ID_LENGTH,
    cycle_fk,
    one_of,
)
from store.models.notifications import BUSINESS_KEY_LENGTH
from store.models.org import EMPLOYEE_ID_LENGTH, MONEY

GOAL_ID_LENGTH = 64
"""Goal and objective ids as forms refer to them (`parent_id`, `goal_id`)."""

OBJECTIVE_LEVELS = ("org", "department")
GOAL_STATUSES = (
    "draft",
    "proposed",
    "returned",
    "approved",
    "in_progress",
    "achieved",
    "missed",
    "dropped",
    "closed",
)
"""`activities.goals.rollup.GOAL_STATUSES`; `returned` and `closed` are the phase-1 ones."""
OBJECTIVE_STATUSES = ("active", "changed", "dropped")
REVIEW_KINDS = ("self", "manager", "peer", "upward")
PROPOSAL_STATUSES = ("proposed", "approved", "synced")
OUTBOX_STATUSES = ("pending", "sent")


class Objective(Base):
    """A company (org) or department objective that personal goals align to.

    Org objectives come with the launch; department objectives from the department's
    objectives task (`task_id`), which replaces its group's set on every submission.
    """

    __tablename__ = "objectives"
    __table_args__ = (
        UniqueConstraint("cycle_id", "objective_id"),
        CheckConstraint(one_of("level", OBJECTIVE_LEVELS), name="level_known"),
        CheckConstraint(one_of("status", OBJECTIVE_STATUSES), name="status_known"),
        Index("ix_objectives_cycle_level_group", "cycle_id", "level", "group"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    objective_id: Mapped[str] = mapped_column(String(GOAL_ID_LENGTH))
    level: Mapped[str] = mapped_column(String(16))
    group: Mapped[str | None] = mapped_column(String(GROUP_LENGTH))
    parent_id: Mapped[str | None] = mapped_column(String(GOAL_ID_LENGTH))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[str | None] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    key_results: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    task_id: Mapped[str | None] = mapped_column(String(TASK_ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    """`changed` or `dropped` mid-cycle (strategy change) keep the row for the history."""
    weight: Mapped[int] = mapped_column(default=1, server_default="1")
    """Its weight among its parent's aligned children in the roll-up."""
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class Goal(Base):
    """A personal goal. A new draft replaces the owner's goals still in draft (or
    returned); approval marks them approved. `target` holds the type's measures (key
    results for an OKR; metric, unit, direction and threshold/target/stretch for a KPI).
    `progress` (0..1) and `confidence` (1..5) come from the latest check-in."""

    __tablename__ = "goals"
    __table_args__ = (
        CheckConstraint(one_of("status", GOAL_STATUSES), name="status_known"),
        Index("ix_goals_cycle_owner", "cycle_id", "owner_id"),
        Index("ix_goals_owner", "owner_id"),
    )

    id: Mapped[str] = mapped_column(String(GOAL_ID_LENGTH), primary_key=True)
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    owner_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    task_id: Mapped[str] = mapped_column(String(TASK_ID_LENGTH))
    seq: Mapped[int] = mapped_column(default=1)
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(20))
    weight: Mapped[int]
    parent_id: Mapped[str | None] = mapped_column(String(GOAL_ID_LENGTH))
    target: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    progress: Mapped[float] = mapped_column(default=0.0)
    confidence: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class CheckIn(Base):
    """One submitted check-in, as the participant wrote it."""

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("task_id"),
        Index("ix_checkins_cycle_employee", "cycle_id", "employee_id"),
        Index("ix_checkins_employee_at", "employee_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(TASK_ID_LENGTH))
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    employee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    payload: Mapped[dict[str, Any]]
    at: Mapped[datetime]


class Review(Base):
    """A self, manager, peer or upward review of `subject_id` by `reviewer_id`.

    `ratings` are the competency ratings, `overall` the overall rating, `comments` the
    free text (strengths, improvements, achievements).
    """

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("task_id"),
        CheckConstraint(one_of("kind", REVIEW_KINDS), name="kind_known"),
        Index("ix_reviews_cycle_subject", "cycle_id", "subject_id"),
        Index("ix_reviews_subject_at", "subject_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(TASK_ID_LENGTH))
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    subject_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    reviewer_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(16))
    ratings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    overall: Mapped[float | None]
    comments: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime]


class Rating(Base):
    """A participant's evaluation result: the computed score and rating, the calibrated
    rating (when calibration changed it) and the final rating everything downstream uses.
    `sources` holds each evidence source's value on the 1..5 scale."""

    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("cycle_id", "employee_id"),
        Index("ix_ratings_employee", "employee_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    employee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    score: Mapped[float | None]
    rating: Mapped[int | None]
    label: Mapped[str | None] = mapped_column(String(200))
    sources: Mapped[dict[str, Any]] = mapped_column(default=dict)
    calibrated_rating: Mapped[int | None]
    calibrated_by: Mapped[str | None] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    calibration_reason: Mapped[str | None] = mapped_column(Text)
    final_rating: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class CalibrationChange(Base):
    """Append-only: one rating changed in one calibration (task), with its reason."""

    __tablename__ = "calibration_changes"
    __table_args__ = (
        UniqueConstraint("task_id", "employee_id"),
        Index("ix_calibration_changes_cycle_employee", "cycle_id", "employee_id"),
        Index("ix_calibration_changes_employee_at", "employee_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    employee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    task_id: Mapped[str] = mapped_column(String(TASK_ID_LENGTH))
    group: Mapped[str] = mapped_column(String(GROUP_LENGTH))
    from_rating: Mapped[int | None]
    to_rating: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    calibrator_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    at: Mapped[datetime]


class InterviewMinutes(Base):
    """The minutes of a performance conversation; action items owned by the employee
    become development goals in the next cycle."""

    __tablename__ = "interview_minutes"
    __table_args__ = (
        UniqueConstraint("task_id"),
        Index("ix_interview_minutes_employee", "employee_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(TASK_ID_LENGTH))
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    employee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    recorded_by: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    sections: Mapped[dict[str, Any]] = mapped_column(default=dict)
    strengths: Mapped[str | None] = mapped_column(Text)
    development_areas: Mapped[str | None] = mapped_column(Text)
    action_items: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    agreed_next_goals: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    at: Mapped[datetime]


class Acknowledgment(Base):
    """The employee's response to their interview minutes: acknowledged or disagreed."""

    __tablename__ = "acknowledgments"
    __table_args__ = (
        UniqueConstraint("task_id"),
        CheckConstraint(one_of("decision", ("acknowledge", "disagree")), name="decision_known"),
        Index("ix_acknowledgments_cycle_employee", "cycle_id", "employee_id"),
        Index("ix_acknowledgments_employee_at", "employee_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(TASK_ID_LENGTH))
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    employee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class ResultProposal(Base):
    """The proposed pay and talent outcome of one participant, for HR to approve.

    `base_merit_*` are the matrix's values before the budget; `merit_*` after it. The
    budget is always re-applied from the base values, so applying it twice changes
    nothing. Money is in `currency`, rounded to cents.
    """

    __tablename__ = "result_proposals"
    __table_args__ = (
        UniqueConstraint("cycle_id", "employee_id"),
        CheckConstraint(one_of("status", PROPOSAL_STATUSES), name="status_known"),
        Index("ix_result_proposals_cycle_group", "cycle_id", "group"),
        Index("ix_result_proposals_employee", "employee_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    employee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    group: Mapped[str] = mapped_column(String(GROUP_LENGTH))
    rating: Mapped[int | None]
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    base_merit_percent: Mapped[Decimal] = mapped_column(Numeric(7, 4), default=Decimal(0))
    base_merit_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    merit_percent: Mapped[Decimal] = mapped_column(Numeric(7, 4), default=Decimal(0))
    merit_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    lump_sum: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    bonus: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    nine_box: Mapped[str | None] = mapped_column(String(32))
    flags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class HrisOutbox(Base):
    """One approved result to send to the HRIS; `business_key` is the HRIS's idempotency
    key too (cycle / employee / kind), so a re-send is a no-op on both sides."""

    __tablename__ = "hris_outbox"
    __table_args__ = (
        UniqueConstraint("business_key"),
        CheckConstraint(one_of("status", OUTBOX_STATUSES), name="status_known"),
        Index("ix_hris_outbox_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    business_key: Mapped[str] = mapped_column(String(BUSINESS_KEY_LENGTH))
    cycle_id: Mapped[str] = mapped_column(String(CYCLE_ID_LENGTH), cycle_fk())
    employee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    sent_at: Mapped[datetime | None]


class PerformanceEvent(Base):
    """Append-only timeline of a person's performance file.

    `ref` points at the record (usually a task id), `summary` is one line for the
    timeline, `data` the small facts worth showing without a join. `employee_id` is a
    group's subject (`@<group>`) for events of a whole department (its objectives).
    `event_key` makes a retried write a no-op.
    """

    __tablename__ = "performance_events"
    __table_args__ = (
        UniqueConstraint("event_key"),
        Index("ix_performance_events_employee_at", "employee_id", "at"),
        Index("ix_performance_events_cycle", "cycle_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    event_key: Mapped[str] = mapped_column(String(BUSINESS_KEY_LENGTH))
    employee_id: Mapped[str] = mapped_column(String(GROUP_LENGTH + 1))
    cycle_id: Mapped[str | None] = mapped_column(String(CYCLE_ID_LENGTH))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))
    ref: Mapped[str | None] = mapped_column(String(TASK_ID_LENGTH))
    summary: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
