"""Cycles: launching one, and its progress as its workflow reports it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from api.auth import SUBJECT_RE
from api.schemas.common import IsoAwareDateTime, IsoDate, PublicModel, ReasonText, RequestModel
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
    starts: IsoDate | None = Field(
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


# --- the list ---------------------------------------------------------------------------

StoredCycleStatus = Literal["running", "completed", "cancelled"]


class CycleSummary(PublicModel):
    """A cycle as the store records it (once its workflow has launched it)."""

    cycle_id: str
    definition: str = Field(validation_alias="definition_ref", description="`name@version`.")
    title: str | None = Field(default=None, description="The definition's title.")
    status: StoredCycleStatus
    nominal_start: datetime
    nominal_end: datetime
    participants: int = Field(default=0, description="People in the cycle's snapshot.")
    launched_by: str | None
    created_at: datetime


class CyclePage(PublicModel):
    items: list[CycleSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


# --- HR controls --------------------------------------------------------------------------

Reason = Annotated[
    ReasonText, Field(description="Why; recorded with the change on every task it touches.")
]


class DeadlineExtend(RequestModel):
    phase_id: str = Field(min_length=1, max_length=100)
    new_due: IsoAwareDateTime = Field(
        description="The phase's new due date, in the cycle's (nominal) time; in the future."
    )
    reason: Reason


class PhaseClose(RequestModel):
    reason: Reason


class TaskReopen(RequestModel):
    reason: Reason
    new_due: IsoAwareDateTime | None = Field(
        default=None, description="A new due date for the reopened task (nominal time)."
    )


class TaskReassign(RequestModel):
    new_assignee_id: str = Field(pattern=SUBJECT_RE.pattern, description="An employee id.")
    reason: Reason


class ParticipantCancel(RequestModel):
    reason: Reason


class CycleCancel(RequestModel):
    reason: Reason


class CycleMigrate(RequestModel):
    definition: str = Field(
        min_length=3,
        max_length=200,
        description="The newer published version to move to: `name@version`.",
        examples=["annual-review@2"],
    )


class ControlPublic(PublicModel):
    """What the workflow answered to an HR control."""

    cycle_id: str
    accepted: bool
    detail: str
    affected: int = Field(description="Participants (or tasks) the change reached.")
