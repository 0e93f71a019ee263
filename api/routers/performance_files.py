"""`/v1/employees/{employee_id}/performance-file`: a person's records across cycles.

For the person, their managers up the chain, the HRBP of their department and HR
admins; everyone else gets the 404 an unknown employee gets. Result entries (pay) are
left out for managers, peer and upward reviewers are named to HR admins only, and every
read is audited (`api/services/performance_files.py`).

`.../performance-file/export?format=json|html` is the whole file at once, for the same
readers with the same redactions, as a download (JSON) or a printable page (HTML).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.deps import SessionDep
from api.errors import error_responses
from api.pagination import DEFAULT_PAGE, PageCursor, PageLimit
from api.permissions import Access, permit
from api.schemas.performance_files import (
    EntryKind,
    ExportFormat,
    PerformanceFileExport,
    PerformanceFilePage,
)
from api.services import performance_file_page
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


EXPORT_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "model": PerformanceFileExport,
        "description": "The file as JSON (a download) or as a printable HTML page.",
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
}


PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def _file_name(employee_id: str, suffix: str) -> str:
    return f"performance-file-{re.sub(r'[^A-Za-z0-9_.-]', '_', employee_id)}.{suffix}"


@router.get(
    "/{employee_id}/performance-file/export",
    summary="A person's whole performance file, by cycle, as JSON or printable HTML (audited)",
    response_model=None,
    responses={**EXPORT_CONTENT, **error_responses(404, 422)},
)
def export_performance_file(
    employee_id: str,
    access: Annotated[Access, permit("performance-files:read")],
    session: SessionDep,
    format: Annotated[
        ExportFormat, Query(description="`json`: a download; `html`: a page to print.")
    ] = "json",
) -> Response:
    export = service.export_performance_file(session, access, employee_id)
    if format == "html":
        return Response(
            performance_file_page.render(export),
            media_type="text/html; charset=utf-8",
            headers={
                "Content-Disposition": f'inline; filename="{_file_name(employee_id, "html")}"',
                # Belt and braces on top of the escaping: the page needs nothing but its
                # own inline style.
                "Content-Security-Policy": PAGE_POLICY,
            },
        )
    return Response(
        export.model_dump_json(),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{_file_name(employee_id, "json")}"'
        },
    )
