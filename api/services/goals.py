"""Goals through the API: a person's goals with their alignment, one goal, its change
log, changes with a reason (sent to the manager after approval when the definition says
so), the manager's decision, bulk assignment and alignment coverage.

Who may do what is the route's permission (`goals:*`, `api/permissions.py`); a goal is
about its owner, so `access.check(session, goal.owner_id, ...)` decides, and a goal the
caller may not see answers the 404 a missing one gets. Every change is in the goal's
change log (`store/models/goals.py`) with who, when, what and why.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from activities.goals import store as goals
from api.auth import Role
from api.errors import Conflict, NotFound, Unprocessable
from api.permissions import MANAGERS, Access, Relation, relations
from api.schemas.goals import (
    Alignment,
    ChangeDecision,
    CoveragePublic,
    GoalAssignment,
    GoalAssignmentPublic,
    GoalChangePublic,
    GoalChangeRequest,
    GoalHistory,
    GoalList,
    GoalPublic,
)
from api.services.employees import find_employee, not_found
from store.models import Cycle, CycleParticipant, Employee, Goal, GoalChange, Objective

DECIDERS = frozenset({Relation.MANAGER, Relation.SKIP_LEVEL, Relation.HR_ADMIN})
"""Whose changes of an approved goal apply at once."""


def goal_not_found(goal_id: str) -> NotFound:
    return NotFound(f"no goal {goal_id}", type="GoalNotFound")


def cycle_not_found(cycle_id: str) -> NotFound:
    return NotFound(f"no cycle {cycle_id}", type="CycleNotFound")


def find_cycle(session: Session, cycle_id: str) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise cycle_not_found(cycle_id)
    return cycle


def _goal(session: Session, access: Access, goal_id: str) -> tuple[Goal, frozenset[Relation]]:
    goal = session.get(Goal, goal_id)
    if goal is None:
        raise goal_not_found(goal_id)
    found = access.check(session, goal.owner_id, not_found=goal_not_found(goal_id))
    return goal, found


def _alignment(session: Session, goal: Goal) -> Alignment | None:
    if not goal.parent_id:
        return None
    objective = session.scalar(
        select(Objective).where(
            Objective.cycle_id == goal.cycle_id, Objective.objective_id == goal.parent_id
        )
    )
    if objective is not None:
        kind = "org" if objective.level == "org" else "department"
        return Alignment(
            id=objective.objective_id, kind=kind, title=objective.title, owner_id=objective.owner_id
        )
    parent = session.get(Goal, goal.parent_id)
    if parent is not None:
        return Alignment(id=parent.id, kind="goal", title=parent.title, owner_id=parent.owner_id)
    return None


def _public(session: Session, goal: Goal, cycle: Cycle | None) -> GoalPublic:
    pending = session.scalar(
        select(func.count())
        .select_from(GoalChange)
        .where(GoalChange.goal_id == goal.id, GoalChange.status == "pending")
    )
    view = goals.goal_view(goal, status=goals.effective_status(goal, cycle))
    return GoalPublic.model_validate(
        {**view, "aligned_to": _alignment(session, goal), "pending_changes": pending or 0}
    )


def list_goals(
    session: Session, access: Access, employee_id: str, cycle_id: str | None
) -> GoalList:
    find_employee(session, employee_id)
    access.check(session, employee_id, not_found=not_found(employee_id))
    query = select(Goal).where(Goal.owner_id == employee_id)
    if cycle_id is not None:
        query = query.where(Goal.cycle_id == cycle_id)
    rows = session.scalars(query.order_by(Goal.cycle_id, Goal.position, Goal.id)).all()
    cycles = {row.cycle_id: session.get(Cycle, row.cycle_id) for row in rows}
    return GoalList(items=[_public(session, row, cycles[row.cycle_id]) for row in rows])


def get_goal(session: Session, access: Access, goal_id: str) -> GoalPublic:
    goal, _ = _goal(session, access, goal_id)
    return _public(session, goal, session.get(Cycle, goal.cycle_id))


def goal_history(session: Session, access: Access, goal_id: str) -> GoalHistory:
    goal, _ = _goal(session, access, goal_id)
    return GoalHistory(
        goal_id=goal.id,
        items=[
            GoalChangePublic.model_validate(goals.change_view(c))
            for c in goals.history(session, goal.id)
        ],
    )


def change_goal(
    session: Session, access: Access, goal_id: str, body: GoalChangeRequest
) -> GoalChangePublic:
    """Change a goal with a reason. Drafts change at once. An approved goal changed by
    its owner follows the definition's `changes_after_approval`: `manager` (pending until
    the manager decides), `free` (at once) or `locked` (409). Managers up the chain and
    HR admins change it at once. Closed goals (achieved, missed, dropped) stay closed."""
    goal, found = _goal(session, access, goal_id)
    wanted: dict[str, Any] = body.model_dump(exclude_none=True, exclude={"reason"})
    if "target" in wanted:
        unknown = set(wanted["target"]) - set(goals.TARGET_FIELDS)
        if unknown:
            raise Unprocessable(
                f"unknown target fields: {', '.join(sorted(unknown))}", type="InvalidTarget"
            )
    changes = goals.diff(goal, wanted)
    if not changes:
        # Asked again for what the goal already is: answer the change that made it so.
        for past in reversed(goals.history(session, goal.id)):
            if past.status == "applied" and set(wanted) <= set(past.changes):
                return GoalChangePublic.model_validate(goals.change_view(past))
        raise Unprocessable("the change changes nothing", type="NothingToChange")
    decider = bool(found & DECIDERS)
    if goal.status in goals.CLOSED and not decider:
        raise Conflict(f"goal {goal_id} is {goal.status}", type="GoalClosed")
    status: Any = "applied"
    if goal.status in goals.APPROVED and not decider:
        policy = goals.change_policy(session, goal.cycle_id)
        if policy == "locked":
            raise Conflict("goals are locked once approved in this cycle", type="GoalsLocked")
        if policy == "manager":
            status = "pending"
    row = goals.record_change(
        session,
        key=f"api:{uuid.uuid4().hex}",
        goal_id=goal.id,
        cycle_id=goal.cycle_id,
        owner_id=goal.owner_id,
        changed_by=access.user.subject,
        action="status" if set(changes) == {"status"} else "changed",
        changes=changes,
        reason=body.reason,
        status=status,
    )
    assert row is not None
    if status == "applied":
        goals.apply_changes(goal, changes)
    session.commit()
    return GoalChangePublic.model_validate(goals.change_view(row))


def decide_change(
    session: Session, access: Access, goal_id: str, change_id: int, body: ChangeDecision
) -> GoalChangePublic:
    goal, _ = _goal(session, access, goal_id)
    change = session.get(GoalChange, change_id)
    if change is None or change.goal_id != goal.id:
        raise NotFound(f"no change {change_id} of goal {goal_id}", type="GoalChangeNotFound")
    decided = "applied" if body.decision == "approve" else "rejected"
    if change.status == decided:  # the same decision again: nothing more to do
        return GoalChangePublic.model_validate(goals.change_view(change))
    if change.status != "pending":
        raise Conflict(f"change {change_id} is {change.status}", type="ChangeNotPending")
    goals.decide(session, change, access.user.subject, body.decision == "approve", body.comment)
    session.commit()
    return GoalChangePublic.model_validate(goals.change_view(change))


# --- many people at once ------------------------------------------------------------------------


def _may_assign(session: Session, access: Access, employee: Employee) -> bool:
    user = access.user
    if user.is_hr_admin or user.partners(employee.department):
        return True
    found = relations(session, user, employee.employee_id, wanted=MANAGERS)
    return bool(found & MANAGERS)


def assign(
    session: Session, access: Access, cycle_id: str, body: GoalAssignment, key: str | None
) -> GoalAssignmentPublic:
    """Give a goal template to the cycle's participants matching the filter: HR admins
    anyone, HRBPs their departments, managers the people below them. Matched people the
    caller may not give goals to are `skipped`."""
    find_cycle(session, cycle_id)
    people = session.execute(
        select(CycleParticipant, Employee)
        .join(Employee, Employee.employee_id == CycleParticipant.employee_id)
        .where(CycleParticipant.cycle_id == cycle_id, CycleParticipant.status == "active")
        .order_by(CycleParticipant.employee_id)
    ).all()
    chosen = body.to
    matched = [
        employee
        for participant, employee in people
        if (chosen.departments is None or participant.group in chosen.departments)
        and (chosen.manager_id is None or employee.manager_id == chosen.manager_id)
        and (chosen.job_titles is None or employee.job_title in chosen.job_titles)
        and (chosen.levels is None or employee.level in chosen.levels)
        and (chosen.employee_ids is None or employee.employee_id in chosen.employee_ids)
    ]
    allowed = [e.employee_id for e in matched if _may_assign(session, access, e)]
    template = body.template.model_dump(exclude_none=True)
    created = goals.assign(
        session,
        cycle_id=cycle_id,
        owners=allowed,
        template=template,
        assigned_by=access.user.subject,
        key=key or uuid.uuid4().hex,
        reason=body.reason,
    )
    session.commit()
    owners = {session.get_one(Goal, goal_id).owner_id: goal_id for goal_id in created}
    return GoalAssignmentPublic(
        cycle_id=cycle_id,
        assigned=sorted(owners),
        goal_ids=[owners[o] for o in sorted(owners)],
        skipped=sorted(e.employee_id for e in matched if e.employee_id not in owners),
    )


def coverage(
    session: Session, access: Access, cycle_id: str, departments: list[str] | None
) -> CoveragePublic:
    """HR admins see any department or all; an HRBP only the departments they partner
    (all of them when none are named; a department they do not partner is refused)."""
    find_cycle(session, cycle_id)
    if Role.HR_ADMIN not in access.user.roles:
        partnered = sorted(access.user.departments)
        if departments is None:
            departments = partnered
        elif not set(departments) <= set(partnered):
            raise NotFound("no such department among yours", type="DepartmentNotFound")
    found = goals.coverage(session, cycle_id, departments)
    return CoveragePublic(
        cycle_id=cycle_id,
        departments=departments,
        participants=found.participants,
        goals=found.goals,
        aligned=found.aligned,
        share_aligned=found.share_aligned,
        without_aligned_goal=found.without_aligned_goal,
    )
