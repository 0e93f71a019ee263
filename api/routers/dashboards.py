"""`/v1/dashboards`: live dashboards read from the store."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import SessionDep
from api.errors import error_responses
from api.permissions import Access, permit
from api.schemas.dashboards import TeamDashboard
from api.services import dashboards as service

router = APIRouter(prefix="/dashboards", tags=["dashboards"])


@router.get(
    "/teams/{manager_id}",
    summary="A manager's team dashboard: goals against plan, check-ins, anomalies, overdue",
    responses=error_responses(403, 404),
)
def team_dashboard(
    access: Annotated[Access, permit("dashboards:read")],
    session: SessionDep,
    manager_id: Annotated[str, Path(max_length=64)],
    cycle_id: Annotated[
        str | None,
        Query(max_length=100, description="Default: the newest running cycle of the team."),
    ] = None,
) -> TeamDashboard:
    return service.team_dashboard(session, access, manager_id, cycle_id)
