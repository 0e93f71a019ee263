"""ParticipantWorkflow: one person's way through a cycle's phases.

Id `cycle/<cycle-id>/<employee-id>`. It walks the pinned definition's phases in order,
waits for each window to open, and hands the phase to its module in `workflows.phases`.
Tasks complete through the `submit_task` Update. The cycle reaches it through signals:
gates opening, HR phase controls, withdrawal and definition migration.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.clock import Clock
from workflows.context import ONE_WRITE_PHASE_START, ParticipantContext, Withdrawn
from workflows.phases import RUNNERS
from workflows.phases.monitoring import open_coaching_task
from workflows.phases.realign import REALIGN_PATCH, RealignSignal, realign
from workflows.tasks import DONE_STATUSES, _Task, shown_status

with workflow.unsafe.imports_passed_through():
    from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

    from activities.types import CoachSignal
    from definitions.expressions import compile_expression, evaluate_condition
    from workflows.messages import (
        ControlResult,
        GateSignal,
        MigrateSignal,
        ParticipantInput,
        ParticipantStatus,
        PhaseControlSignal,
        ReassignTaskInput,
        ReopenTaskInput,
        SearchAttributeNames,
        SubmitTaskInput,
        SubmitTaskResult,
        WithdrawSignal,
    )

PHASE_KEY = SearchAttributeKey.for_keyword(SearchAttributeNames.PHASE)


def participant_search_attributes(
    cycle_id: str, definition_ref: str, phase_id: str = "pending"
) -> TypedSearchAttributes:
    """Set at start by the launcher; no personal data (ids of cycles and phases only)."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(
                SearchAttributeKey.for_keyword(SearchAttributeNames.CYCLE), cycle_id
            ),
            SearchAttributePair(
                SearchAttributeKey.for_keyword(SearchAttributeNames.DEFINITION), definition_ref
            ),
            SearchAttributePair(PHASE_KEY, phase_id),
        ]
    )


