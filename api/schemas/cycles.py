"""Cycles: launching one, and its progress as its workflow reports it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from api.schemas.common import PublicModel, RequestModel
from perfloop.cycles import CYCLE_ID_RE


class CycleCreate(RequestModel):
    definition: str = Field(
        min_length=3,
        max_length=200,
        description="A published definition: `name@version` (or `name@latest`).",
        examples=["annual-review@1"],
    )
    cycle_id: str | None = Field(
        default=None,
        pattern=CYCLE_ID_RE.pattern,
        description="Id of the new cycle; derived from the definition and start when omitted.",
        examples=["annual-2027"],
    )
    starts: date | None = Field(
        default=None, description="Nominal start; the definition's calendar start when omitted."
    )
    speed: float | None = Field(
        default=None,
        gt=0,
        le=10_000_000,
        description="Development only: nominal time runs this many times faster than real time.",
    )
    org_objectives: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=500,
        description="Company objectives the department and personal goals cascade from.",
    )


CycleRunStatus = Literal["launching", "running", "completed", "cancelled"]


class CyclePublic(PublicModel):
    cycle_id: str
    workflow_id: str
    definition: str = Field(description="The exact pinned version, `name@version`.")
    status: CycleRunStatus


class PhaseCounts(PublicModel):
    pending: int = 0
    active: int = 0
    waiting: int = 0
    completed: int = 0
    skipped: int = 0


class PhaseProgress(PublicModel):
    id: str
    kind: str
    opens: datetime
    due: datetime
    closed: bool
    counts: PhaseCounts


class ParticipantCounts(PublicModel):
    participants: int = 0
    active: int = 0
    finished: int = 0


class CycleStatusPublic(CyclePublic):
    nominal_now: datetime = Field(description="The cycle's business time (it may run faster).")
    phases: list[PhaseProgress] = Field(description="In the definition's order.")
    participants: ParticipantCounts
    gates_released: list[str]
    open_group_tasks: int = Field(description="Department and HR tasks the cycle holds open.")


class CycleSummary(PublicModel):
    """A cycle as the store knows it, for lists (its live progress is `GET /cycles/{id}`)."""

    cycle_id: str
    definition: str
    title: str | None = Field(description="The definition's title.")
    status: str
    nominal_start: datetime
    nominal_end: datetime
    participants: int
    launched_by: str | None


class CycleList(PublicModel):
    items: list[CycleSummary] = Field(description="Newest first.")
