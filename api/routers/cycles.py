"""`/v1/cycles`: launch a cycle and steer it (HR admins), watch them (HR, HRBPs, ops).

The HR controls are one route each, every one an Update of the cycle's workflow (reopen
and reassign: of the participant workflow holding the task); the workflow's validator
decides, and its refusals map to 404, 409 or 422 in `api.errors`. Task ids contain
slashes and may be sent as they are or percent-encoded.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import error_responses
from api.idempotency import Idempotent
from api.pagination import DEFAULT_PAGE, PageCursor, PageLimit
from api.permissions import Access, permit
from api.schemas.cycles import (
    ControlPublic,
    CycleCancel,
    CycleCreate,
    CycleMigrate,
    CyclePage,
    CyclePublic,
    CycleStatusPublic,
    DeadlineExtend,
    ParticipantCancel,
    PhaseClose,
    StoredCycleStatus,
    TaskReassign,
    TaskReopen,
)
from api.services import cycles as service

HrControl = Annotated[Access, permit("cycles:control")]

router = APIRouter(prefix="/cycles", tags=["cycles"], responses=error_responses(403))

CONTROL_ERRORS = error_responses(404, 409, 413, 422, 503)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Launch a cycle of a published definition",
    responses=error_responses(404, 409, 413, 422),
)
async def create_cycle(
    body: CycleCreate,
    access: Annotated[Access, permit("cycles:create")],
    key: Idempotent,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    response: Response,
) -> CyclePublic:
    cycle = await service.create_cycle(session, temporal, settings, access.user, body)
    response.headers["Location"] = f"/v1/cycles/{cycle.cycle_id}"
    return cycle


@router.get(
    "",
    summary="Cycles, newest launch first",
    responses=error_responses(422),
    dependencies=[permit("cycles:read")],
)
def list_cycles(
    session: SessionDep,
    status: Annotated[StoredCycleStatus | None, Query(description="Only this status.")] = None,
    definition: Annotated[
        str | None, Query(max_length=200, description="Only cycles of this `name@version`.")
    ] = None,
    limit: PageLimit = DEFAULT_PAGE,
    cursor: PageCursor = None,
) -> CyclePage:
    return service.list_cycles(
        session, status=status, definition=definition, limit=limit, cursor=cursor
    )


@router.get(
    "/{cycle_id}",
    summary="A cycle's progress, phase by phase",
    responses=error_responses(404),
    dependencies=[permit("cycles:read")],
)
async def get_cycle(cycle_id: str, temporal: TemporalDep) -> CycleStatusPublic:
    return await service.cycle_status(temporal, cycle_id)


# --- HR controls --------------------------------------------------------------------------


@router.post(
    "/{cycle_id}/deadlines",
    summary="Move a phase's due date for all its open tasks",
    responses=CONTROL_ERRORS,
)
async def extend_deadline(
    cycle_id: str, body: DeadlineExtend, access: HrControl, key: Idempotent, temporal: TemporalDep
) -> ControlPublic:
    return await service.extend_deadline(temporal, access.user, cycle_id, body, key)


@router.post(
    "/{cycle_id}/phases/{phase_id}/close",
    summary="Close a phase now: its open tasks are closed",
    responses=CONTROL_ERRORS,
)
async def close_phase(
    cycle_id: str,
    phase_id: str,
    body: PhaseClose,
    access: HrControl,
    key: Idempotent,
    temporal: TemporalDep,
) -> ControlPublic:
    return await service.close_phase(temporal, access.user, cycle_id, phase_id, body, key)


@router.post(
    "/{cycle_id}/tasks/{task_id:path}/reopen",
    summary="Reopen a submitted or closed task while its phase runs",
    responses=CONTROL_ERRORS,
)
async def reopen_task(
    cycle_id: str,
    task_id: str,
    body: TaskReopen,
    access: HrControl,
    key: Idempotent,
    session: SessionDep,
    temporal: TemporalDep,
) -> ControlPublic:
    return await service.reopen_task(session, temporal, access.user, cycle_id, task_id, body, key)


@router.post(
    "/{cycle_id}/tasks/{task_id:path}/reassign",
    summary="Give an open task to someone else",
    responses=CONTROL_ERRORS,
)
async def reassign_task(
    cycle_id: str,
    task_id: str,
    body: TaskReassign,
    access: HrControl,
    key: Idempotent,
    session: SessionDep,
    temporal: TemporalDep,
) -> ControlPublic:
    return await service.reassign_task(session, temporal, access.user, cycle_id, task_id, body, key)


@router.post(
    "/{cycle_id}/participants/{employee_id}/cancel",
    summary="Withdraw one participant; their open tasks are cancelled",
    responses=CONTROL_ERRORS,
)
async def cancel_participant(
    cycle_id: str,
    employee_id: str,
    body: ParticipantCancel,
    access: HrControl,
    key: Idempotent,
    temporal: TemporalDep,
) -> ControlPublic:
    return await service.cancel_participant(temporal, access.user, cycle_id, employee_id, body, key)


@router.post(
    "/{cycle_id}/cancel",
    summary="Cancel the whole cycle: every participant is withdrawn",
    responses=CONTROL_ERRORS,
)
async def cancel_cycle(
    cycle_id: str, body: CycleCancel, access: HrControl, key: Idempotent, temporal: TemporalDep
) -> ControlPublic:
    return await service.cancel_cycle(temporal, access.user, cycle_id, body, key)


@router.post(
    "/{cycle_id}/migrate",
    summary="Move a running cycle to a newer version of its definition",
    responses=CONTROL_ERRORS,
)
async def migrate_cycle(
    cycle_id: str,
    body: CycleMigrate,
    access: HrControl,
    key: Idempotent,
    session: SessionDep,
    temporal: TemporalDep,
) -> ControlPublic:
    return await service.migrate_cycle(session, temporal, access.user, cycle_id, body, key)
