"""Human tasks inside a workflow: open, wait, remind, mark overdue, escalate, accept.

A task is a row in the store (the inbox, written by the `open_task` activity) and an
entry here. Submissions arrive as the `submit_task` Update: `validate_submit` rejects a
bad payload, a closed task or the wrong submitter before anything reaches history;
`accept_submit` answers as soon as the Update (and with it the payload) is in the history,
and the submission is then recorded in the store by an activity; the task counts as done
for the workflow once that write is in. Reminders, overdue marks and escalations are
timers computed from the definition; an HR change of due date simply moves them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.clock import Clock

with workflow.unsafe.imports_passed_through():
    import jsonschema

    from activities.types import (
        ActivityName,
        BuildPrefillInput,
        NotifyInput,
        OpenTaskInput,
        OpenTaskResult,
        RecordPhaseInput,
        RecordSubmissionInput,
        TaskStatus,
        UpdateTaskInput,
    )
    from definitions.durations import parse_duration
    from definitions.models import Escalation, Reminder
    from workflows.messages import SubmitTaskInput, SubmitTaskResult, TaskView

ACTIVITY_TIMEOUT = timedelta(seconds=60)
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    non_retryable_error_types=["InvalidInput"],
)
ANSWER_BEFORE_RECORDING = "submit-answers-before-recording"
"""Patch: a submission's Update answers in the workflow task that accepts it, and its
store write runs in the next one. Before it, the person submitting waited for the write
and for every local activity of the next step (a workflow task stays open while local
activities run, and the Update's answer travels with the task's completion)."""
ANSWER_GAP = timedelta(milliseconds=1)
"""The timer that ends the accepting workflow task before the recording's local activity."""
OPEN_STATUSES: frozenset[str] = frozenset({"open", "overdue"})
DONE_STATUSES: frozenset[str] = frozenset({"submitted", "closed", "cancelled"})


# Short store writes on the hot path run as local activities: they are recorded as one
# marker in history instead of three events and skip a server round trip, which keeps a
# participant's history small and a launch close to bare Temporal's cost.
LOCAL_ACTIVITIES: frozenset[str] = frozenset(
    {
        ActivityName.RECORD_PHASE,
        ActivityName.OPEN_TASK,
        ActivityName.UPDATE_TASK,
        ActivityName.RECORD_SUBMISSION,
        ActivityName.BUILD_PREFILL,
        ActivityName.NOTIFY,
        ActivityName.FINAL_RATING,
        ActivityName.MONITORING_SIGNALS,
        ActivityName.RECORD_ANOMALY,
    }
)


