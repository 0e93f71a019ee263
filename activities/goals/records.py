"""What the record activities (`activities/records.py`) do for goals beyond phase 1's
draft and review: the change log of drafting and approval, re-align submissions and
their review, prefills with target suggestions, and the lapse at the cycle's end.

Each function runs inside the calling activity's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from activities.goals import store
from activities.types import BuildPrefillInput, RecordSubmissionInput
from store.models import CycleParticipant, Goal, PerformanceEvent

REALIGN_KINDS = ("goal_realign", "goal_realign_review")


def after_goal_task(session: Session, input: RecordSubmissionInput) -> None:
    """Log the goals a draft created, or the approval/return a review decided."""
    if input.kind == "goal_draft":
        store.log_goal_set(
            session, input.cycle_id, input.subject_id, input.submitter_id, input.task_id, "created"
        )
    elif input.kind == "goal_review":
        store.log_goal_set(
            session, input.cycle_id, input.subject_id, input.submitter_id, input.task_id, "status"
        )


def record_realign(session: Session, input: RecordSubmissionInput) -> tuple[str, dict[str, Any]]:
    """A re-align submission, or the manager's decision on one."""
    payload = input.payload
    if input.kind == "goal_realign_review":
        approve = payload.get("decision") == "approve"
        comment = payload.get("comments") or payload.get("comment")
        count = store.decide_realign(
            session,
            input.cycle_id,
            input.subject_id,
            input.submitter_id,
            approve,
            str(comment) if comment else None,
        )
        summary = "Re-aligned goals approved" if approve else "Re-aligned goals returned"
        return summary, {"decision": "approve" if approve else "return", "changes": count}
    manager = session.scalar(
        select(CycleParticipant.manager_id).where(
            CycleParticipant.cycle_id == input.cycle_id,
            CycleParticipant.employee_id == input.subject_id,
        )
    )
    needs_approval = (
        store.change_policy(session, input.cycle_id) == "manager" and manager is not None
    )
    reason = " — ".join(
        str(payload[k]) for k in ("reason", "explanation") if isinstance(payload.get(k), str)
    )
    goals = [g for g in payload.get("goals", []) if isinstance(g, dict)]
    count = store.propose_realign(
        session,
        cycle_id=input.cycle_id,
        owner_id=input.subject_id,
        changed_by=input.submitter_id,
        task_id=input.task_id,
        goals=goals,
        reason=reason or None,
        needs_approval=needs_approval,
        at=input.submitted_at,
    )
    summary = "Goals re-aligned" + (" (waiting for the manager)" if needs_approval else "")
    return summary, {"changes": count, "pending": needs_approval}


def target_suggestions(session: Session, cycle_id: str, employee_id: str) -> list[dict[str, Any]]:
    """Suggested threshold / target / stretch for each KPI metric the person had before,
    with where each came from (`source`: basis, data points, percentiles)."""
    metrics = store.past_metrics(session, cycle_id, employee_id)
    if not metrics:
        return []
    phase = store.goal_phase(session, cycle_id)
    suggestions = []
    for metric, direction in metrics:
        found = store.suggest_targets(session, cycle_id, employee_id, metric, direction, phase)
        if found is not None:
            suggestions.append({"metric": metric, "direction": direction, **found.as_dict()})
    return suggestions


def manager_goals(
    session: Session, cycle_id: str, employee_id: str, manager_id: str | None = None
) -> list[dict[str, Any]]:
    """The manager's approved goals, to align to (`alignment.parents` has `manager`).

    `manager_id`, when the caller has it already (the snapshot's), saves a query.
    """
    phase = store.goal_phase(session, cycle_id)
    if phase is not None and "manager" not in phase.alignment.parents:
        return []
    manager = manager_id or session.scalar(
        select(CycleParticipant.manager_id).where(
            CycleParticipant.cycle_id == cycle_id, CycleParticipant.employee_id == employee_id
        )
    )
    if manager is None:
        return []
    rows = session.scalars(
        select(Goal)
        .where(
            Goal.cycle_id == cycle_id,
            Goal.owner_id == manager,
            Goal.status.in_(tuple(store.APPROVED)),
            Goal.type != "development",
        )
        .order_by(Goal.position)
    )
    return [
        {"id": g.id, "level": "manager", "group": None, "title": g.title,
         "description": g.description, "parent_id": g.parent_id}
        for g in rows
    ]  # fmt: skip


BASIS_WORDS = {"person": "your own", "role": "your role's", "department": "your department's"}


def suggested_kpi_goals(suggestions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Draft KPI goals with the suggested threshold / target / stretch filled in (the
    owner sets the weight and alignment), saying where the numbers came from."""
    goals = []
    for item in suggestions:
        source = item["source"]
        goals.append(
            {
                "title": str(item["metric"])[:200],
                "type": "kpi",
                "metric": item["metric"],
                "direction": item["direction"] if item["direction"] == "lower" else "higher",
                "threshold": item["threshold"],
                "target": item["target"],
                "stretch": item["stretch"],
                "description": (
                    f"Targets suggested from {source['data_points']} past results of "
                    f"{BASIS_WORDS.get(source['basis'], source['basis'])} history, at the "
                    f"{' / '.join(str(p) for p in source['percentiles'])} percentiles."
                ),
            }
        )
    return goals


def realign_prefill(session: Session, input: BuildPrefillInput) -> dict[str, Any]:
    """The re-align form opens with the person's current goals (the complete list to
    edit) and the strategy changes that led to it."""
    goals = session.scalars(
        select(Goal)
        .where(
            Goal.cycle_id == input.cycle_id,
            Goal.owner_id == input.employee_id,
            Goal.status.not_in(tuple(store.CLOSED)),
        )
        .order_by(Goal.position)
    )
    items = []
    for goal in goals:
        item: dict[str, Any] = {
            "id": goal.id,
            "title": goal.title,
            "type": goal.type,
            "weight": goal.weight,
        }
        if goal.parent_id:
            item["parent_id"] = goal.parent_id
        if goal.description:
            item["description"] = goal.description
        item.update({k: v for k, v in (goal.target or {}).items() if k != "actual"})
        items.append(item)
    changes = [
        dict(event.data)
        for event in session.scalars(
            select(PerformanceEvent)
            .where(
                PerformanceEvent.employee_id == input.employee_id,
                PerformanceEvent.cycle_id == input.cycle_id,
                PerformanceEvent.kind == "strategy_change",
            )
            .order_by(PerformanceEvent.at)
        )
    ]
    return {"goals": items, "strategy_changes": changes}
