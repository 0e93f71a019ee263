"""Data-subject requests: export everything held about a person, and erase it.

Export: every row of the store about the person (see `export_subject` for the list),
with every *other* person's identity replaced by `redacted`: their employee ids and full
names, wherever they appear (id columns, task ids, payloads, free text). Only whole
tokens are replaced, so a payload that names a colleague by first name alone keeps it:
exports are for HR to review before they leave the building.

Erasure works by category (`perfloop.settings.RETENTION_CATEGORIES`); the ones named in
`PERFLOOP_RETENTION_KEEP` are kept (default `results,audit`: pay outcomes are payroll
records with their own legal retention, and the audit trail is always kept). Rows about
the person are deleted; rows that are about someone else but name the person (a review
they wrote of a colleague, minutes they recorded) keep their content for that colleague
and have the person's id replaced by `erased`. The employee row itself is anonymised,
not deleted: other rows (their reports' `manager_id`) point at it.

Erasure does not stop running workflows: take the person out of running cycles first,
or a participant workflow may record new rows about them afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Column, delete, select, update
from sqlalchemy.orm import DeclarativeBase, Session

from api.permissions import Access
from api.schemas.employees import ErasureReport, SubjectExport
from api.services import audit
from api.services.employees import find_employee
from perfloop.settings import Settings
from store.models import (
    Acknowledgment,
    Anomaly,
    AuditEvent,
    CalibrationChange,
    CheckIn,
    CycleParticipant,
    Goal,
    HrisOutbox,
    InterviewMinutes,
    KpiActual,
    Notification,
    Objective,
    ParticipantPhase,
    PerformanceEvent,
    ProgressEvent,
    Rating,
    ResultProposal,
    ResultSync,
    Review,
    TalentDecision,
    Task,
    TaskEvent,
)
from store.models import Employee as EmployeeRow

REDACTED = "redacted"
ERASED = "erased"
"""What replaces an erased person's id in rows kept for others."""

_ID_CHARS = r"A-Za-z0-9._@+-"

PERSON_COLUMNS = (
    "employee_id",
    "manager_id",
    "subject_id",
    "assignee_id",
    "submitted_by",
    "reviewer_id",
    "recorded_by",
    "calibrator_id",
    "calibrated_by",
    "owner_id",
    "recipient_id",
    "launched_by",
    "who",
    "actor_id",
)
"""Columns that hold a person's id; their values feed the redaction list."""


def _row(row: DeclarativeBase) -> dict[str, Any]:
    table = row.__table__
    columns: Iterable[Column[Any]] = table.columns  # type: ignore[assignment]
    return {column.key: getattr(row, column.key) for column in columns}


class Redactor:
    """Replaces the ids and full names of everyone but `keep` with `redacted`."""

    def __init__(self, keep: str, others: Iterable[str]) -> None:
        tokens = sorted({t for t in others if t and t != keep}, key=len, reverse=True)
        self._pattern = (
            re.compile(
                rf"(?<![{_ID_CHARS}])(?:{'|'.join(re.escape(t) for t in tokens)})(?![{_ID_CHARS}])"
            )
            if tokens
            else None
        )

    def text(self, value: str) -> str:
        return value if self._pattern is None else self._pattern.sub(REDACTED, value)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        return value


