"""`/v1/employees`: the people the org chart holds, and data-subject requests about them.

Reading one record: the employee, their managers up the chain, the HRBP of their
department and HR admins; pay fields only for the employee, the HRBP and HR admins.
Export and erasure are HR admins' (and audited).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep, SettingsDep
from api.errors import error_responses
from api.idempotency import Idempotent
from api.permissions import Access, permit
from api.schemas.employees import (
    EmployeePage,
    EmployeePublic,
    EmployeeWithPay,
    EraseRequest,
    ErasureReport,
    SubjectExport,
)
from api.services import dsr
from api.services import employees as service

router = APIRouter(prefix="/employees", tags=["employees"], responses=error_responses(403))


@router.get("", summary="Employees: all for HR admins, their departments for HRBPs")
def list_employees(
    access: Annotated[Access, permit("employees:list")],
    session: SessionDep,
    department: Annotated[str | None, Query(max_length=200)] = None,
    include_inactive: bool = False,
    limit: Annotated[int, Query(ge=1, description="Page size (at most 200).")] = (
        service.DEFAULT_PAGE
    ),
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> EmployeePage:
    return service.list_employees(
        session,
        access,
        department=department,
        include_inactive=include_inactive,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/{employee_id}",
    summary="One employee; pay fields only for them, their HRBP and HR admins",
    responses=error_responses(404),
)
def get_employee(
    employee_id: str,
    access: Annotated[Access, permit("employees:read")],
    session: SessionDep,
) -> EmployeeWithPay | EmployeePublic:
    return service.get_employee(session, access, employee_id)


@router.get(
    "/{employee_id}/export",
    summary="Everything held about a person, others' identities redacted (audited)",
    responses=error_responses(404),
)
def export_employee(
    employee_id: str,
    access: Annotated[Access, permit("employees:export")],
    session: SessionDep,
) -> SubjectExport:
    return dsr.export_subject(session, access, employee_id)


@router.post(
    "/{employee_id}/erase",
    summary="Erase a person's data except what retention rules keep (audited)",
    responses=error_responses(404, 409, 413, 422),
)
def erase_employee(
    employee_id: str,
    body: EraseRequest,
    access: Annotated[Access, permit("employees:erase")],
    key: Idempotent,
    session: SessionDep,
    settings: SettingsDep,
) -> ErasureReport:
    return dsr.erase_subject(session, access, settings, employee_id, body.reason)
