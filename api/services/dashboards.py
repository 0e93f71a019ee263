"""The team dashboard: for one manager, each direct report's goals against the plan, last
check-in, open anomalies, overdue tasks and milestone achievement rate.

Everything is read from the store at request time (goals move with every recorded
check-in and every progress event), so a submission shows as soon as its activity has
committed: within seconds. Reports are the active employees whose manager is
`manager_id`, plus those the cycle snapshotted as reporting to them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from api.errors import NotFound
from api.permissions import Access
from api.schemas.dashboards import (
    AnomalyPublic,
    GoalProgress,
    MilestoneSummary,
    OverdueTask,
    PersonDashboard,
    TeamDashboard,
)
from api.services import audit
from definitions.durations import resolve_point
from definitions.models import CycleDefinition, MonitoringPhase
from definitions.registry import get_version
from store.base import utc_now
from store.models import Anomaly, CheckIn, Cycle, CycleParticipant, Employee, Task
from store.monitoring import (
    OPEN_TASK_STATUSES,
    confidence_of,
    expected_by_now,
    live_goals,
    milestone_rates,
    weighted_progress,
)

BEHIND_BY = 0.2
"""How far below the plan a goal counts as behind on the dashboard."""


def _team_cycles(session: Session, manager_id: str) -> list[Cycle]:
    ids = select(CycleParticipant.cycle_id).where(CycleParticipant.manager_id == manager_id)
    rows = session.scalars(
        select(Cycle).where(Cycle.cycle_id.in_(ids)).order_by(Cycle.nominal_start.desc())
    ).all()
    return sorted(rows, key=lambda c: c.status != "running")


def _monitoring_window(session: Session, cycle: Cycle) -> tuple[datetime, datetime] | None:
    version = get_version(session, cycle.definition_ref)
    definition = CycleDefinition.model_validate(version.canonical["definition"], strict=False)
    for phase in definition.phases:
        if isinstance(phase, MonitoringPhase):
            return (
                resolve_point(cycle.nominal_start, phase.window.opens),
                resolve_point(cycle.nominal_start, phase.window.due),
            )
    return None


def _reports(session: Session, manager_id: str, cycle_id: str | None) -> list[Employee]:
    snapshotted = (
        select(CycleParticipant.employee_id).where(
            CycleParticipant.cycle_id == cycle_id, CycleParticipant.manager_id == manager_id
        )
        if cycle_id is not None
        else None
    )
    condition: ColumnElement[bool] = (Employee.manager_id == manager_id) & Employee.active.is_(True)
    if snapshotted is not None:
        condition = or_(condition, Employee.employee_id.in_(snapshotted))
    return list(session.scalars(select(Employee).where(condition).order_by(Employee.name)))


def team_dashboard(
    session: Session, access: Access, manager_id: str, cycle_id: str | None = None
) -> TeamDashboard:
    not_found = NotFound(f"no employee {manager_id}", type="EmployeeNotFound")
    if session.get(Employee, manager_id) is None:
        raise not_found
    access.check(session, manager_id, not_found=not_found)
    cycles = _team_cycles(session, manager_id)
    known = [c.cycle_id for c in cycles]
    if cycle_id is not None and cycle_id not in known:
        raise NotFound(f"no one reporting to {manager_id} takes part in {cycle_id}",
                       type="CycleNotFound")  # fmt: skip
    chosen = next((c for c in cycles if c.cycle_id == cycle_id), cycles[0] if cycles else None)
    now = utc_now()
    people = _reports(session, manager_id, chosen.cycle_id if chosen else None)
    ids = [p.employee_id for p in people]
    window = _monitoring_window(session, chosen) if chosen is not None else None
    expected = expected_by_now(*window, now) if window is not None else None
    rates = milestone_rates(session, ids, since=chosen.nominal_start if chosen else None)

    anomalies: dict[str, list[AnomalyPublic]] = defaultdict(list)
    overdue: dict[str, list[OverdueTask]] = defaultdict(list)
    if chosen is not None and ids:
        open_tasks = select(Task.task_id).where(Task.status.in_(OPEN_TASK_STATUSES))
        for anomaly in session.scalars(
            select(Anomaly)
            .where(Anomaly.cycle_id == chosen.cycle_id, Anomaly.employee_id.in_(ids))
            .where(
                or_(
                    Anomaly.task_id.in_(open_tasks),
                    Anomaly.task_id.is_(None) & (Anomaly.rests_until > now),
                )
            )
            .order_by(Anomaly.fired_at.desc())
        ):
            anomalies[anomaly.employee_id].append(AnomalyPublic.model_validate(anomaly))
        for task in session.scalars(
            select(Task)
            .where(
                Task.cycle_id == chosen.cycle_id,
                Task.assignee_id.in_(ids),
                Task.status.in_(OPEN_TASK_STATUSES),
                Task.due_at < now,
            )
            .order_by(Task.due_at)
        ):
            overdue[task.assignee_id].append(OverdueTask.model_validate(task))

    rows = []
    for person in people:
        goals = live_goals(session, chosen.cycle_id, person.employee_id) if chosen else []
        last = (
            session.scalars(
                select(CheckIn)
                .where(
                    CheckIn.cycle_id == chosen.cycle_id, CheckIn.employee_id == person.employee_id
                )
                .order_by(CheckIn.at.desc())
                .limit(1)
            ).first()
            if chosen
            else None
        )
        rate = rates[person.employee_id]
        rows.append(
            PersonDashboard(
                employee_id=person.employee_id,
                name=person.name,
                job_title=person.job_title,
                progress=round(weighted_progress(goals), 4),
                expected_by_now=round(expected, 4) if expected is not None else None,
                goals=[
                    GoalProgress(
                        goal_id=goal.id,
                        title=goal.title,
                        type=goal.type,
                        weight=goal.weight,
                        status=goal.status,
                        progress=goal.progress,
                        confidence=goal.confidence,
                        behind_plan=(
                            goal.progress < expected - BEHIND_BY if expected is not None else None
                        ),
                    )
                    for goal in goals
                ],
                last_checkin_at=last.at if last else None,
                last_confidence=(confidence_of(last.payload) or None) if last else None,
                open_anomalies=anomalies[person.employee_id],
                overdue_tasks=overdue[person.employee_id],
                milestones=MilestoneSummary(
                    achieved=rate.achieved, total=rate.total, rate=rate.rate
                ),
            )
        )
    audit.record(
        session,
        access,
        "team-dashboard.read",
        resource_type="team-dashboard",
        resource_id=manager_id,
        subject_id=manager_id,
    )
    session.commit()
    return TeamDashboard(
        manager_id=manager_id,
        cycle_id=chosen.cycle_id if chosen else None,
        cycles=known,
        as_of=now,
        people=rows,
    )
