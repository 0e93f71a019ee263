"""`/v1/teams`: a manager's view of their direct reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep
from api.errors import error_responses
from api.permissions import Access, permit
from api.schemas.teams import TeamPublic
from api.services import teams as service

router = APIRouter(prefix="/teams", tags=["teams"])


@router.get(
    "/me",
    summary="My direct reports and their progress through a cycle",
    responses=error_responses(404),
)
def my_team(
    access: Annotated[Access, permit("teams:read")],
    session: SessionDep,
    cycle_id: Annotated[
        str | None,
        Query(max_length=100, description="Default: the newest running cycle of the team."),
    ] = None,
) -> TeamPublic:
    return service.my_team(session, access.user, cycle_id)
