"""Objectives, goals, their change log, bulk assignment and alignment coverage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from api.schemas.common import PublicModel, RequestModel

GoalStatus = Literal[
    "draft",
    "proposed",
    "returned",
    "approved",
    "in_progress",
    "achieved",
    "missed",
    "dropped",
    "closed",
]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$")]


class KeyResult(RequestModel):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    committed: bool = False
    target: float | None = None
    start: float | None = None
    current: float | None = None
    unit: Annotated[str, Field(max_length=40)] | None = None
    weight: Annotated[float, Field(gt=0)] | None = None


class ObjectiveCreate(RequestModel):
    id: Id | None = None
    level: Literal["org", "department"] = "org"
    group: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="The department, for a department objective."
    )
    parent_id: Id | None = Field(
        default=None, description="The org objective a department objective aligns to."
    )
    title: Annotated[str, Field(min_length=1, max_length=500)]
    description: Annotated[str, Field(max_length=5000)] | None = None
    owner_id: Id | None = None
    weight: Annotated[int, Field(ge=0, le=100)] = 1
    key_results: list[KeyResult] = Field(default_factory=list, max_length=20)


class ObjectiveChange(RequestModel):
    """Only the fields given change; every change is a strategy change with a reason."""

    title: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    parent_id: Id | None = None
    weight: Annotated[int, Field(ge=0, le=100)] | None = None
    key_results: list[KeyResult] | None = Field(default=None, max_length=20)
    reason: Reason
    realign: bool = Field(
        default=True,
        description="Send a re-align task to every owner of a goal aligned below it.",
    )


class ObjectiveDrop(RequestModel):
    reason: Reason


class ObjectivePublic(PublicModel):
    id: str
    cycle_id: str
    level: str
    group: str | None
    parent_id: str | None
    title: str
    description: str | None
    owner_id: str | None
    weight: int
    status: str
    key_results: list[Any]


class StrategyChangePublic(PublicModel):
    objective: ObjectivePublic
    change: Literal["created", "changed", "dropped"]
    realign_sent_to: list[str] = Field(
        description="Owners of goals aligned below it who got a re-align task."
    )
    not_reached: list[str] = Field(
        default_factory=list,
        description="Owners whose participant workflow could not be signalled: it has "
        "ended, or the engine did not answer (the change is in their performance file all "
        "the same).",
    )


class TreeNodePublic(PublicModel):
    id: str
    kind: Literal["org", "department", "goal"]
    title: str
    parent_id: str | None
    weight: float
    status: str
    progress: float = Field(description="Rolled up: the weighted mean of aligned children.")
    owner_id: str | None
    group: str | None
    children: list[TreeNodePublic]


class ObjectiveTree(PublicModel):
    cycle_id: str
    roots: list[TreeNodePublic]
    hidden_goals: int = Field(
        description="Goals of people you may not see; they count in the roll-up."
    )


class Alignment(PublicModel):
    id: str
    kind: Literal["org", "department", "goal"]
    title: str
    owner_id: str | None = None


class GoalPublic(PublicModel):
    id: str
    cycle_id: str
    owner_id: str
    title: str
    description: str | None
    type: str
    weight: int
    parent_id: str | None
    aligned_to: Alignment | None
    target: dict[str, Any]
    status: GoalStatus
    progress: float
    confidence: int | None
    pending_changes: int
    updated_at: datetime


class GoalList(PublicModel):
    items: list[GoalPublic]


class GoalChangeRequest(RequestModel):
    """Only the fields given change. After approval, the definition decides: the
    manager approves the change (`pending`), it applies at once, or goals are locked."""

    title: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    weight: Annotated[int, Field(ge=0, le=100)] | None = None
    parent_id: Id | None = None
    target: dict[str, Any] | None = Field(
        default=None,
        description="Measures to change: key_results, metric, unit, direction, threshold, "
        "target, stretch, actual.",
    )
    status: Literal["in_progress", "achieved", "missed", "dropped"] | None = None
    progress: Annotated[float, Field(ge=0, le=1)] | None = None
    reason: Reason


class GoalChangePublic(PublicModel):
    id: int
    goal_id: str
    cycle_id: str
    owner_id: str
    changed_by: str
    action: str
    changes: dict[str, Any]
    reason: str | None
    status: Literal["applied", "pending", "rejected"]
    decided_by: str | None
    decided_at: datetime | None
    decision_comment: str | None
    task_id: str | None
    at: datetime


class GoalHistory(PublicModel):
    goal_id: str
    items: list[GoalChangePublic]


class ChangeDecision(RequestModel):
    decision: Literal["approve", "reject"]
    comment: Annotated[str, Field(max_length=2000)] | None = None


class GoalTemplate(RequestModel):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    type: Literal["okr", "kpi", "development"]
    weight: Annotated[int, Field(ge=1, le=100)]
    description: Annotated[str, Field(max_length=5000)] | None = None
    parent_id: Id | None = None
    key_results: list[KeyResult] | None = Field(default=None, max_length=20)
    metric: Annotated[str, Field(max_length=200)] | None = None
    unit: Annotated[str, Field(max_length=40)] | None = None
    direction: Literal["higher", "lower"] | None = None
    threshold: float | None = None
    target: float | None = None
    stretch: float | None = None


class GroupFilter(RequestModel):
    """Who gets the goal: the cycle's participants matching every field given."""

    departments: list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None, max_length=100
    )
    manager_id: Id | None = Field(default=None, description="Direct reports of this manager.")
    job_titles: list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None, max_length=100
    )
    levels: list[int] | None = Field(default=None, max_length=50)
    employee_ids: list[Id] | None = Field(default=None, max_length=5000)


class GoalAssignment(RequestModel):
    template: GoalTemplate
    to: GroupFilter
    reason: Reason


class GoalAssignmentPublic(PublicModel):
    cycle_id: str
    assigned: list[str] = Field(description="Employees who got the goal.")
    goal_ids: list[str]
    skipped: list[str] = Field(
        description="Matched but not yours to give goals to, or already given this one."
    )


class CoveragePublic(PublicModel):
    cycle_id: str
    departments: list[str] | None
    participants: int
    goals: int = Field(description="Goals that should align (development goals excluded).")
    aligned: int
    share_aligned: float | None
    without_aligned_goal: list[str]
