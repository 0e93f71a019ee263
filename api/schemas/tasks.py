"""Tasks: the inbox rows, one task with its form, and a submission."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from api.schemas.common import PublicModel, RequestModel

TaskStatus = Literal["open", "overdue", "submitted", "closed", "cancelled"]
InboxFilter = Literal["open", "overdue", "submitted", "closed", "cancelled", "all"]
"""`open` means actionable: open or overdue. The other values match one status each."""


class TaskPublic(PublicModel):
    task_id: str
    cycle_id: str
    subject_id: str = Field(description="Whom the task is about (`@group` for group tasks).")
    assignee_id: str | None = Field(
        description="Who holds the task; withheld (null) on a peer or upward review task "
        "for anyone but its assignee, and for HR admins who give no X-Perfloop-Reason."
    )
    phase_id: str
    kind: str
    form_id: str
    title: str
    status: TaskStatus
    due_at: datetime
    opened_at: datetime
    submitted_at: datetime | None = None
    late: bool = Field(default=False, description="Submitted after its due date.")
    revision: int = Field(default=0, description="Accepted submissions (reopened tasks count up).")


class TaskPage(PublicModel):
    items: list[TaskPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class FormPublic(PublicModel):
    id: str
    json_schema: dict[str, Any] = Field(
        alias="schema", description="JSON Schema (draft 2020-12) the payload must match."
    )


class HintKey(PublicModel):
    id: str
    title: str
    description: str | None = None


class TaskHints(PublicModel):
    """How to present the form, from the cycle's definition (the schema stays the rule)."""

    keys: dict[str, list[HintKey]] = Field(
        default_factory=dict,
        description="For map fields (e.g. `competencies`, `sections`): the keys to offer.",
    )
    options: dict[str, list[HintKey]] = Field(
        default_factory=dict,
        description="For id fields (e.g. `goal_id`): the values to choose from.",
    )
    rules: list[str] = Field(
        default_factory=list, description="Rules the cycle checks beyond the schema, in words."
    )


class TaskDetail(TaskPublic):
    form: FormPublic
    ui: TaskHints = Field(default_factory=TaskHints)
    prefill: dict[str, Any] = Field(description="Suggested values to start the form from.")
    payload: dict[str, Any] | None = Field(description="What was submitted, once it was.")


class TaskSubmit(RequestModel):
    payload: dict[str, Any] = Field(description="The filled form; checked against its schema.")


class TaskSubmitted(PublicModel):
    task_id: str
    status: TaskStatus
    late: bool
    accepted_at: datetime = Field(description="Nominal time the workflow accepted it.")
