"""The KPI actuals a finished cycle leaves behind, for the next cycles' target ranges.

When a cycle completes, every KPI goal of it (not returned or dropped) with a numeric
actual becomes one `KpiActual` row: person, metric, unit, direction, the actual, the
goal's threshold / target / stretch, and the person's department and job title at that
time (so "the role's" and "the department's" history do not move when people change
jobs later). The actual is
the goal's `target.actual` (what check-ins reported), else the `actual` of the latest
check-in entry for that goal. Keyed by (cycle, goal): closing again changes nothing. A
definition with `carry_over.actuals_to_target_history: false` records none.

`past_actuals` reads them back by metric and basis (the person's, their role's, their
department's) from the most recent other cycles.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from definitions.models import ResultsPhase
from store.models import CheckIn, Cycle, Employee, Goal, KpiActual
from store.upsert import insert_if_absent

TARGET_KEYS = ("threshold", "target", "stretch")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _checkin_actuals(session: Session, cycle_id: str) -> dict[str, float]:
    """The latest reported actual per goal id, from the cycle's check-ins."""
    actuals: dict[str, float] = {}
    for payload in session.scalars(
        select(CheckIn.payload).where(CheckIn.cycle_id == cycle_id).order_by(CheckIn.at)
    ):
        for item in (payload or {}).get("goals", []):
            if isinstance(item, dict):
                value = _number(item.get("actual"))
                if value is not None:
                    actuals[str(item.get("goal_id"))] = value
    return actuals


def keeps_actuals(session: Session, definition_ref: str) -> bool:
    """The definition's `carry_over.actuals_to_target_history` (true when the definition
    has no results phase, or the store does not have the version)."""
    from definitions.pinned import PinnedDefinition
    from definitions.registry import RegistryError, get_version

    try:
        row = get_version(session, definition_ref)
    except RegistryError:
        return True
    pinned = PinnedDefinition.from_canonical(row.ref, row.sha256, row.canonical)
    for phase in pinned.definition.phases:
        if isinstance(phase, ResultsPhase):
            return phase.carry_over.actuals_to_target_history
    return True


def record_kpi_actuals(session: Session, cycle_id: str, at: datetime) -> int:
    """Record the cycle's KPI actuals once (unless its definition's
    `carry_over.actuals_to_target_history` is false); how many rows this call added."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None or not keeps_actuals(session, cycle.definition_ref):
        return 0
    goals = session.scalars(
        select(Goal)
        .where(
            Goal.cycle_id == cycle_id,
            Goal.type == "kpi",
            Goal.status.not_in(("returned", "dropped")),
        )
        .order_by(Goal.id)
    ).all()
    if not goals:
        return 0
    reported = _checkin_actuals(session, cycle_id)
    people = {
        e.employee_id: e
        for e in session.scalars(
            select(Employee).where(Employee.employee_id.in_({g.owner_id for g in goals}))
        )
    }
    added = 0
    for goal in goals:
        target = goal.target or {}
        metric = target.get("metric")
        actual = _number(target.get("actual"))
        if actual is None:
            actual = reported.get(goal.id)
        if not isinstance(metric, str) or not metric or actual is None:
            continue
        person = people.get(goal.owner_id)
        added += insert_if_absent(
            session,
            KpiActual,
            {
                "cycle_id": cycle_id,
                "employee_id": goal.owner_id,
                "goal_id": goal.id,
                "metric": metric[:200],
                "unit": str(target["unit"])[:40] if target.get("unit") else None,
                "direction": "lower" if target.get("direction") == "lower" else "higher",
                "actual": actual,
                "target": {
                    key: target[key] for key in TARGET_KEYS if _number(target.get(key)) is not None
                },
                "department": person.department if person else None,
                "job_title": person.job_title if person else None,
                "at": at,
            },
            ("cycle_id", "goal_id"),
        )
    return added


def past_actuals(
    session: Session, cycle_id: str, employee_id: str, metric: str, lookback: int = 3
) -> dict[str, list[float]]:
    """Recorded actuals of `metric` from the `lookback` most recent other cycles that
    recorded any, by basis: the person's, their role's (same job title then), their
    department's (then)."""
    person = session.get(Employee, employee_id)
    cycles = list(
        session.scalars(
            select(Cycle.cycle_id)
            .where(
                Cycle.cycle_id != cycle_id,
                Cycle.cycle_id.in_(select(KpiActual.cycle_id).distinct()),
            )
            .order_by(Cycle.nominal_start.desc())
            .limit(lookback)
        )
    )
    history: dict[str, list[float]] = {"person": [], "role": [], "department": []}
    if not cycles:
        return history
    for row in session.scalars(
        select(KpiActual)
        .where(KpiActual.cycle_id.in_(cycles), KpiActual.metric == metric)
        .order_by(KpiActual.at, KpiActual.id)
    ):
        if row.employee_id == employee_id:
            history["person"].append(row.actual)
        if person is not None and person.job_title and row.job_title == person.job_title:
            history["role"].append(row.actual)
        if person is not None and row.department == person.department:
            history["department"].append(row.actual)
    return history
