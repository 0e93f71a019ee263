"""A manager's team: each direct report's progress through a cycle."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.schemas.common import PublicModel


class ReportProgress(PublicModel):
    employee_id: str
    name: str
    job_title: str | None
    department: str
    participating: bool = Field(description="Takes part in the cycle shown.")
    phase_id: str | None = Field(description="The phase they are in (or last finished).")
    phase_status: str | None = Field(description="active, waiting, completed, skipped, ...")
    tasks_total: int = Field(description="Their own tasks in the cycle, cancelled ones aside.")
    tasks_done: int = Field(description="Of those, submitted.")
    tasks_overdue: int
    waiting_on_me: int = Field(description="Open tasks about them assigned to the caller.")
    next_due_at: datetime | None = Field(description="Due date of their earliest open task.")


class TeamPublic(PublicModel):
    manager_id: str
    cycle_id: str | None = Field(description="The cycle the progress is about.")
    cycles: list[str] = Field(description="Cycles the team takes part in, newest first.")
    reports: list[ReportProgress]
