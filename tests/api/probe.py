"""A tiny workflow holding one task in the engine's own `TaskBook`, so its `submit_task`
Update has exactly the validator and acceptance semantics of the real workflows, without
their phases; its `reopen_task` Update is the participant workflow's HR control (less the
phase check). Its activities are fakes registered by the engine's activity names."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.types import (
        ActivityName,
        ClockSpec,
        NotifyInput,
        OpenTaskInput,
        OpenTaskResult,
        RecordSubmissionInput,
        UpdateTaskInput,
    )
    from workflows.builtin_forms import BUILTIN_FORMS, DECLINE
    from workflows.clock import Clock
    from workflows.messages import ControlResult, ReopenTaskInput, SubmitTaskInput, SubmitTaskResult
    from workflows.tasks import DONE_STATUSES, TaskBook, TaskSpec, shown_status


class ProbeInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    task_id: str
    cycle_id: str
    assignee_id: str
    form_id: str
    form_schema: dict[str, Any]
    due_at: datetime
    clock: ClockSpec
    subject_id: str | None = None
    phase_id: str = "goals"
    kind: str = "goal_draft"
    declinable: bool = False


@workflow.defn(name="SubmitProbeWorkflow")
class SubmitProbeWorkflow:
    @workflow.init
    def __init__(self, input: ProbeInput) -> None:
        self.book = TaskBook(Clock(input.clock), lambda _form_id: input.form_schema)
        self.done = False
        self.reopened = 0

    @workflow.run
    async def run(self, input: ProbeInput) -> int:
        await self.book.open(
            TaskSpec(
                task_id=input.task_id,
                cycle_id=input.cycle_id,
                workflow_id=workflow.info().workflow_id,
                subject_id=input.subject_id or input.assignee_id,
                assignee_id=input.assignee_id,
                phase_id=input.phase_id,
                kind=input.kind,
                form_id=input.form_id,
                title="Draft your goals",
                due_at=input.due_at,
                decline_schema=BUILTIN_FORMS[DECLINE] if input.declinable else None,
            )
        )
        # Like a participant workflow, stay alive after the submission (the next phase).
        await workflow.wait_condition(lambda: self.done)
        await self.book.quiesce()
        return self.book.tasks[input.task_id].revision

    @workflow.update
    async def submit_task(self, submission: SubmitTaskInput) -> SubmitTaskResult:
        return await self.book.accept_submit(submission)

    @submit_task.validator
    def _validate_submit(self, submission: SubmitTaskInput) -> None:
        self.book.validate_submit(submission)

    @workflow.update
    async def reopen_task(self, request: ReopenTaskInput) -> ControlResult:
        task = self.book.find(request.task_id)
        await self.book.reopen(task, request.new_due, request.reason)
        self.reopened += 1
        return ControlResult(detail=f"{request.task_id} reopened", affected=1)

    @reopen_task.validator
    def _validate_reopen(self, request: ReopenTaskInput) -> None:
        if shown_status(self.book.find(request.task_id)) not in DONE_STATUSES:
            raise ApplicationError("the task is still open", type="TaskNotDone", non_retryable=True)

    @workflow.query
    def reopen_count(self) -> int:
        return self.reopened

    @workflow.signal
    def finish(self) -> None:
        self.done = True


@dataclass
class FakeActivities:
    """The store writes a task makes, recorded instead of written."""

    opened: list[OpenTaskInput] = field(default_factory=list)
    task_opened: asyncio.Event = field(default_factory=asyncio.Event)
    submissions: list[RecordSubmissionInput] = field(default_factory=list)

    def all(self) -> list[Any]:
        @activity.defn(name=ActivityName.OPEN_TASK)
        async def open_task(request: OpenTaskInput) -> OpenTaskResult:
            self.opened.append(request)
            self.task_opened.set()
            return OpenTaskResult(prefill=request.prefill)

        @activity.defn(name=ActivityName.RECORD_SUBMISSION)
        async def record_submission(request: RecordSubmissionInput) -> None:
            self.submissions.append(request)

        @activity.defn(name=ActivityName.UPDATE_TASK)
        async def update_task(request: UpdateTaskInput) -> None:
            return None

        @activity.defn(name=ActivityName.NOTIFY)
        async def notify(request: NotifyInput) -> None:
            return None

        return [open_task, record_submission, update_task, notify]
