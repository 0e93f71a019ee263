"""Development sign-in: the demo people to choose from, and the session a choice opens."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.schemas.common import PublicModel, RequestModel


class DevPerson(PublicModel):
    employee_id: str
    name: str
    job_title: str | None
    department: str
    manager_id: str | None
    direct_reports: int = Field(description="Active people who report to them.")
    roles: list[str] = Field(description="What a session for them is granted.")


class DevSessionCreate(RequestModel):
    employee_id: str = Field(min_length=1, max_length=64, examples=["E012"])


class DevSession(PublicModel):
    token: str = Field(description="A development bearer token (refused in production).")
    expires_at: datetime
    person: DevPerson