@workflow.defn(name="ParticipantWorkflow")
class ParticipantWorkflow:
    @workflow.init
    def __init__(self, input: ParticipantInput) -> None:
        self.input = input
        self.ctx = ParticipantContext(
            cycle_id=input.cycle_id,
            profile=input.profile,
            pinned=input.pinned,
            clock=Clock(input.clock),
            hr_admins=input.hr_admins,
            local_activities=input.local_activities,
        )
        self.run_status: Literal["running", "completed", "left", "cancelled"] = "running"
        self.started_phases: set[str] = set()
        self.realign_keys: list[str] = []

    @workflow.run
    async def run(self, input: ParticipantInput) -> ParticipantStatus:
        ctx = self.ctx
        try:
            index = 0
            while index < len(ctx.definition.phases):
                # Re-read each time: a migration may have replaced the phases ahead.
                phase = ctx.definition.phases[index]
                index += 1
                last = index == len(ctx.definition.phases)
                await self._run_phase(phase, last=last)
            self.run_status = "completed"
        except Withdrawn:
            assert ctx.withdrawn is not None
            self.run_status = ctx.withdrawn.status
            await ctx.cancel_open_tasks(ctx.withdrawn.reason)
            await ctx.record_phase(
                ctx.current_phase or ctx.definition.phases[0].id,
                "cancelled",
                participant_status=ctx.withdrawn.status,
            )
        await ctx.book.quiesce()
        return self._status()

    async def _run_phase(self, phase: Any, *, last: bool) -> None:
        ctx = self.ctx
        phase_id: str = phase.id
        done = "completed" if last else None
        opens, due = ctx.window(phase)
        if (self.input.joined_late and due < ctx.clock.now()) or not self._applies(phase):
            await ctx.record_phase(phase_id, "skipped", participant_status=done)
            return
        delay = ctx.clock.until(opens)
        if delay > timedelta():
            # Sleep until the window opens, waking early only to leave or skip.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: ctx.withdrawn is not None or phase_id in ctx.closed_phases,
                    timeout=delay,
                )
        ctx.check()
        if ctx.closed(phase_id):
            await ctx.record_phase(phase_id, "skipped", participant_status=done)
            return
        self.started_phases.add(phase_id)
        if workflow.patched(ONE_WRITE_PHASE_START):
            ctx.begin_phase(phase_id)
        else:
            await ctx.record_phase(phase_id, "active")
        if self.input.use_search_attributes:
            workflow.upsert_search_attributes([PHASE_KEY.value_set(phase_id)])
        await RUNNERS[phase.kind](ctx, phase)
        ctx.check()
        await ctx.record_phase(phase_id, "completed", participant_status=done)

    def _applies(self, phase: Any) -> bool:
        condition = getattr(phase, "when", None)
        if condition is None:
            return True
        profile = self.ctx.profile
        variables = {
            "participant": {
                "tenure_days": profile.tenure_days(self.ctx.clock.now().date()),
                "department": profile.department,
                "location": profile.location or "",
                "employment_type": profile.employment_type,
                "is_manager": profile.direct_reports > 0,
                "direct_reports": profile.direct_reports,
                "level": profile.level,
            }
        }
        return evaluate_condition(compile_expression(condition, "phase.when"), variables)

    def _status(self) -> ParticipantStatus:
        return ParticipantStatus(
            employee_id=self.ctx.employee_id,
            phase_id=self.ctx.current_phase,
            phase_status=self.ctx.phase_status,
            status=self.run_status,
            definition_ref=self.ctx.pinned.ref,
            tasks=self.ctx.book.views(),
            rating=self.ctx.rating,
        )

    # -- tasks ----------------------------------------------------------------------------

    @workflow.update
    async def submit_task(self, submission: SubmitTaskInput) -> SubmitTaskResult:
        return await self.ctx.book.accept_submit(submission)

    @submit_task.validator
    def _validate_submit(self, submission: SubmitTaskInput) -> None:
        self.ctx.book.validate_submit(submission)

    @workflow.update
    async def reopen_task(self, request: ReopenTaskInput) -> ControlResult:
        task = self.ctx.book.find(request.task_id)
        # A submission answered a moment ago lands first; the phase may end meanwhile.
        await self.ctx.book.until_written(task)
        self._check_reopenable(task)
        await self.ctx.book.reopen(task, request.new_due, request.reason)
        return ControlResult(detail=f"{request.task_id} reopened", affected=1)

    @reopen_task.validator
    def _validate_reopen(self, request: ReopenTaskInput) -> None:
        self._check_reopenable(self.ctx.book.find(request.task_id))

    def _check_reopenable(self, task: _Task) -> None:
        if self.ctx.current_phase != task.spec.phase_id or self.ctx.closed(task.spec.phase_id):
            raise ApplicationError(
                f"phase {task.spec.phase_id} is over; its tasks can no longer be reopened",
                type="PhaseOver",
                non_retryable=True,
            )
        if shown_status(task) not in DONE_STATUSES:
            raise ApplicationError("the task is still open", type="TaskNotDone", non_retryable=True)

    @workflow.update
    async def reassign_task(self, request: ReassignTaskInput) -> ControlResult:
        task = self.ctx.book.find(request.task_id)
        await self.ctx.book.reassign(task, request.new_assignee_id, request.reason)
        return ControlResult(detail=f"{request.task_id} reassigned", affected=1)

    @reassign_task.validator
    def _validate_reassign(self, request: ReassignTaskInput) -> None:
        task = self.ctx.book.find(request.task_id)
        if shown_status(task) in DONE_STATUSES:
            raise ApplicationError(
                f"task {request.task_id} is {shown_status(task)}",
                type="TaskNotOpen",
                non_retryable=True,
            )
        if request.new_assignee_id == self.ctx.employee_id and task.spec.kind in (
            "manager_review",
            "goal_review",
            "interview_minutes",
        ):
            raise ApplicationError(
                "a participant cannot review themselves", type="InvalidAssignee", non_retryable=True
            )

    # -- signals from the cycle -----------------------------------------------------------

    @workflow.signal
    def gate_opened(self, signal: GateSignal) -> None:
        self.ctx.gates.add((signal.gate, signal.phase_id))

    @workflow.signal
    async def phase_control(self, signal: PhaseControlSignal) -> None:
        ctx = self.ctx
        if signal.action == "extend" and signal.new_due is not None:
            ctx.due_overrides[signal.phase_id] = signal.new_due
            for task in list(ctx.book.tasks.values()):
                if task.spec.phase_id == signal.phase_id and task.status not in DONE_STATUSES:
                    await ctx.book.set_due(task, signal.new_due, signal.reason)
        elif signal.action == "close":
            ctx.closed_phases.add(signal.phase_id)
            await ctx.close_phase_tasks(signal.phase_id, signal.reason or "phase closed by HR")

    @workflow.signal
    async def coach(self, signal: CoachSignal) -> None:
        """From the monitoring phase's `MonitorWorkflow`: an anomaly rule asks for coaching."""
        await open_coaching_task(self.ctx, signal)

    @workflow.signal
    def withdraw(self, signal: WithdrawSignal) -> None:
        if self.ctx.withdrawn is None:
            self.ctx.withdrawn = signal
            self.ctx.book.touch()

    @workflow.signal
    async def realign_goals(self, signal: RealignSignal) -> None:
        # A strategy change above this participant's goals (workflows/phases/realign.py).
        if not workflow.patched(REALIGN_PATCH) or signal.key in self.realign_keys:
            return
        self.realign_keys.append(signal.key)
        await realign(self.ctx, len(self.realign_keys), signal)

    @workflow.signal
    def migrate(self, signal: MigrateSignal) -> None:
        # The cycle checked that started phases are unchanged; phases ahead follow the new
        # version from here on.
        self.ctx.pinned = signal.pinned

    # -- queries ------------------------------------------------------------------------

    @workflow.query
    def status(self) -> ParticipantStatus:
        return self._status()
