"""Employees as the API shows them: pay only to those who may see it.

Two response shapes rather than one with nullable pay: a caller who may not see pay gets
a body that has no pay fields at all, not empty ones.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import Field

from api.schemas.common import PublicModel, RequestModel


class EmployeePublic(PublicModel):
    employee_id: str
    name: str
    email: str
    manager_id: str | None
    department: str
    location: str | None
    employment_type: str
    hire_date: date | None
    level: int
    job_title: str | None
    active: bool


class EmployeeWithPay(EmployeePublic):
    """For the employee themself, the HRBP of their department and HR admins."""

    salary: Decimal | None
    range_midpoint: Decimal | None
    currency: str


class EmployeePage(PublicModel):
    items: list[EmployeePublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class EraseRequest(RequestModel):
    reason: str = Field(
        min_length=3,
        max_length=500,
        description="Why (the request's reference); recorded in the audit trail.",
    )


class ErasureReport(PublicModel):
    employee_id: str
    erased: dict[str, int] = Field(description="Rows deleted or anonymised, per category.")
    kept: list[str] = Field(description="Categories kept under `PERFLOOP_RETENTION_KEEP`.")


class SubjectExport(PublicModel):
    """Everything the store holds about one person; others' identities read `redacted`."""

    employee_id: str
    generated_at: str
    sections: dict[str, Any]
