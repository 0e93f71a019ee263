"""`/v1/cycles/{cycle_id}/calibration/{group}` (calibrators) and `/v1/cycles/{cycle_id}/bias`
(HR admins): what calibration weighs. Ratings change through the group's calibration
task (`POST /v1/tasks/{task_id}/submit`), whose form makes a reason mandatory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from api.deps import SessionDep
from api.errors import error_responses
from api.permissions import Access, permit
from api.schemas.calibration import BiasStatistics, CalibrationGroup
from api.services import calibration as service

router = APIRouter(prefix="/cycles", tags=["calibration"], responses=error_responses(403, 404))


@router.get(
    "/{cycle_id}/calibration/{group}",
    summary="A calibration group: distribution against the guideline, outliers, bias flags",
)
def calibration_group(
    cycle_id: str,
    group: str,
    access: Annotated[Access, permit("calibration:read")],
    session: SessionDep,
) -> CalibrationGroup:
    return service.calibration_group(session, access, cycle_id, group)


@router.get(
    "/{cycle_id}/bias",
    summary="Bias statistics per reviewer and per manager (halo, leniency, severity, ...)",
)
def bias_statistics(
    cycle_id: str,
    access: Annotated[Access, permit("cycles:bias")],
    session: SessionDep,
) -> BiasStatistics:
    return service.bias_statistics(session, access, cycle_id)
