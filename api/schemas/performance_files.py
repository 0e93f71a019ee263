"""A person's performance file as the API shows it: one list of entries, newest first.

Every entry has the same envelope (what, when, which cycle and phase, who wrote it) and
the record's own fields in `data`. What a caller may not see is left out, not blanked:
result entries (pay) are absent for managers, and the author of a peer or upward review
is `null` with `anonymous: true` for everyone but HR admins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from api.schemas.common import PublicModel

EntryKind = Literal[
    "goal",
    "goal_change",
    "checkin",
    "review",
    "rating",
    "calibration",
    "minutes",
    "acknowledgment",
    "result",
    "talent",
    "event",
]
"""`goal_change`: one entry of a goal's change log (applied, pending or rejected);
`talent`: a talent decision HR recorded (develop, promote, retain, key position);
`event`: a timeline event no record stands for (a goal approval, a significant event)."""


class PerformanceFileEntry(PublicModel):
    id: str = Field(description="`<kind>:<record id>`, stable across reads.")
    kind: EntryKind
    cycle_id: str | None
    phase_id: str | None = Field(
        description="The phase of the task the record came from; null for computed "
        "records (ratings, result proposals)."
    )
    task_id: str | None = Field(
        description="The task the record came from; null for anonymous reviews."
    )
    at: datetime = Field(
        description="When it happened (a submission's time; a computed record's last change)."
    )
    summary: str = Field(description="One line for the timeline.")
    author_id: str | None = Field(
        description="Who wrote, recorded or decided it; null when anonymous or computed."
    )
    anonymous: bool = Field(
        default=False,
        description="A peer or upward review: its author is shown to HR admins only.",
    )
    data: dict[str, Any] = Field(description="The record's own fields, by kind.")


class PerformanceFilePage(PublicModel):
    employee_id: str
    items: list[PerformanceFileEntry]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


ExportFormat = Literal["json", "html"]


class PerformanceFileCycle(PublicModel):
    cycle_id: str | None = Field(description="Null for entries of no cycle.")
    items: list[PerformanceFileEntry] = Field(description="Oldest first.")


class PerformanceFileExport(PublicModel):
    """The whole file at once, by cycle (the cycle of the oldest entry first), each cycle's
    entries oldest first; the same entries, redactions and audit as the paged route."""

    employee_id: str
    employee_name: str
    generated_at: datetime
    exported_by: str = Field(description="The caller's employee id.")
    cycles: list[PerformanceFileCycle]
