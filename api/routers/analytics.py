"""`/v1/cycles/{cycle_id}/analytics`: the rating distribution and the 9-box (HR admins;
HRBPs for the departments they partner)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep
from api.errors import Forbidden, error_responses
from api.permissions import Access, permit
from api.schemas.analytics import CycleAnalytics
from api.services import analytics as service

router = APIRouter(prefix="/cycles", tags=["analytics"], responses=error_responses(403))


@router.get(
    "/{cycle_id}/analytics",
    summary="Ratings against the guideline, calibration shifts, high performers, 9-box, pay spend",
    responses=error_responses(404),
)
def cycle_analytics(
    cycle_id: str,
    access: Annotated[Access, permit("cycles:analytics")],
    session: SessionDep,
    group: Annotated[
        str | None, Query(max_length=200, description="One group (department); default all.")
    ] = None,
) -> CycleAnalytics:
    user = access.user
    if not user.is_hr_admin and (group is None or not user.partners(group)):
        raise Forbidden(
            "an HRBP sees the analytics of a department they partner: pass group=<department>",
            type="NotAllowed",
            details={"departments": sorted(user.departments)},
        )
    return service.cycle_analytics(session, cycle_id, group, access)
