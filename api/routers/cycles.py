"""`/v1/cycles`: launch a cycle (HR admins) and watch it (HR, HRBPs, ops)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import CycleReader, HrAdmin, SessionDep, SettingsDep, TemporalDep
from api.errors import error_responses
from api.schemas.cycles import CycleCreate, CycleList, CyclePublic, CycleStatusPublic
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
    user: HrAdmin,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    response: Response,
) -> CyclePublic:
    cycle = await service.create_cycle(session, temporal, settings, user, body)
    response.headers["Location"] = f"/v1/cycles/{cycle.cycle_id}"
    return cycle


@router.get("", summary="The cycles in the store, newest first")
def list_cycles(user: CycleReader, session: SessionDep) -> CycleList:
    return service.list_cycles(session)


@router.get(
    "/{cycle_id}",
    summary="A cycle's progress, phase by phase",
    responses=error_responses(404),
)
async def get_cycle(cycle_id: str, user: CycleReader, temporal: TemporalDep) -> CycleStatusPublic:
    return await service.cycle_status(temporal, cycle_id)
