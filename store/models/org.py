"""The organisation as the embedded HRIS knows it: one row per employee.

The columns are exactly the fields of `activities.hris.base.Person`, so an adapter can
turn one into the other field by field (`Employee(**person.model_dump())`). Pay lives
here and nowhere else in the store's engine tables: cycle snapshots, tasks and logs never
copy it; only result proposals (read by HR) carry the amounts derived from it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base

EMPLOYEE_ID_LENGTH = 64
"""Employee ids everywhere in the store (forms allow at most 64 characters)."""

MONEY = Numeric(14, 2)
"""Amounts of money: exact decimals with cents, up to 999,999,999,999.99."""


class Employee(Base):
    """One person from the HRIS, active or not (leavers stay for history and references).

    `manager_id` points at another row; the constraint is deferred to the end of the
    transaction so that a whole org chart can be loaded in any order.
    """

    __tablename__ = "employees"
    __table_args__ = (
        CheckConstraint(
            "employment_type IN ('full_time', 'part_time', 'contractor', 'intern')",
            name="employment_type_known",
        ),
    )

    employee_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    manager_id: Mapped[str | None] = mapped_column(
        String(EMPLOYEE_ID_LENGTH),
        ForeignKey("employees.employee_id", deferrable=True, initially="DEFERRED"),
        index=True,
    )
    department: Mapped[str] = mapped_column(String(200), index=True)
    location: Mapped[str | None] = mapped_column(String(200))
    employment_type: Mapped[str] = mapped_column(String(20), default="full_time")
    hire_date: Mapped[date | None]
    salary: Mapped[Decimal | None] = mapped_column(MONEY)
    range_midpoint: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    level: Mapped[int] = mapped_column(default=0)
    job_title: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    terminated_on: Mapped[date | None]

    def __repr__(self) -> str:
        # Ids only: a repr ends up in logs and tracebacks.
        return f"<Employee {self.employee_id}>"
