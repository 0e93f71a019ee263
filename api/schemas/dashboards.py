"""A manager's team dashboard: per person, goals against plan, check-ins, anomalies,
overdue tasks and milestone achievement."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.schemas.common import PublicModel


class GoalProgress(PublicModel):
    goal_id: str
    title: str
    type: str
    weight: int
    status: str
    progress: float = Field(description="0..1, from the latest check-in or progress event.")
    confidence: int | None = Field(description="1..5 from the latest check-in.")
    behind_plan: bool | None = Field(
        description="Progress more than 0.2 below expected_by_now; null outside monitoring."
    )


class AnomalyPublic(PublicModel):
    rule_id: str
    action: str = Field(description="coach, notify or flag.")
    description: str | None
    fired_at: datetime
    rests_until: datetime
    evidence: dict[str, float] = Field(description="The rule's variables when it fired.")
    task_id: str | None = Field(description="The coaching task (action coach).")


class OverdueTask(PublicModel):
    task_id: str
    kind: str
    title: str
    due_at: datetime


class MilestoneSummary(PublicModel):
    achieved: int = Field(description="Milestones reached by their due date.")
    total: int = Field(description="Milestones decided (reached or missed).")
    rate: float | None = Field(description="achieved / total; null when none is decided.")


class PersonDashboard(PublicModel):
    employee_id: str
    name: str
    job_title: str | None
    progress: float = Field(description="Weighted progress of their goals, 0..1.")
    expected_by_now: float | None = Field(
        description="What a linear plan expects today in the monitoring window, 0..1; null "
        "when the cycle has no monitoring phase."
    )
    goals: list[GoalProgress]
    last_checkin_at: datetime | None
    last_confidence: float | None = Field(description="Mean confidence of the last check-in.")
    open_anomalies: list[AnomalyPublic] = Field(
        description="Fired rules whose coaching task is still open, or still resting."
    )
    overdue_tasks: list[OverdueTask] = Field(description="Their own open tasks past due.")
    milestones: MilestoneSummary


class TeamDashboard(PublicModel):
    manager_id: str
    cycle_id: str | None = Field(description="The cycle shown.")
    cycles: list[str] = Field(description="Cycles the team takes part in, running ones first.")
    as_of: datetime
    people: list[PersonDashboard]
