"""Monitoring queries shared by the anomaly activity and the team dashboard.

`signals` computes the documented anomaly-rule variables of one participant from the
store (goals, check-ins, tasks, the performance timeline); `expected_by_now` is the
linear plan; `milestone_rates` the milestone achievement rates from progress events.
Pure reads, no writes: callers own their session and transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import CheckIn, Goal, PerformanceEvent, ProgressEvent, Task

COLLABORATION_KINDS = ("feedback", "recognition")
"""Timeline kinds that count as collaboration signals."""
COLLABORATION_WINDOW = timedelta(days=30)
OPEN_TASK_STATUSES = ("open", "overdue")
LIVE_GOAL_STATUSES = ("draft", "returned", "approved")
"""Goals that count for progress (closed goals were dropped or replaced)."""


def expected_by_now(opens: datetime, due: datetime, at: datetime) -> float:
    """The progress a linear plan expects at `at`: the share of the window elapsed."""
    span = (due - opens).total_seconds()
    if span <= 0:
        return 1.0
    return min(1.0, max(0.0, (at - opens).total_seconds() / span))


def weighted_progress(goals: Sequence[Goal]) -> float:
    """Progress 0..1 weighted by the goals' weights (a plain mean if they weigh nothing)."""
    if not goals:
        return 0.0
    total = sum(max(goal.weight, 0) for goal in goals)
    if total <= 0:
        return sum(goal.progress for goal in goals) / len(goals)
    return sum(goal.progress * max(goal.weight, 0) for goal in goals) / total


def live_goals(session: Session, cycle_id: str, employee_id: str) -> list[Goal]:
    return list(
        session.scalars(
            select(Goal)
            .where(
                Goal.cycle_id == cycle_id,
                Goal.owner_id == employee_id,
                Goal.status.in_(LIVE_GOAL_STATUSES),
            )
            .order_by(Goal.seq, Goal.position, Goal.id)
        )
    )


def confidence_of(payload: dict[str, Any]) -> float:
    values = [
        float(item["confidence"])
        for item in payload.get("goals", [])
        if isinstance(item, dict) and isinstance(item.get("confidence"), int | float)
    ]
    return sum(values) / len(values) if values else 0.0


def _blocked(payload: dict[str, Any], goals: Iterable[str]) -> int:
    """Goals the check-in's blockers name; a blocker naming no goal counts once."""
    known = set(goals)
    named: set[str] = set()
    unnamed = 0
    for blocker in payload.get("blockers", []):
        if not isinstance(blocker, dict):
            continue
        goal_id = blocker.get("goal_id")
        if isinstance(goal_id, str) and goal_id in known:
            named.add(goal_id)
        else:
            unnamed += 1
    return len(named) + unnamed


def signals(
    session: Session,
    cycle_id: str,
    employee_id: str,
    *,
    opens: datetime,
    due: datetime,
    at: datetime,
) -> dict[str, float]:
    """The anomaly-rule variables of one participant at `at` (every one a number)."""
    goals = live_goals(session, cycle_id, employee_id)
    checkins = list(
        session.scalars(
            select(CheckIn)
            .where(CheckIn.cycle_id == cycle_id, CheckIn.employee_id == employee_id)
            .where(CheckIn.at <= at)
            .order_by(CheckIn.at.desc())
            .limit(2)
        )
    )
    last = checkins[0] if checkins else None
    since = last.at if last is not None else opens
    confidence = confidence_of(last.payload) if last is not None else 0.0
    trend = confidence - confidence_of(checkins[1].payload) if len(checkins) > 1 else 0.0
    missed = 0
    for status in session.scalars(
        select(Task.status)
        .where(
            Task.cycle_id == cycle_id,
            Task.subject_id == employee_id,
            Task.kind == "checkin",
            Task.status != "open",
        )
        .order_by(Task.opened_at.desc())
    ):
        if status != "closed":
            break
        missed += 1
    overdue = session.scalar(
        select(func.count())
        .select_from(Task)
        .where(
            Task.assignee_id == employee_id,
            Task.status.in_(OPEN_TASK_STATUSES),
            Task.due_at < at,
        )
    )
    collaboration = session.scalar(
        select(func.count())
        .select_from(PerformanceEvent)
        .where(
            PerformanceEvent.employee_id == employee_id,
            PerformanceEvent.kind.in_(COLLABORATION_KINDS),
            PerformanceEvent.at > at - COLLABORATION_WINDOW,
            PerformanceEvent.at <= at,
        )
    )
    return {
        "progress": round(weighted_progress(goals), 4),
        "expected_by_now": round(expected_by_now(opens, due, at), 4),
        "days_since_checkin": float(max(0, (at - since).days)),
        "checkins_missed": float(missed),
        "confidence": round(confidence, 2),
        "confidence_trend": round(trend, 2),
        "blocked_count": float(_blocked(last.payload, (g.id for g in goals)) if last else 0),
        "open_goals": float(sum(1 for goal in goals if goal.progress < 1.0)),
        "overdue_tasks": float(overdue or 0),
        "collaboration_events": float(collaboration or 0),
    }


@dataclass(frozen=True)
class MilestoneRate:
    """Milestones decided for one person: reached by their due date, or not."""

    achieved: int
    total: int

    @property
    def rate(self) -> float | None:
        return self.achieved / self.total if self.total else None


def milestone_rates(
    session: Session, employee_ids: Sequence[str], *, since: datetime | None = None
) -> dict[str, MilestoneRate]:
    """Per person, the share of their decided milestones reached on time.

    A `milestone` progress event is decided when it says `achieved`; it counts as reached
    on time when achieved and (if it has a due date) it occurred on or before that date.
    The same milestone reported by two sources counts once (the latest report wins).
    """
    query = select(ProgressEvent).where(
        ProgressEvent.employee_id.in_(list(employee_ids)),
        ProgressEvent.kind == "milestone",
        ProgressEvent.achieved.is_not(None),
    )
    if since is not None:
        query = query.where(ProgressEvent.occurred_at >= since)
    latest: dict[tuple[str, str], ProgressEvent] = {}
    for event in session.scalars(query.order_by(ProgressEvent.occurred_at, ProgressEvent.id)):
        latest[(event.employee_id, event.milestone_id or event.event_id)] = event
    counts: dict[str, list[int]] = {employee: [0, 0] for employee in employee_ids}
    for (employee, _), event in latest.items():
        on_time = bool(event.achieved) and (
            event.due_on is None or event.occurred_at.date() <= event.due_on
        )
        counts[employee][0] += int(on_time)
        counts[employee][1] += 1
    return {employee: MilestoneRate(*pair) for employee, pair in counts.items()}
