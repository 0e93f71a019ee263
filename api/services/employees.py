"""Employees: the HR list (an HRBP sees their departments) and one record, with pay
only for those allowed to see it (and every such read audited)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Role
from api.errors import NotFound
from api.pagination import decode_cursor, encode_cursor
from api.permissions import Access
from api.schemas.employees import EmployeePage, EmployeePublic, EmployeeWithPay
from api.services import audit
from store.models import Employee

DEFAULT_PAGE = 50
MAX_PAGE = 200


def not_found(employee_id: str) -> NotFound:
    return NotFound(f"no employee {employee_id}", type="EmployeeNotFound")


def find_employee(session: Session, employee_id: str) -> Employee:
    employee = session.get(Employee, employee_id)
    if employee is None:
        raise not_found(employee_id)
    return employee


def list_employees(
    session: Session,
    access: Access,
    *,
    department: str | None = None,
    include_inactive: bool = False,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> EmployeePage:
    """HR admins list everyone; an HRBP only the departments they partner. No pay here:
    the list is for finding people, one record shows pay to whom it may."""
    size = max(1, min(limit, MAX_PAGE))
    query = select(Employee)
    if Role.HR_ADMIN not in access.user.roles:
        query = query.where(Employee.department.in_(sorted(access.user.departments)))
    if department is not None:
        query = query.where(Employee.department == department)
    if not include_inactive:
        query = query.where(Employee.active.is_(True))
    if cursor:
        query = query.where(Employee.employee_id > str(decode_cursor(cursor, ("id",))["id"]))
    rows = session.scalars(query.order_by(Employee.employee_id).limit(size + 1)).all()
    items = [EmployeePublic.model_validate(row) for row in rows[:size]]
    next_cursor = encode_cursor({"id": rows[size - 1].employee_id}) if len(rows) > size else None
    return EmployeePage(items=items, next_cursor=next_cursor)


def get_employee(
    session: Session, access: Access, employee_id: str
) -> EmployeePublic | EmployeeWithPay:
    employee = find_employee(session, employee_id)
    found = access.check(session, employee_id, not_found=not_found(employee_id))
    if not access.grants("employees:read-pay", found):
        return EmployeePublic.model_validate(employee)
    audit.record(
        session,
        access,
        "pay.read",
        resource_type="employee",
        resource_id=employee_id,
        subject_id=employee_id,
    )
    session.commit()
    return EmployeeWithPay.model_validate(employee)
