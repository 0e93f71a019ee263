"""`/v1/cycles/{cycle_id}/analytics`: the rating distribution and the 9-box (HR, HRBPs,
ops)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CycleReader, SessionDep
from api.errors import error_responses
from api.schemas.analytics import CycleAnalytics
from api.services import analytics as service

router = APIRouter(prefix="/cycles", tags=["analytics"], responses=error_responses(403))


@router.get(
    "/{cycle_id}/analytics",
    summary="Rating distribution against the guideline, and the 9-box grid",
    responses=error_responses(404),
)
def cycle_analytics(
    cycle_id: str,
    user: CycleReader,  # HR admins, HRBPs and ops
    session: SessionDep,
    group: Annotated[
        str | None, Query(max_length=200, description="One group (department); default all.")
    ] = None,
) -> CycleAnalytics:
    return service.cycle_analytics(session, cycle_id, group)
