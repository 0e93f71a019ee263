"""The HRIS interface the engine depends on, and the records that cross it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field


class Person(BaseModel):
    """One employee as the HRIS knows them. Pay stays out of workflows and logs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    employee_id: str
    name: str
    email: str
    manager_id: str | None = None
    department: str
    location: str | None = None
    employment_type: Literal["full_time", "part_time", "contractor", "intern"] = "full_time"
    hire_date: date | None = None
    salary: Decimal | None = None
    range_midpoint: Decimal | None = None
    currency: str = "EUR"
    level: int = 0
    job_title: str | None = None
    active: bool = True
    terminated_on: date | None = None


class ResultRecord(BaseModel):
    """An approved result sent to the HRIS; `business_key` makes a re-send a no-op."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    business_key: str = Field(description="cycle id / employee id / kind")
    cycle_id: str
    employee_id: str
    kind: Literal["rating", "merit", "bonus", "talent_flags"]
    data: dict[str, Any]


class PushReceipt(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    business_key: str
    status: Literal["sent", "already_sent"]


class Hris(Protocol):
    async def list_people(self) -> list[Person]:
        """Everyone, active or not; the engine filters by the cycle's selection."""
        ...

    async def push_result(self, record: ResultRecord) -> PushReceipt:
        """Send one approved result; idempotent on `record.business_key`."""
        ...
