"""`/v1/cycles`: launch a cycle (HR admins) and watch it (HR, HRBPs, ops)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import error_responses
from api.permissions import Access, permit
from api.schemas.cycles import CycleCreate, CyclePublic, CycleStatusPublic
from api.services import cycles as service

router = APIRouter(prefix="/cycles", tags=["cycles"], responses=error_responses(403))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Launch a cycle of a published definition",
    responses=error_responses(404, 409, 422),
)
async def create_cycle(
    body: CycleCreate,
    access: Annotated[Access, permit("cycles:create")],
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    response: Response,
) -> CyclePublic:
    cycle = await service.create_cycle(session, temporal, settings, access.user, body)
    response.headers["Location"] = f"/v1/cycles/{cycle.cycle_id}"
    return cycle


@router.get(
    "/{cycle_id}",
    summary="A cycle's progress, phase by phase",
    responses=error_responses(404),
    dependencies=[permit("cycles:read")],
)
async def get_cycle(cycle_id: str, temporal: TemporalDep) -> CycleStatusPublic:
    return await service.cycle_status(temporal, cycle_id)
