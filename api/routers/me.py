"""`/v1/me`: the caller, and their inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentUser, SessionDep
from api.errors import error_responses
from api.pagination import DEFAULT_PAGE, PageCursor, PageLimit
from api.schemas.common import PublicModel
from api.schemas.tasks import InboxFilter, TaskPage
from api.services import inbox

router = APIRouter(prefix="/me", tags=["me"])


class Me(PublicModel):
    employee_id: str
    roles: list[str]


@router.get("", summary="Who the token speaks for")
def get_me(user: CurrentUser) -> Me:
    return Me(employee_id=user.subject, roles=sorted(role.value for role in user.roles))


@router.get(
    "/tasks",
    summary="My inbox: tasks assigned to me, latest due date first",
    responses=error_responses(422),
)
def my_tasks(
    user: CurrentUser,
    session: SessionDep,
    status: Annotated[
        InboxFilter,
        Query(description="`open` (the default) lists open and overdue tasks; `all`, every one."),
    ] = "open",
    limit: PageLimit = DEFAULT_PAGE,
    cursor: PageCursor = None,
) -> TaskPage:
    return inbox.list_inbox(session, user, status=status, limit=limit, cursor=cursor)
