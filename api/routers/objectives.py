"""`/v1/cycles/{cycle_id}/objectives`: the objectives tree (everyone, goals filtered to
whom the caller may read), and HR's objectives: create, change and drop. A change or
drop sends a re-align task to each owner of a goal aligned below the objective, and to
nobody else (`api/services/objectives.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status

from api.deps import SessionDep, TemporalDep
from api.errors import error_responses
from api.idempotency import Idempotent
from api.permissions import Access, permit
from api.schemas.goals import (
    ObjectiveChange,
    ObjectiveCreate,
    ObjectiveDrop,
    ObjectivePublic,
    ObjectiveTree,
    StrategyChangePublic,
)
from api.services import objectives as service

Manage = Annotated[Access, permit("objectives:manage")]

router = APIRouter(
    prefix="/cycles/{cycle_id}/objectives", tags=["objectives"], responses=error_responses(403)
)


@router.get(
    "",
    summary="The cycle's objectives tree with goals aligned to it, progress rolled up",
    responses=error_responses(404),
)
def get_tree(
    cycle_id: str, access: Annotated[Access, permit("objectives:read")], session: SessionDep
) -> ObjectiveTree:
    return service.objective_tree(session, access, cycle_id)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an org or department objective",
    responses=error_responses(404, 409, 413, 422),
)
def create_objective(
    cycle_id: str,
    body: ObjectiveCreate,
    access: Manage,
    key: Idempotent,
    session: SessionDep,
    response: Response,
) -> ObjectivePublic:
    created = service.create_objective(session, access, cycle_id, body)
    response.headers["Location"] = f"/v1/cycles/{cycle_id}/objectives"
    return created


@router.post(
    "/{objective_id}/change",
    summary="Change an objective mid-cycle: owners aligned below get a re-align task",
    responses=error_responses(404, 409, 413, 422, 503),
)
async def change_objective(
    cycle_id: str,
    objective_id: str,
    body: ObjectiveChange,
    access: Manage,
    key: Idempotent,
    session: SessionDep,
    temporal: TemporalDep,
) -> StrategyChangePublic:
    return await service.change_objective(session, temporal, access, cycle_id, objective_id, body)


@router.post(
    "/{objective_id}/drop",
    summary="Drop an objective mid-cycle: owners aligned below get a re-align task",
    responses=error_responses(404, 409, 413, 422, 503),
)
async def drop_objective(
    cycle_id: str,
    objective_id: str,
    body: ObjectiveDrop,
    access: Manage,
    key: Idempotent,
    session: SessionDep,
    temporal: TemporalDep,
) -> StrategyChangePublic:
    return await service.drop_objective(session, temporal, access, cycle_id, objective_id, body)
