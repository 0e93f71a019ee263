"""Progress reported by a project tool through the signed webhook."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from api.schemas.common import IsoAwareDateTime, IsoDate, PublicModel, RequestModel

Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$", max_length=128)]
Id64 = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class MilestoneIn(RequestModel):
    id: Key = Field(description="The milestone's id in the tool (stable across deliveries).")
    title: Annotated[str, StringConstraints(max_length=500)] | None = None
    due_on: IsoDate | None = Field(default=None, description="When it was due, if it had a date.")
    achieved: bool = Field(description="Reached (true) or missed (false).")


class ProgressEventIn(RequestModel):
    """One fact about one person; `(source, event_id)` is the idempotency key."""

    event_id: Key = Field(description="Unique per source; a repeated id is a replay, ignored.")
    source: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)] = (
        Field(description="The progress source id, as the cycle definition names it.")
    )
    employee_id: Id64
    kind: Literal["progress", "issue_closed", "milestone"]
    occurred_at: IsoAwareDateTime
    cycle_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    goal_id: Id64 | None = Field(default=None, description="The goal it moves (kind progress).")
    progress: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=None, description="The goal's progress now, 0..1 (kind progress)."
    )
    title: Annotated[str, StringConstraints(max_length=500)] | None = None
    milestone: MilestoneIn | None = Field(default=None, description="Kind milestone only.")

    @model_validator(mode="after")
    def _kind_fields(self) -> Self:
        if self.kind == "progress" and (self.goal_id is None or self.progress is None):
            raise ValueError("kind progress needs goal_id and progress")
        if self.kind == "milestone" and self.milestone is None:
            raise ValueError("kind milestone needs milestone")
        if self.kind != "milestone" and self.milestone is not None:
            raise ValueError("milestone goes with kind milestone only")
        return self


class ProgressEventReceipt(PublicModel):
    event_id: str
    source: str
    status: Literal["stored", "duplicate"] = Field(
        description="stored: new; duplicate: this event id was received before, nothing changed."
    )
