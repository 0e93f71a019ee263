"""`/v1/employees/{employee_id}/performance-file`: a person's records across cycles.

For the person, their managers up the chain, the HRBP of their department and HR
admins; everyone else gets the 404 an unknown employee gets. Result entries (pay) are
left out for managers, peer and upward reviewers are named to HR admins only, and every
read is audited (`api/services/performance_files.py`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep
from api.errors import error_responses
from api.pagination import DEFAULT_PAGE, PageCursor, PageLimit
from api.permissions import Access, permit
from api.schemas.performance_files import EntryKind, PerformanceFilePage
from api.services import performance_files as service

router = APIRouter(prefix="/employees", tags=["performance files"], responses=error_responses(403))


@router.get(
    "/{employee_id}/performance-file",
    summary="A person's performance file, newest first (audited)",
    responses=error_responses(404, 422),
)
def get_performance_file(
    employee_id: str,
    access: Annotated[Access, permit("performance-files:read")],
    session: SessionDep,
    cycle_id: Annotated[
        str | None, Query(max_length=100, description="Only this cycle's entries.")
    ] = None,
    kind: Annotated[
        list[EntryKind] | None,
        Query(description="Only these kinds (repeat the parameter for several)."),
    ] = None,
    limit: PageLimit = DEFAULT_PAGE,
    cursor: PageCursor = None,
) -> PerformanceFilePage:
    return service.performance_file(
        session, access, employee_id, cycle_id=cycle_id, kinds=kind, limit=limit, cursor=cursor
    )