def _sections(session: Session, employee_id: str) -> dict[str, list[Any]]:
    def rows(query: Any) -> list[Any]:
        return list(session.scalars(query).all())

    tasks_about = rows(select(Task).where(Task.subject_id == employee_id))
    tasks_assigned = rows(
        select(Task).where(Task.assignee_id == employee_id, Task.subject_id != employee_id)
    )
    task_ids = [t.task_id for t in (*tasks_about, *tasks_assigned)]
    return {
        "participations": rows(
            select(CycleParticipant).where(CycleParticipant.employee_id == employee_id)
        ),
        "phases": rows(select(ParticipantPhase).where(ParticipantPhase.employee_id == employee_id)),
        "tasks_about": tasks_about,
        "tasks_assigned": tasks_assigned,
        "task_events": rows(select(TaskEvent).where(TaskEvent.task_id.in_(task_ids)))
        if task_ids
        else [],
        "objectives_owned": rows(select(Objective).where(Objective.owner_id == employee_id)),
        "goals": rows(select(Goal).where(Goal.owner_id == employee_id)),
        "checkins": rows(select(CheckIn).where(CheckIn.employee_id == employee_id)),
        "progress_events": rows(
            select(ProgressEvent).where(ProgressEvent.employee_id == employee_id)
        ),
        "anomalies": rows(select(Anomaly).where(Anomaly.employee_id == employee_id)),
        "reviews_about": rows(select(Review).where(Review.subject_id == employee_id)),
        "reviews_written": rows(
            select(Review).where(
                Review.reviewer_id == employee_id, Review.subject_id != employee_id
            )
        ),
        "ratings": rows(select(Rating).where(Rating.employee_id == employee_id)),
        "calibration_changes": rows(
            select(CalibrationChange).where(CalibrationChange.employee_id == employee_id)
        ),
        "interview_minutes": rows(
            select(InterviewMinutes).where(InterviewMinutes.employee_id == employee_id)
        ),
        "minutes_recorded": rows(
            select(InterviewMinutes).where(
                InterviewMinutes.recorded_by == employee_id,
                InterviewMinutes.employee_id != employee_id,
            )
        ),
        "acknowledgments": rows(
            select(Acknowledgment).where(Acknowledgment.employee_id == employee_id)
        ),
        "results": rows(select(ResultProposal).where(ResultProposal.employee_id == employee_id)),
        "hris_outbox": rows(select(HrisOutbox).where(HrisOutbox.employee_id == employee_id)),
        "result_syncs": rows(select(ResultSync).where(ResultSync.employee_id == employee_id)),
        "talent_decisions": rows(
            select(TalentDecision).where(TalentDecision.employee_id == employee_id)
        ),
        "kpi_actuals": rows(select(KpiActual).where(KpiActual.employee_id == employee_id)),
        "performance_events": rows(
            select(PerformanceEvent).where(PerformanceEvent.employee_id == employee_id)
        ),
        "notifications": rows(select(Notification).where(Notification.recipient_id == employee_id)),
        "audit": rows(select(AuditEvent).where(AuditEvent.subject_id == employee_id)),
    }


def export_subject(session: Session, access: Access, employee_id: str) -> SubjectExport:
    """Everything held about `employee_id`, others redacted; audited."""
    employee = find_employee(session, employee_id)
    sections: dict[str, Any] = {"employee": _row(employee)}
    others: set[str] = set()
    for name, found in _sections(session, employee_id).items():
        sections[name] = [_row(row) for row in found]
    for rows in sections.values():
        for row in rows if isinstance(rows, list) else [rows]:
            others.update(str(row[c]) for c in PERSON_COLUMNS if row.get(c))
    # Everyone the store knows, by id and full name: payloads may name people anywhere.
    for other_id, name in session.execute(select(EmployeeRow.employee_id, EmployeeRow.name)):
        others.add(other_id)
        if other_id != employee_id and name != employee.name:
            others.add(name)
    others.discard(employee.name)
    redact = Redactor(employee_id, others)
    audit.record(
        session,
        access,
        "employee.export",
        resource_type="employee",
        resource_id=employee_id,
        subject_id=employee_id,
    )
    session.commit()
    return SubjectExport(
        employee_id=employee_id,
        generated_at=datetime.now(UTC).isoformat(),
        sections=redact(to_jsonable_python(sections)),  # money stays exact: as strings
    )