async def run_activity(
    name: str, arg: Any, result_type: type[Any] | None = None, *, local: bool = True
) -> Any:
    """Every activity call goes through here: one timeout and retry policy for the engine.

    Retries are unbounded with backoff: a store or HRIS outage delays a cycle, never
    fails it; non-retryable errors are bugs or bad input and surface in Temporal UI.
    `local=False` turns local activities into regular ones (see `CycleInput`).
    """
    if local and name in LOCAL_ACTIVITIES:
        return await workflow.execute_local_activity(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
    return await workflow.execute_activity(
        name,
        arg,
        result_type=result_type,
        start_to_close_timeout=ACTIVITY_TIMEOUT,
        retry_policy=ACTIVITY_RETRY,
    )


class InvalidSubmission(ApplicationError):
    """Raised by update validators; the API maps `type` to an HTTP status."""


class RecordingFailed(Exception):
    """An answered submission's store write failed for good (a bug: every other error is
    retried). Not an `ApplicationError`, so it fails the workflow task rather than the
    workflow: it shows in Temporal UI and the write is tried again with every retry of
    the task, until a fixed worker lands it."""


@dataclass
class TaskSpec:
    task_id: str
    cycle_id: str
    workflow_id: str
    subject_id: str
    assignee_id: str
    phase_id: str
    kind: str
    form_id: str
    title: str
    due_at: datetime
    reminders: tuple[Reminder, ...] = ()
    escalation: Escalation | None = None
    escalate_to_id: str | None = None
    prefill: dict[str, Any] = field(default_factory=dict)
    rules: Callable[[dict[str, Any]], list[str]] | None = None
    """Checks beyond the form's JSON Schema (goal count, weights); messages for the user."""
    decline_schema: dict[str, Any] | None = None
    """When set, a payload `{"decline": true, ...}` is checked against this schema instead
    of the form's (a reviewer declining a peer review)."""


@dataclass
class _Task:
    spec: TaskSpec
    schema: dict[str, Any]
    status: TaskStatus
    opened_at: datetime
    due_at: datetime
    assignee_id: str
    revision: int = 0
    payload: dict[str, Any] | None = None
    submitted_at: datetime | None = None
    late: bool = False
    in_flight: bool = False
    fired: set[str] = field(default_factory=set)

    def view(self) -> TaskView:
        return TaskView(
            task_id=self.spec.task_id,
            phase_id=self.spec.phase_id,
            kind=self.spec.kind,
            form_id=self.spec.form_id,
            assignee_id=self.assignee_id,
            subject_id=self.spec.subject_id,
            status=self.status,
            due_at=self.due_at,
            opened_at=self.opened_at,
            submitted_at=self.submitted_at,
            revision=self.revision,
        )


class TaskBook:
    """The tasks of one workflow, with their timers."""

    def __init__(
        self,
        clock: Clock,
        form_schemas: Callable[[str], dict[str, Any]],
        *,
        local_activities: bool = True,
    ) -> None:
        self.clock = clock
        self.local_activities = local_activities
        self._form_schemas = form_schemas
        self.tasks: dict[str, _Task] = {}
        self._changed = 0
        self._recordings: set[asyncio.Task[None]] = set()
        self.on_recorded: Callable[[], None] | None = None
        """Called when a submission answered before its write has been recorded."""
        self.failure: RecordingFailed | None = None

    # -- lifecycle ------------------------------------------------------------------

    async def open(
        self,
        spec: TaskSpec,
        *,
        prefill_from: BuildPrefillInput | None = None,
        phase_started: RecordPhaseInput | None = None,
    ) -> _Task:
        """Open a task; with `prefill_from` its prefill is built by the same activity and
        `spec.prefill` (which wins on a clash) becomes the whole of it."""
        if spec.task_id in self.tasks:
            return self.tasks[spec.task_id]
        now = self.clock.now()
        task = _Task(
            spec=spec,
            schema=self._form_schemas(spec.form_id),
            status="open",
            opened_at=now,
            due_at=spec.due_at,
            assignee_id=spec.assignee_id,
        )
        self.tasks[spec.task_id] = task
        opened = OpenTaskInput(
            task_id=spec.task_id,
            cycle_id=spec.cycle_id,
            workflow_id=spec.workflow_id,
            subject_id=spec.subject_id,
            assignee_id=spec.assignee_id,
            phase_id=spec.phase_id,
            kind=spec.kind,
            form_id=spec.form_id,
            title=spec.title,
            due_at=spec.due_at,
            opened_at=now,
            prefill=spec.prefill,
            prefill_from=prefill_from,
            phase_started=phase_started,
        )
        if prefill_from is None and phase_started is None:
            # As before ONE_WRITE_PHASE_START: nothing comes back that the workflow needs.
            await self.activity(ActivityName.OPEN_TASK, opened)
        else:
            result: OpenTaskResult = await self.activity(
                ActivityName.OPEN_TASK, opened, OpenTaskResult
            )
            spec.prefill = result.prefill
        return task

    async def wait(
        self,
        task_ids: Iterable[str],
        *,
        until: datetime | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> dict[str, _Task]:
        """Until every task is done (or nominal `until`, or `stop()` holds after a
        change), firing reminders, overdue marks and escalations on the way."""
        ids = list(task_ids)
        while True:
            self.raise_failure()
            pending = [self.tasks[i] for i in ids if self.tasks[i].status not in DONE_STATUSES]
            if (
                not pending
                or (until is not None and self.clock.now() >= until)
                or (stop is not None and stop())
            ):
                return {i: self.tasks[i] for i in ids}
            await self._fire_due_events(pending)
            next_at = min((at for task in pending for (_, at) in self._events(task)), default=None)
            if until is not None:
                next_at = until if next_at is None else min(next_at, until)
            timeout = self.clock.until(next_at) if next_at is not None else None
            if timeout is not None and timeout <= timedelta():
                continue
            await self._wait_for_change(ids, timeout)

    async def _wait_for_change(self, ids: list[str], limit: timedelta | None) -> None:
        """Until a task changes, every task is done, or the timeout passes."""
        marker = self._changed
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: (
                    self._changed != marker
                    or all(self.tasks[i].status in DONE_STATUSES for i in ids)
                ),
                timeout=limit,
            )

    def _events(self, task: _Task) -> list[tuple[str, datetime]]:
        """The task's timed events not yet fired. None while a submission is being
        recorded: an overdue mark would race it, and a past-due event would make `wait`
        spin without yielding; the recording's end wakes `wait` again."""
        if task.in_flight:
            return []
        events: list[tuple[str, datetime]] = []
        for index, reminder in enumerate(task.spec.reminders):
            key = f"reminder-{index}"
            if key in task.fired:
                continue
            if reminder.before_due is not None:
                at = task.due_at - parse_duration(reminder.before_due)
            else:
                assert reminder.after_open is not None
                at = task.opened_at + parse_duration(reminder.after_open)
            if at < task.due_at:
                events.append((key, at))
        if "overdue" not in task.fired:
            events.append(("overdue", task.due_at))
        escalation = task.spec.escalation
        if escalation is not None and "escalation" not in task.fired:
            events.append(("escalation", task.due_at + parse_duration(escalation.after)))
        return events

    async def _fire_due_events(self, pending: list[_Task]) -> None:
        # A second's tolerance: an accelerated clock's float scaling must never leave an
        # event "due in 0 real seconds" yet not quite due in nominal time.
        now = self.clock.now() + timedelta(seconds=1)
        for task in pending:
            for key, at in sorted(self._events(task), key=lambda e: e[1]):
                if at > now or task.status in DONE_STATUSES:
                    continue
                task.fired.add(key)
                await self._fire(task, key)

    async def _fire(self, task: _Task, key: str) -> None:
        spec = task.spec
        business_key = f"{spec.task_id}:{key}:r{task.revision}:{task.due_at.isoformat()}"
        if key.startswith("reminder"):
            await self.notify(
                business_key,
                task.assignee_id,
                "reminder",
                f"Reminder: {spec.title}",
                cycle_id=spec.cycle_id,
                task_id=spec.task_id,
            )
        elif key == "overdue":
            task.status = "overdue"
            await self.activity(
                ActivityName.UPDATE_TASK,
                UpdateTaskInput(task_id=spec.task_id, status="overdue", at=self.clock.now()),
            )
            await self.notify(
                business_key,
                task.assignee_id,
                "overdue",
                f"Overdue: {spec.title}",
                cycle_id=spec.cycle_id,
                task_id=spec.task_id,
            )
        elif key == "escalation" and spec.escalate_to_id:
            await self.notify(
                business_key,
                spec.escalate_to_id,
                "escalation",
                f"Escalation: {spec.title} is overdue",
                cycle_id=spec.cycle_id,
                task_id=spec.task_id,
            )

    async def notify(
        self,
        business_key: str,
        recipient: str,
        kind: Any,
        subject: str,
        *,
        cycle_id: str,
        task_id: str | None = None,
    ) -> None:
        await self.activity(
            ActivityName.NOTIFY,
            NotifyInput(
                business_key=business_key,
                recipient_id=recipient,
                kind=kind,
                subject=subject,
                task_id=task_id,
                cycle_id=cycle_id,
            ),
        )

    # -- submissions ------------------------------------------------------------------

    def validate_submit(self, submission: SubmitTaskInput) -> None:
        task = self.tasks.get(submission.task_id)
        if task is None:
            raise InvalidSubmission(
                f"no task {submission.task_id} here", type="TaskNotFound", non_retryable=True
            )
        if task.status not in OPEN_STATUSES or task.in_flight:
            raise InvalidSubmission(
                f"task {submission.task_id} is {shown_status(task)}, not open",
                type="TaskNotOpen",
                non_retryable=True,
            )
        if submission.submitter_id != task.assignee_id:
            raise InvalidSubmission(
                "only the task's assignee may submit it", type="NotAssignee", non_retryable=True
            )
        schema = task.schema
        if task.spec.decline_schema is not None and submission.payload.get("decline") is True:
            schema = task.spec.decline_schema
        errors = sorted(
            jsonschema.Draft202012Validator(schema).iter_errors(submission.payload),
            key=lambda error: [str(p) for p in error.absolute_path],
        )
        if errors:
            raise InvalidSubmission(
                "payload does not match the form",
                [
                    {"path": "/" + "/".join(str(p) for p in e.absolute_path), "message": e.message}
                    for e in errors[:20]
                ],
                type="InvalidPayload",
                non_retryable=True,
            )
        if task.spec.rules is not None and schema is task.schema:
            problems = task.spec.rules(submission.payload)
            if problems:
                raise InvalidSubmission(
                    "payload breaks the cycle's rules",
                    [{"path": "/", "message": message} for message in problems],
                    type="InvalidPayload",
                    non_retryable=True,
                )

    async def accept_submit(self, submission: SubmitTaskInput) -> SubmitTaskResult:
        task = self.tasks[submission.task_id]
        if task.status not in OPEN_STATUSES or task.in_flight:
            # Two updates passed validation together; the first one wins.
            raise InvalidSubmission(
                f"task {submission.task_id} is {shown_status(task)}, not open",
                type="TaskNotOpen",
                non_retryable=True,
            )
        task.in_flight = True
        now = self.clock.now()
        late = now > task.due_at
        record = RecordSubmissionInput(
            task_id=task.spec.task_id,
            cycle_id=task.spec.cycle_id,
            subject_id=task.spec.subject_id,
            phase_id=task.spec.phase_id,
            kind=task.spec.kind,
            submitter_id=submission.submitter_id,
            payload=submission.payload,
            submitted_at=now,
            late=late,
            revision=task.revision + 1,
        )
        answer = SubmitTaskResult(
            task_id=task.spec.task_id,
            status="submitted",
            late=late,
            accepted_at=now,
            revision=record.revision,
        )
        if not workflow.patched(ANSWER_BEFORE_RECORDING):
            await self._record(task, record)
            return answer
        # The accepted Update is durable in the history when this workflow task completes;
        # the write follows in the next task (retried until it lands, replayed after a
        # crash), and until then the task is in flight: not open to another submission,
        # not yet done for `wait`, and waited for before the run ends or continues as new.
        recording = asyncio.create_task(self._record_after_answer(task, record))
        self._recordings.add(recording)
        recording.add_done_callback(self._recordings.discard)
        return answer

    async def _record_after_answer(self, task: _Task, record: RecordSubmissionInput) -> None:
        if self.local_activities:
            # A local activity started now would hold this workflow task, and the answer
            # with it, until the write and the next step's writes are done.
            await workflow.sleep(ANSWER_GAP)
        try:
            await self._record(task, record)
        except (ActivityError, ApplicationError) as error:  # a local one raises the latter
            # The person was told "submitted": the task stays in flight (never open
            # again, never done) and the next turn of the main loop fails the workflow task.
            task.in_flight = True
            cause = error.cause if isinstance(error, ActivityError) else error
            self.failure = RecordingFailed(f"recording {record.task_id} failed: {cause}")
        if self.on_recorded is not None:
            self.on_recorded()

    def raise_failure(self) -> None:
        """Fail the workflow task if an answered submission could not be written."""
        if self.failure is not None:
            raise self.failure

    async def _record(self, task: _Task, record: RecordSubmissionInput) -> None:
        try:
            await self.activity(ActivityName.RECORD_SUBMISSION, record)
        finally:
            task.in_flight = False
            self._changed += 1
        task.revision = record.revision
        task.status = "submitted"
        task.payload = record.payload
        task.submitted_at = record.submitted_at
        task.late = record.late

    async def until_written(self, task: _Task) -> None:
        """Until the task's submission, if one is in flight, has its store write in."""
        if task.in_flight:
            await workflow.wait_condition(lambda: not task.in_flight)

    def settled(self) -> bool:
        """No submission is waiting for its write: the run may end or continue as new."""
        return not any(task.in_flight for task in self.tasks.values())

    async def quiesce(self) -> None:
        """Until no handler runs and every answered submission is written (before the run
        ends or continues as new); fails the workflow task if a write failed for good."""
        await workflow.wait_condition(
            lambda: (
                (workflow.all_handlers_finished() and self.settled()) or self.failure is not None
            )
        )
        self.raise_failure()

    # -- HR controls -----------------------------------------------------------------------

    def find(self, task_id: str) -> _Task:
        task = self.tasks.get(task_id)
        if task is None:
            raise InvalidSubmission(f"no task {task_id} here", type="TaskNotFound")
        return task

    async def set_due(self, task: _Task, due: datetime, reason: str) -> None:
        task.due_at = due
        status: TaskStatus | None = None
        if task.status == "overdue" and due > self.clock.now():
            task.status = status = "open"
            task.fired.discard("overdue")
            task.fired.discard("escalation")
        elif task.status == "open":
            task.fired.discard("overdue")
        await self.activity(
            ActivityName.UPDATE_TASK,
            UpdateTaskInput(
                task_id=task.spec.task_id,
                status=status,
                due_at=due,
                reason=reason,
                at=self.clock.now(),
            ),
        )
        self._changed += 1

    async def close(
        self, task: _Task, status: TaskStatus, reason: str, *, file_note: str | None = None
    ) -> None:
        """Close or cancel an open task; `file_note` also enters the subject's file."""
        # A submission accepted a moment ago and still being recorded wins.
        await self.until_written(task)
        if task.status in DONE_STATUSES:
            return
        task.status = status
        await self.activity(
            ActivityName.UPDATE_TASK,
            UpdateTaskInput(
                task_id=task.spec.task_id,
                status=status,
                reason=reason,
                at=self.clock.now(),
                file_note=file_note,
            ),
        )
        self._changed += 1

    async def reopen(self, task: _Task, due: datetime | None, reason: str) -> None:
        await self.until_written(task)  # a submission answered a moment ago lands first
        task.status = "open"
        task.fired = set()
        if due is not None:
            task.due_at = due
        await self.activity(
            ActivityName.UPDATE_TASK,
            UpdateTaskInput(
                task_id=task.spec.task_id,
                status="open",
                due_at=task.due_at,
                reason=reason,
                at=self.clock.now(),
            ),
        )
        self._changed += 1

    async def reassign(self, task: _Task, assignee_id: str, reason: str) -> None:
        task.assignee_id = assignee_id
        await self.activity(
            ActivityName.UPDATE_TASK,
            UpdateTaskInput(
                task_id=task.spec.task_id,
                assignee_id=assignee_id,
                reason=reason,
                at=self.clock.now(),
            ),
        )
        await self.notify(
            f"{task.spec.task_id}:assigned:{assignee_id}",
            assignee_id,
            "task_opened",
            f"New task: {task.spec.title}",
            cycle_id=task.spec.cycle_id,
            task_id=task.spec.task_id,
        )
        self._changed += 1

    def restore(self, spec: TaskSpec, view: TaskView, payload: dict[str, Any] | None) -> _Task:
        """Rebuild a task carried across continue-as-new, without opening it again."""
        task = _Task(
            spec=spec,
            schema=self._form_schemas(spec.form_id),
            status=view.status,
            opened_at=view.opened_at,
            due_at=view.due_at,
            assignee_id=view.assignee_id,
            revision=view.revision,
            payload=payload,
            submitted_at=view.submitted_at,
        )
        self.tasks[spec.task_id] = task
        return task

    async def activity(self, name: str, arg: Any, result_type: type[Any] | None = None) -> Any:
        return await run_activity(name, arg, result_type, local=self.local_activities)

    def touch(self) -> None:
        """Wake waiters after a change made outside this book (phase closed, withdrawn)."""
        self._changed += 1

    def views(self) -> tuple[TaskView, ...]:
        return tuple(task.view() for task in self.tasks.values())


def shown_status(task: _Task) -> str:
    """A task whose submission is being recorded reads as submitted to a second submitter."""
    return "submitted" if task.in_flight else task.status
