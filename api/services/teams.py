"""A manager's team page: each direct report's progress through one cycle.

Direct reports are the active employees whose manager is the caller, plus anyone the
cycle snapshotted as reporting to them (a report who moved on mid-cycle still shows in
that cycle). Progress comes from the store's read model: the phase table the cycle's
gates poll, and the task inbox.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth import Principal
from api.errors import NotFound
from api.schemas.teams import ReportProgress, TeamPublic
from store.models import Cycle, CycleParticipant, Employee, ParticipantPhase, Task

OPEN = ("open", "overdue")


def _team_cycles(session: Session, manager_id: str) -> list[Cycle]:
    """Cycles with participants reporting to `manager_id`, running ones first, newest first."""
    ids = select(CycleParticipant.cycle_id).where(CycleParticipant.manager_id == manager_id)
    rows = session.scalars(
        select(Cycle).where(Cycle.cycle_id.in_(ids)).order_by(Cycle.nominal_start.desc())
    ).all()
    return sorted(rows, key=lambda c: c.status != "running")


def _phases(session: Session, cycle_id: str, people: list[str]) -> dict[str, tuple[str, str]]:
    """Employee -> (phase id, status) of the phase they most recently entered or left."""
    rows = session.execute(
        select(
            ParticipantPhase.employee_id,
            ParticipantPhase.phase_id,
            ParticipantPhase.status,
        )
        .where(ParticipantPhase.cycle_id == cycle_id, ParticipantPhase.employee_id.in_(people))
        .order_by(ParticipantPhase.updated_at, ParticipantPhase.id)
    ).all()
    return {employee: (phase, status) for employee, phase, status in rows}


def _task_counts(
    session: Session, cycle_id: str, people: list[str]
) -> tuple[Counter[str], Counter[str], Counter[str], dict[str, datetime]]:
    total: Counter[str] = Counter()
    done: Counter[str] = Counter()
    overdue: Counter[str] = Counter()
    rows = session.execute(
        select(Task.assignee_id, Task.status, func.count())
        .where(
            Task.cycle_id == cycle_id,
            Task.assignee_id.in_(people),
            Task.status != "cancelled",
        )
        .group_by(Task.assignee_id, Task.status)
    ).all()
    for assignee, status, count in rows:
        total[assignee] += count
        if status == "submitted":
            done[assignee] += count
        elif status == "overdue":
            overdue[assignee] += count
    next_due = {
        assignee: due
        for assignee, due in session.execute(
            select(Task.assignee_id, func.min(Task.due_at))
            .where(
                Task.cycle_id == cycle_id,
                Task.assignee_id.in_(people),
                Task.status.in_(OPEN),
            )
            .group_by(Task.assignee_id)
        ).all()
    }
    return total, done, overdue, next_due


def my_team(session: Session, user: Principal, cycle_id: str | None = None) -> TeamPublic:
    """The caller's direct reports and their progress in `cycle_id` (default: the newest
    running cycle they take part in)."""
    cycles = _team_cycles(session, user.subject)
    known = [c.cycle_id for c in cycles]
    if cycle_id is not None and cycle_id not in known:
        raise NotFound(f"no one reporting to you takes part in {cycle_id}", type="CycleNotFound")
    chosen = cycle_id or (known[0] if known else None)

    employees = {
        row.employee_id: row
        for row in session.scalars(
            select(Employee).where(Employee.manager_id == user.subject, Employee.active.is_(True))
        )
    }
    participants: set[str] = set()
    if chosen is not None:
        participants = set(
            session.scalars(
                select(CycleParticipant.employee_id).where(
                    CycleParticipant.cycle_id == chosen,
                    CycleParticipant.manager_id == user.subject,
                )
            )
        )
        missing = participants - employees.keys()
        if missing:
            for row in session.scalars(select(Employee).where(Employee.employee_id.in_(missing))):
                employees[row.employee_id] = row
    people = sorted(employees, key=lambda e: employees[e].name)

    phases: dict[str, tuple[str, str]] = {}
    total: Counter[str] = Counter()
    done: Counter[str] = Counter()
    overdue: Counter[str] = Counter()
    next_due: dict[str, datetime] = {}
    waiting: Counter[str] = Counter()
    if chosen is not None and people:
        phases = _phases(session, chosen, people)
        total, done, overdue, next_due = _task_counts(session, chosen, people)
        waiting = Counter(
            {
                subject: int(count)
                for subject, count in session.execute(
                    select(Task.subject_id, func.count())
                    .where(
                        Task.cycle_id == chosen,
                        Task.assignee_id == user.subject,
                        Task.subject_id.in_(people),
                        Task.status.in_(OPEN),
                    )
                    .group_by(Task.subject_id)
                ).all()
            }
        )

    reports = []
    for employee_id in people:
        row = employees[employee_id]
        phase_id, phase_status = phases.get(employee_id, (None, None))
        reports.append(
            ReportProgress(
                employee_id=employee_id,
                name=row.name,
                job_title=row.job_title,
                department=row.department,
                participating=employee_id in participants,
                phase_id=phase_id,
                phase_status=phase_status,
                tasks_total=total[employee_id],
                tasks_done=done[employee_id],
                tasks_overdue=overdue[employee_id],
                waiting_on_me=waiting[employee_id],
                next_due_at=next_due.get(employee_id),
            )
        )
    return TeamPublic(manager_id=user.subject, cycle_id=chosen, cycles=known, reports=reports)