# --- erasure ------------------------------------------------------------------------------


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _erase_category(session: Session, category: str, employee_id: str) -> int:
    """Delete or anonymise one category's rows about `employee_id`; rows changed."""
    me = employee_id
    run = session.execute
    if category == "profile":
        return _count(
            run(
                update(EmployeeRow)
                .where(EmployeeRow.employee_id == me)
                .values(
                    name=ERASED,
                    email=f"{ERASED}+{me}@invalid",
                    location=None,
                    hire_date=None,
                    salary=None,
                    range_midpoint=None,
                    job_title=None,
                    active=False,
                )
            )
        )
    if category == "participation":
        return _count(
            run(delete(ParticipantPhase).where(ParticipantPhase.employee_id == me))
        ) + _count(run(delete(CycleParticipant).where(CycleParticipant.employee_id == me)))
    if category == "tasks":
        about = select(Task.task_id).where(Task.subject_id == me).scalar_subquery()
        count = _count(run(delete(TaskEvent).where(TaskEvent.task_id.in_(about))))
        count += _count(run(delete(Task).where(Task.subject_id == me)))
        count += _count(run(update(TaskEvent).where(TaskEvent.who == me).values(who=ERASED)))
        count += _count(run(update(Task).where(Task.assignee_id == me).values(assignee_id=ERASED)))
        count += _count(
            run(update(Task).where(Task.submitted_by == me).values(submitted_by=ERASED))
        )
        return count
    if category == "goals":
        return (
            _count(run(delete(Goal).where(Goal.owner_id == me)))
            + _count(run(delete(CheckIn).where(CheckIn.employee_id == me)))
            + _count(run(update(Objective).where(Objective.owner_id == me).values(owner_id=None)))
            # Monitoring: progress from project tools and the anomalies found in it.
            + _count(run(delete(ProgressEvent).where(ProgressEvent.employee_id == me)))
            + _count(run(delete(Anomaly).where(Anomaly.employee_id == me)))
            + _count(run(update(Anomaly).where(Anomaly.manager_id == me).values(manager_id=ERASED)))
            + _count(run(delete(KpiActual).where(KpiActual.employee_id == me)))
        )
    if category == "reviews":
        return _count(run(delete(Review).where(Review.subject_id == me))) + _count(
            run(update(Review).where(Review.reviewer_id == me).values(reviewer_id=ERASED))
        )
    if category == "minutes":
        return (
            _count(run(delete(InterviewMinutes).where(InterviewMinutes.employee_id == me)))
            + _count(run(delete(Acknowledgment).where(Acknowledgment.employee_id == me)))
            + _count(
                run(
                    update(InterviewMinutes)
                    .where(InterviewMinutes.recorded_by == me)
                    .values(recorded_by=ERASED)
                )
            )
        )
    if category == "ratings":
        return (
            _count(run(delete(Rating).where(Rating.employee_id == me)))
            + _count(run(delete(CalibrationChange).where(CalibrationChange.employee_id == me)))
            + _count(
                run(update(Rating).where(Rating.calibrated_by == me).values(calibrated_by=ERASED))
            )
            + _count(
                run(
                    update(CalibrationChange)
                    .where(CalibrationChange.calibrator_id == me)
                    .values(calibrator_id=ERASED)
                )
            )
        )
    if category == "results":
        return (
            _count(run(delete(ResultProposal).where(ResultProposal.employee_id == me)))
            + _count(run(delete(HrisOutbox).where(HrisOutbox.employee_id == me)))
            + _count(run(delete(ResultSync).where(ResultSync.employee_id == me)))
            + _count(run(delete(TalentDecision).where(TalentDecision.employee_id == me)))
            + _count(
                run(
                    update(TalentDecision)
                    .where(TalentDecision.decided_by == me)
                    .values(decided_by=ERASED)
                )
            )
        )
    if category == "notifications":
        return _count(run(delete(Notification).where(Notification.recipient_id == me)))
    if category == "timeline":
        return _count(run(delete(PerformanceEvent).where(PerformanceEvent.employee_id == me)))
    raise ValueError(f"no erasure for category {category!r}")  # pragma: no cover


def erase_subject(
    session: Session, access: Access, settings: Settings, employee_id: str, reason: str
) -> ErasureReport:
    """Erase `employee_id`'s data except the retained categories, in one transaction
    together with its audit row."""
    from perfloop.settings import RETENTION_CATEGORIES

    find_employee(session, employee_id)
    kept = [c for c in RETENTION_CATEGORIES if c in settings.retention_keep]
    erased: dict[str, int] = {}
    for category in RETENTION_CATEGORIES:
        if category not in kept:
            erased[category] = _erase_category(session, category, employee_id)
    audit.record(
        session,
        access,
        "employee.erase",
        resource_type="employee",
        resource_id=employee_id,
        subject_id=employee_id,
        reason=reason,
    )
    session.commit()
    return ErasureReport(employee_id=employee_id, erased=erased, kept=kept)
