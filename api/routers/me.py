"""`/v1/me`: the caller, and their inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from api.deps import SessionDep
from api.errors import error_responses
from api.pagination import DEFAULT_PAGE, PageCursor, PageLimit
from api.permissions import Access, permit
from api.schemas.common import PublicModel
from api.schemas.tasks import InboxFilter, TaskPage
from api.services import inbox

router = APIRouter(prefix="/me", tags=["me"])


class Me(PublicModel):
    employee_id: str
    roles: list[str]
    departments: list[str] = Field(description="Departments partnered as an HRBP.")


@router.get("", summary="Who the token speaks for")
def get_me(access: Annotated[Access, permit("me:read")]) -> Me:
    user = access.user
    return Me(
        employee_id=user.subject,
        roles=sorted(role.value for role in user.roles),
        departments=sorted(user.departments),
    )


@router.get(
    "/tasks",
    summary="My inbox: tasks assigned to me, latest due date first",
    responses=error_responses(422),
)
def my_tasks(
    access: Annotated[Access, permit("me:tasks")],
    session: SessionDep,
    status: Annotated[
        InboxFilter,
        Query(description="`open` (the default) lists open and overdue tasks; `all`, every one."),
    ] = "open",
    limit: PageLimit = DEFAULT_PAGE,
    cursor: PageCursor = None,
) -> TaskPage:
    return inbox.list_inbox(session, access.user, status=status, limit=limit, cursor=cursor)
