"""Goals: a person's goals with their alignment (`/v1/employees/{id}/goals`), one goal,
its change log, a change with a reason, the manager's decision on a pending change, bulk
assignment to a filtered group, and HR's alignment coverage of a cycle."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import SessionDep
from api.errors import error_responses
from api.idempotency import Idempotent
from api.permissions import Access, permit
from api.schemas.goals import (
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
from api.services import goals as service

Read = Annotated[Access, permit("goals:read")]

router = APIRouter(tags=["goals"], responses=error_responses(403))


@router.get(
    "/employees/{employee_id}/goals",
    summary="A person's goals, each with what it aligns to",
    responses=error_responses(404),
)
def list_goals(
    employee_id: str,
    access: Read,
    session: SessionDep,
    cycle_id: Annotated[str | None, Query(max_length=100)] = None,
) -> GoalList:
    return service.list_goals(session, access, employee_id, cycle_id)


@router.get("/goals/{goal_id}", summary="One goal", responses=error_responses(404))
def get_goal(goal_id: str, access: Read, session: SessionDep) -> GoalPublic:
    return service.get_goal(session, access, goal_id)


@router.get(
    "/goals/{goal_id}/history",
    summary="Every change of a goal: who, when, what, why",
    responses=error_responses(404),
)
def goal_history(goal_id: str, access: Read, session: SessionDep) -> GoalHistory:
    return service.goal_history(session, access, goal_id)


@router.post(
    "/goals/{goal_id}/changes",
    status_code=status.HTTP_201_CREATED,
    summary="Change a goal with a reason (pending the manager after approval, per definition)",
    responses=error_responses(404, 409, 413, 422),
)
def change_goal(
    goal_id: str,
    body: GoalChangeRequest,
    access: Annotated[Access, permit("goals:change")],
    key: Idempotent,
    session: SessionDep,
) -> GoalChangePublic:
    return service.change_goal(session, access, goal_id, body)


@router.post(
    "/goals/{goal_id}/changes/{change_id}/decision",
    summary="Approve or reject a pending change of a goal",
    responses=error_responses(404, 409, 413, 422),
)
def decide_change(
    goal_id: str,
    change_id: int,
    body: ChangeDecision,
    access: Annotated[Access, permit("goals:approve")],
    key: Idempotent,
    session: SessionDep,
) -> GoalChangePublic:
    return service.decide_change(session, access, goal_id, change_id, body)


@router.post(
    "/cycles/{cycle_id}/goal-assignments",
    status_code=status.HTTP_201_CREATED,
    summary="Give a goal template to a filtered group at once",
    responses=error_responses(404, 409, 413, 422),
)
def assign_goals(
    cycle_id: str,
    body: GoalAssignment,
    access: Annotated[Access, permit("goals:assign")],
    key: Idempotent,
    session: SessionDep,
) -> GoalAssignmentPublic:
    return service.assign(session, access, cycle_id, body, key)


@router.get(
    "/cycles/{cycle_id}/alignment-coverage",
    summary="The share of goals aligned, and who has no aligned goal",
    responses=error_responses(404),
)
def alignment_coverage(
    cycle_id: str,
    access: Annotated[Access, permit("goals:coverage")],
    session: SessionDep,
    department: Annotated[list[str] | None, Query(max_length=50)] = None,
) -> CoveragePublic:
    return service.coverage(session, access, cycle_id, department)
