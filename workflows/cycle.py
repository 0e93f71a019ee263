"""CycleWorkflow: one review cycle for a whole population.

Id `cycle/<cycle-id>`. Started with the pinned definition, it snapshots the participants
from the HRIS, launches one ParticipantWorkflow each through an activity in bounded
batches (independent workflows, not children: a child-per-person design would hit the
2,000 pending-children limit long before 10,000 people), then runs the org-level gates:

- department objectives (when written by a task) before individual goals,
- calibration of a group once all its active members are scored,
- HR's approval of a group's results (after the budget is applied), then the HRIS sync.

Gates are found by polling the store's read model while one is armed, not by signals
from every participant, so a 10,000-person cycle adds no fan-in to this history. HR
controls arrive as Updates and reach participants through a broadcast activity. The
workflow continues-as-new when Temporal suggests it, carrying a small `CycleState`.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.builtin_forms import BUILTIN_FORMS, CALIBRATION, RESULTS_APPROVAL
from workflows.clock import Clock
from workflows.tasks import DONE_STATUSES, TaskBook, TaskSpec, _Task

with workflow.unsafe.imports_passed_through():
    from temporalio.common import SearchAttributeKey

    from activities.types import (
        ActivityName,
        ApplyBudgetInput,
        ApplyCalibrationInput,
        BroadcastSignalInput,
        BroadcastSignalResult,
        BuildPrefillInput,
        CloseCycleInput,
        CycleProgress,
        CycleProgressInput,
        LaunchParticipantsInput,
        LaunchParticipantsResult,
        RecordCycleInput,
        SnapshotParticipantsInput,
        SnapshotParticipantsResult,
        SyncPopulationInput,
        SyncPopulationResult,
        SyncResultsInput,
    )
    from definitions.durations import add_calendar, parse_duration, resolve_point
    from definitions.models import (
        EvaluationPhase,
        GoalSettingPhase,
        ResultsPhase,
    )
    from definitions.pinned import PinnedDefinition
    from workflows.messages import (
        CancelCycleInput,
        CancelParticipantInput,
        ClosePhaseInput,
        ControlResult,
        CycleInput,
        CycleState,
        CycleStatus,
        CycleTaskState,
        ExtendDeadlineInput,
        GateSignal,
        MigrateDefinitionInput,
        MigrateSignal,
        PhaseControlSignal,
        SearchAttributeNames,
        SubmitTaskInput,
        SubmitTaskResult,
        WithdrawSignal,
        cycle_workflow_id,
        group_task_id,
    )

# Continue-as-new well before Temporal's 10,240-event warning.
HISTORY_EVENTS_BEFORE_CONTINUE = 4_000
DEFINITION_KEY = SearchAttributeKey.for_keyword(SearchAttributeNames.DEFINITION)
PHASE_KEY = SearchAttributeKey.for_keyword(SearchAttributeNames.PHASE)


@workflow.defn(name="CycleWorkflow")
class CycleWorkflow:
    @workflow.init
    def __init__(self, input: CycleInput) -> None:
        self.input = input
        self.pinned: PinnedDefinition = input.pinned
        self.clock = Clock(input.clock)
        state = input.state or CycleState()
        self.launched = state.launched
        self.groups: dict[str, int] = dict(state.groups)
        self.released: set[str] = set(state.gates_released)
        self.groups_open: set[str] = set(state.groups_open)
        self.due_overrides: dict[str, datetime] = dict(state.phase_due_overrides)
        self.closed_phases: set[str] = set(state.closed_phases)
        self.polls = state.polls
        self.last_population_sync = state.last_population_sync
        self.cancelled = state.cancelled
        self.progress: CycleProgress | None = state.progress
        self.run_status: Literal["launching", "running", "completed", "cancelled"] = (
            "running" if self.launched else "launching"
        )
        self.current_phase: str | None = None
        self.book = TaskBook(self.clock, self._form_schema, local_activities=input.local_activities)
        self.book.on_recorded = self._wake
        self.task_groups: dict[str, str] = {}
        self.task_titles: dict[str, str] = {}
        for carried in state.open_tasks:
            spec = self._group_spec(
                carried.task.task_id,
                carried.task.phase_id,
                carried.task.kind,
                carried.task.form_id,
                carried.task.assignee_id,
                carried.title,
                carried.task.due_at,
            )
            self.book.restore(spec, carried.task, carried.payload)
            self.task_groups[spec.task_id] = carried.group
            self.task_titles[spec.task_id] = carried.title
        self.wake = 0

    # -- the main loop ---------------------------------------------------------------------

    @workflow.run
    async def run(self, input: CycleInput) -> CycleStatus:
        if not self.launched:
            await self._launch()
        self.run_status = "running"
        while True:
            self.book.raise_failure()
            if self.cancelled:
                break
            await self._tick()
            if self._finished():
                break
            if self._should_continue_as_new():
                await self.book.quiesce()
                workflow.continue_as_new(self._continue_input())
            await self._sleep()
        final: Literal["completed", "cancelled"] = "cancelled" if self.cancelled else "completed"
        await self.book.activity(
            ActivityName.CLOSE_CYCLE, CloseCycleInput(cycle_id=self.cycle_id, status=final)
        )
        await self.book.activity(ActivityName.RECORD_CYCLE, self._record(final))
        self.run_status = final
        await self.book.quiesce()
        return self._status()

    def _wake(self) -> None:
        self.wake += 1

    @property
    def cycle_id(self) -> str:
        return self.input.cycle_id

    @property
    def definition(self) -> Any:
        return self.pinned.definition

    def _record(self, status: Any) -> RecordCycleInput:
        start = self.clock.spec.nominal_start
        return RecordCycleInput(
            cycle_id=self.cycle_id,
            definition_ref=self.pinned.ref,
            sha256=self.pinned.sha256,
            nominal_start=start,
            nominal_end=add_calendar(start, self.definition.calendar.length),
            status=status,
            org_objectives=self.input.org_objectives,
            launched_by=self.input.launched_by,
        )

    async def _launch(self) -> None:
        await self.book.activity(ActivityName.RECORD_CYCLE, self._record("running"))
        snapshot: SnapshotParticipantsResult = await self.book.activity(
            ActivityName.SNAPSHOT_PARTICIPANTS,
            SnapshotParticipantsInput(
                cycle_id=self.cycle_id,
                selection=self.definition.participants,
                as_of=self.clock.now().date(),
            ),
            SnapshotParticipantsResult,
        )
        self.groups = dict(snapshot.groups)
        offset: int | None = 0
        while offset is not None:
            batch: LaunchParticipantsResult = await workflow.execute_activity(
                ActivityName.LAUNCH_PARTICIPANTS,
                self._launch_input(offset=offset),
                result_type=LaunchParticipantsResult,
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(seconds=60),
            )
            offset = batch.next_offset
        self.launched = True
        self.last_population_sync = self.clock.now()

    def _launch_input(self, **changes: Any) -> LaunchParticipantsInput:
        return LaunchParticipantsInput(
            cycle_id=self.cycle_id,
            pinned=self.pinned,
            clock=self.clock.spec,
            limit=self.input.launch_batch_size,
            hr_admins=self.hr_admins,
            use_search_attributes=self.input.use_search_attributes,
            local_activities=self.input.local_activities,
            **changes,
        )

    @property
    def hr_admins(self) -> tuple[str, ...]:
        admins = tuple(self.definition.roles.hr_admins)
        if not admins and self.input.launched_by:
            admins = (self.input.launched_by,)
        return admins

    def _finished(self) -> bool:
        progress = self.progress
        if progress is None:
            return False
        if progress.participants == 0:
            return True
        return progress.active == 0

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > HISTORY_EVENTS_BEFORE_CONTINUE
        )

    def _continue_input(self) -> CycleInput:
        carried = tuple(
            CycleTaskState(
                task=task.view(),
                group=self.task_groups[task_id],
                title=self.task_titles[task_id],
                payload=task.payload,
            )
            for task_id, task in self.book.tasks.items()
        )
        state = CycleState(
            launched=self.launched,
            groups=self.groups,
            gates_released=tuple(sorted(self.released)),
            groups_open=tuple(sorted(self.groups_open)),
            phase_due_overrides=self.due_overrides,
            closed_phases=tuple(sorted(self.closed_phases)),
            polls=self.polls,
            last_population_sync=self.last_population_sync,
            cancelled=self.cancelled,
            open_tasks=carried,
            progress=self.progress,
        )
        return self.input.model_copy(update={"pinned": self.pinned, "state": state})

    async def _sleep(self) -> None:
        wake_at = self._next_wake()
        marker = self.wake
        delay = max(self.clock.until(wake_at), timedelta(seconds=self.input.min_poll_seconds))
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self.wake != marker, timeout=delay)

    def _next_wake(self) -> datetime:
        now = self.clock.now()
        boundaries = [
            opens for phase in self.definition.phases if (opens := self._window(phase)[0]) > now
        ]
        next_boundary = min(boundaries, default=None)
        sync_at = (self.last_population_sync or now) + parse_duration(
            self.input.population_sync_every
        )
        if self._armed():
            return now + parse_duration(self.input.poll_every)
        return min(b for b in (next_boundary, sync_at) if b is not None)

    def _armed(self) -> bool:
        """Polling is needed while a gate could open or the cycle could end."""
        now = self.clock.now()
        phases = self.definition.phases
        if all(self._window(phase)[0] <= now for phase in phases):
            return True
        for phase in phases:
            if self._window(phase)[0] > now or phase.id in self.closed_phases:
                continue
            gate = self._gate_of(phase)
            if gate and not all(f"{gate}:{phase.id}:{g}" in self.released for g in self.groups):
                return True
        return False

    def _window(self, phase: Any) -> tuple[datetime, datetime]:
        start = self.clock.spec.nominal_start
        opens = resolve_point(start, phase.window.opens)
        return opens, self.due_overrides.get(phase.id) or resolve_point(start, phase.window.due)

    @staticmethod
    def _gate_of(phase: Any) -> str | None:
        if isinstance(phase, GoalSettingPhase):
            department = phase.objectives.department
            return "objectives" if department and department.source == "task" else None
        if isinstance(phase, EvaluationPhase):
            calibration = phase.calibration
            return "calibration" if calibration and calibration.enabled else None
        if isinstance(phase, ResultsPhase):
            return "results"
        return None

    # -- one poll ------------------------------------------------------------------------

    async def _tick(self) -> None:
        self.polls += 1
        phase_ids = tuple(phase.id for phase in self.definition.phases)
        self.progress = await self.book.activity(
            ActivityName.CYCLE_PROGRESS,
            CycleProgressInput(cycle_id=self.cycle_id, phase_ids=phase_ids),
            CycleProgress,
        )
        await self._sync_population()
        now = self.clock.now()
        current = [p for p in self.definition.phases if self._window(p)[0] <= now]
        if current and current[-1].id != self.current_phase:
            self.current_phase = current[-1].id
            if self.input.use_search_attributes:
                workflow.upsert_search_attributes([PHASE_KEY.value_set(self.current_phase)])
        for phase in current:
            if phase.id in self.closed_phases:
                continue
            gate = self._gate_of(phase)
            if gate == "objectives":
                await self._open_objectives(phase)
            elif gate in ("calibration", "results"):
                await self._open_when_group_ready(phase, gate)
        await self._process_group_tasks()

    async def _sync_population(self) -> None:
        now = self.clock.now()
        every = parse_duration(self.input.population_sync_every)
        if self.last_population_sync is not None and now < self.last_population_sync + every:
            return
        self.last_population_sync = now
        change: SyncPopulationResult = await self.book.activity(
            ActivityName.SYNC_POPULATION,
            SyncPopulationInput(
                cycle_id=self.cycle_id, selection=self.definition.participants, as_of=now.date()
            ),
            SyncPopulationResult,
        )
        if change.joined:
            await workflow.execute_activity(
                ActivityName.LAUNCH_PARTICIPANTS,
                self._launch_input(only=change.joined, joined_late=True),
                result_type=LaunchParticipantsResult,
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(seconds=60),
            )
        if change.left:
            await self._broadcast(
                "withdraw",
                WithdrawSignal(reason="left the organisation", status="left"),
                employee_ids=change.left,
            )

    async def _open_objectives(self, phase: GoalSettingPhase) -> None:
        source = phase.objectives.department
        assert source is not None
        assert source.form is not None
        for group in sorted(self.groups):
            key = f"objectives:{phase.id}:{group}"
            if key in self.groups_open:
                continue
            self.groups_open.add(key)
            assignee = self._group_owner(group, "hrbp")
            await self._open_group_task(
                phase,
                "department_objectives",
                source.form,
                group,
                assignee,
                f"Set the {group} objectives",
            )

    async def _open_when_group_ready(self, phase: Any, gate: str) -> None:
        progress = self.progress
        assert progress is not None
        waiting = progress.groups_waiting.get(phase.id, {})
        active = progress.groups_active.get(phase.id, {})
        for group, count in sorted(waiting.items()):
            key = f"{gate}:{phase.id}:{group}"
            if count == 0 or count != active.get(group, 0):
                continue
            if key in self.released:
                # A late joiner reached a gate its group already passed: let it through.
                await self._broadcast(
                    "gate_opened", GateSignal(gate=gate, phase_id=phase.id), group=group
                )
                continue
            if key in self.groups_open:
                continue
            self.groups_open.add(key)
            if gate == "calibration":
                calibration = phase.calibration
                form = calibration.form or CALIBRATION
                assignee = self._group_owner(group, calibration.calibrators[0])
                await self._open_group_task(
                    phase, "calibration", form, group, assignee, f"Calibrate {group}"
                )
            else:
                await self.book.activity(
                    ActivityName.APPLY_BUDGET,
                    ApplyBudgetInput(cycle_id=self.cycle_id, phase=phase, group=group),
                )
                form = phase.approval.form or RESULTS_APPROVAL
                assignee = self._group_owner(group, phase.approval.by)
                await self._open_group_task(
                    phase,
                    "results_approval",
                    form,
                    group,
                    assignee,
                    f"Approve the results of {group}",
                )

    def _group_owner(self, group: str, role: str) -> str:
        if role == "hrbp":
            partners = self.definition.roles.hrbp.get(group, ())
            if partners:
                return str(partners[0])
        if self.hr_admins:
            return self.hr_admins[0]
        raise ApplicationError(
            "the definition names no HR admin and the cycle has no launcher to fall back to",
            type="InvalidInput",
            non_retryable=True,
        )

    def _form_schema(self, form_id: str) -> dict[str, Any]:
        schema = self.pinned.form_schemas.get(form_id) or BUILTIN_FORMS.get(form_id)
        if schema is None:
            raise ApplicationError(
                f"unknown form {form_id}", type="InvalidInput", non_retryable=True
            )
        return schema

    def _group_spec(
        self,
        task_id: str,
        phase_id: str,
        kind: str,
        form_id: str,
        assignee: str,
        title: str,
        due_at: datetime,
    ) -> TaskSpec:
        return TaskSpec(
            task_id=task_id,
            cycle_id=self.cycle_id,
            workflow_id=cycle_workflow_id(self.cycle_id),
            subject_id=f"@{task_id.split('/@', 1)[1].split('/', 1)[0]}",
            assignee_id=assignee,
            phase_id=phase_id,
            kind=kind,
            form_id=form_id,
            title=title,
            due_at=due_at,
        )

    async def _open_group_task(
        self, phase: Any, kind: str, form_id: str, group: str, assignee: str, title: str
    ) -> None:
        task_id = group_task_id(self.cycle_id, phase.id, kind, group)
        prefill: dict[str, Any] = await self.book.activity(
            ActivityName.BUILD_PREFILL,
            BuildPrefillInput(
                cycle_id=self.cycle_id, employee_id=None, phase_id=phase.id, kind=kind, group=group
            ),
            dict,
        )
        _, due = self._window(phase)
        spec = self._group_spec(
            task_id,
            phase.id,
            kind,
            form_id,
            assignee,
            title,
            max(due, self.clock.now() + timedelta(days=7)),
        )
        spec.prefill = prefill
        self.task_groups[task_id] = group
        self.task_titles[task_id] = title
        await self.book.open(spec)

    async def _process_group_tasks(self) -> None:
        for task_id, task in list(self.book.tasks.items()):
            if task.status not in DONE_STATUSES:
                continue
            group = self.task_groups[task_id]
            if task.status == "submitted":
                handled = await self._apply_group_decision(task, group)
                if not handled:
                    continue
            del self.book.tasks[task_id]
            self.task_groups.pop(task_id, None)
            self.task_titles.pop(task_id, None)

    async def _apply_group_decision(self, task: _Task, group: str) -> bool:
        phase_id = task.spec.phase_id
        payload = task.payload or {}
        kind = task.spec.kind
        if kind == "department_objectives":
            await self._release("objectives", phase_id, group)
        elif kind == "calibration":
            await self.book.activity(
                ActivityName.APPLY_CALIBRATION,
                ApplyCalibrationInput(
                    cycle_id=self.cycle_id,
                    phase_id=phase_id,
                    group=group,
                    task_id=task.spec.task_id,
                    calibrator_id=task.assignee_id,
                    adjustments=tuple(payload.get("adjustments", ())),
                ),
            )
            await self._release("calibration", phase_id, group)
        elif kind == "results_approval":
            if payload.get("decision") != "approve":
                # Returned: the HRBP and HR revise proposals, then HR decides again.
                await self.book.reopen(task, None, str(payload.get("comments") or "returned"))
                return False
            await workflow.execute_activity(
                ActivityName.SYNC_RESULTS,
                SyncResultsInput(
                    cycle_id=self.cycle_id,
                    group=group,
                    approved_by=task.assignee_id,
                    targets=self.definition.phase(phase_id).hris_sync.targets,
                ),
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(seconds=60),
            )
            await self._release("results", phase_id, group)
        return True

    async def _release(self, gate: str, phase_id: str, group: str) -> None:
        self.released.add(f"{gate}:{phase_id}:{group}")
        await self._broadcast("gate_opened", GateSignal(gate=gate, phase_id=phase_id), group=group)

    async def _broadcast(
        self,
        signal: str,
        payload: Any,
        *,
        employee_ids: tuple[str, ...] | None = None,
        group: str | None = None,
    ) -> BroadcastSignalResult:
        result: BroadcastSignalResult = await workflow.execute_activity(
            ActivityName.BROADCAST_SIGNAL,
            BroadcastSignalInput(
                cycle_id=self.cycle_id,
                signal=signal,
                payload=payload.model_dump(mode="json"),
                employee_ids=employee_ids,
                group=group,
            ),
            result_type=BroadcastSignalResult,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(seconds=60),
        )
        return result

    # -- group tasks: submissions ----------------------------------------------------------

    @workflow.update
    async def submit_task(self, submission: SubmitTaskInput) -> SubmitTaskResult:
        result = await self.book.accept_submit(submission)
        self.wake += 1
        return result

    @submit_task.validator
    def _validate_submit(self, submission: SubmitTaskInput) -> None:
        self.book.validate_submit(submission)

    # -- HR controls ---------------------------------------------------------------------

    def _phase_or_fail(self, phase_id: str) -> Any:
        try:
            return self.definition.phase(phase_id)
        except KeyError:
            raise ApplicationError(
                f"no phase {phase_id} in {self.pinned.ref}", type="NotFound", non_retryable=True
            ) from None

    def _require_running(self) -> None:
        if self.cancelled or self.run_status in ("completed", "cancelled"):
            raise ApplicationError("the cycle is over", type="CycleOver", non_retryable=True)

    @workflow.update
    async def extend_deadline(self, request: ExtendDeadlineInput) -> ControlResult:
        self.due_overrides[request.phase_id] = request.new_due
        result = await self._broadcast(
            "phase_control",
            PhaseControlSignal(
                action="extend",
                phase_id=request.phase_id,
                new_due=request.new_due,
                reason=request.reason,
            ),
        )
        for task in self.book.tasks.values():
            if task.spec.phase_id == request.phase_id and task.status not in DONE_STATUSES:
                await self.book.set_due(task, request.new_due, request.reason)
        self.wake += 1
        return ControlResult(
            detail=f"{request.phase_id} now due {request.new_due.isoformat()}",
            affected=result.signalled,
        )

    @extend_deadline.validator
    def _validate_extend(self, request: ExtendDeadlineInput) -> None:
        self._require_running()
        self._phase_or_fail(request.phase_id)
        if request.phase_id in self.closed_phases:
            raise ApplicationError("the phase is closed", type="PhaseOver", non_retryable=True)
        if request.new_due <= self.clock.now():
            raise ApplicationError(
                "the new due date must be in the future", type="InvalidInput", non_retryable=True
            )

    @workflow.update
    async def close_phase(self, request: ClosePhaseInput) -> ControlResult:
        self.closed_phases.add(request.phase_id)
        result = await self._broadcast(
            "phase_control",
            PhaseControlSignal(action="close", phase_id=request.phase_id, reason=request.reason),
        )
        for task in list(self.book.tasks.values()):
            if task.spec.phase_id == request.phase_id:
                await self.book.close(task, "closed", request.reason)
        self.wake += 1
        return ControlResult(detail=f"{request.phase_id} closed", affected=result.signalled)

    @close_phase.validator
    def _validate_close(self, request: ClosePhaseInput) -> None:
        self._require_running()
        self._phase_or_fail(request.phase_id)
        if request.phase_id in self.closed_phases:
            raise ApplicationError(
                "the phase is already closed", type="PhaseOver", non_retryable=True
            )

    @workflow.update
    async def cancel_participant(self, request: CancelParticipantInput) -> ControlResult:
        result = await self._broadcast(
            "withdraw",
            WithdrawSignal(reason=request.reason, status="cancelled"),
            employee_ids=(request.employee_id,),
        )
        self.wake += 1
        return ControlResult(
            accepted=result.signalled == 1,
            detail="cancelled" if result.signalled else "no running participant with that id",
            affected=result.signalled,
        )

    @cancel_participant.validator
    def _validate_cancel_participant(self, request: CancelParticipantInput) -> None:
        self._require_running()

    @workflow.update
    async def cancel_cycle(self, request: CancelCycleInput) -> ControlResult:
        self.cancelled = True
        result = await self._broadcast(
            "withdraw", WithdrawSignal(reason=request.reason, status="cancelled")
        )
        for task in list(self.book.tasks.values()):
            await self.book.close(task, "cancelled", request.reason)
        self.wake += 1
        return ControlResult(detail="cycle cancelled", affected=result.signalled)

    @cancel_cycle.validator
    def _validate_cancel_cycle(self, request: CancelCycleInput) -> None:
        self._require_running()

    @workflow.update
    async def migrate_definition(self, request: MigrateDefinitionInput) -> ControlResult:
        self.pinned = request.pinned
        if self.input.use_search_attributes:
            workflow.upsert_search_attributes([DEFINITION_KEY.value_set(request.pinned.ref)])
        workflow.upsert_memo({"definition": request.pinned.ref})
        result = await self._broadcast("migrate", MigrateSignal(pinned=request.pinned))
        self.wake += 1
        return ControlResult(detail=f"now on {request.pinned.ref}", affected=result.signalled)

    @migrate_definition.validator
    def _validate_migrate(self, request: MigrateDefinitionInput) -> None:
        self._require_running()
        problems = migration_problems(
            self.pinned, request.pinned, started=self._started_phase_ids()
        )
        if problems:
            raise ApplicationError(
                "cannot migrate: " + "; ".join(problems),
                problems,
                type="MigrationRefused",
                non_retryable=True,
            )

    def _started_phase_ids(self) -> list[str]:
        now = self.clock.now()
        return [p.id for p in self.definition.phases if self._window(p)[0] <= now]

    # -- queries -------------------------------------------------------------------------

    @workflow.query
    def status(self) -> CycleStatus:
        return self._status()

    def _status(self) -> CycleStatus:
        phases: dict[str, dict[str, Any]] = {}
        counts = self.progress.phases if self.progress else {}
        for phase in self.definition.phases:
            opens, due = self._window(phase)
            phases[phase.id] = {
                "kind": phase.kind,
                "opens": opens.isoformat(),
                "due": due.isoformat(),
                "closed": phase.id in self.closed_phases,
                "counts": counts[phase.id].model_dump() if phase.id in counts else {},
            }
        return CycleStatus(
            cycle_id=self.cycle_id,
            definition_ref=self.pinned.ref,
            status=self.run_status,
            nominal_now=self.clock.now(),
            phases=phases,
            progress=self.progress,
            gates_released=tuple(sorted(self.released)),
            open_group_tasks=self.book.views(),
        )


def migration_problems(
    current: PinnedDefinition, proposed: PinnedDefinition, *, started: list[str]
) -> list[str]:
    """Why a running cycle may not move to `proposed`; empty when it may.

    Allowed when every phase that has started is unchanged (and so are the forms it
    uses and the calendar); only the phases still ahead may differ.
    """
    old, new = current.definition, proposed.definition
    problems: list[str] = []
    if new.metadata.name != old.metadata.name:
        problems.append(f"{proposed.ref} is not a version of {old.metadata.name}")
    if new.metadata.version <= old.metadata.version:
        problems.append(f"{proposed.ref} is not newer than {current.ref}")
    if new.calendar != old.calendar:
        problems.append("the calendar may not change once a cycle runs")
    new_phases = {phase.id: phase for phase in new.phases}
    new_order = [phase.id for phase in new.phases]
    if new_order[: len(started)] != started:
        problems.append(f"the phases that have started ({', '.join(started)}) must stay first")
    for phase_id in started:
        before = old.phase(phase_id)
        after = new_phases.get(phase_id)
        if after is None:
            problems.append(f"phase {phase_id} has started and may not be removed")
            continue
        if after != before:
            problems.append(f"phase {phase_id} has started and may not change")
        for form_id in _form_ids(before.model_dump()):
            if current.form_schemas.get(form_id) != proposed.form_schemas.get(form_id):
                problems.append(f"form {form_id} is used by started phase {phase_id}")
    return problems


def _form_ids(dumped: Any) -> set[str]:
    """Form ids named anywhere in a dumped phase (keys `form`, and the `forms` block)."""
    found: set[str] = set()
    if isinstance(dumped, dict):
        for key, value in dumped.items():
            if key in ("form",) and isinstance(value, str):
                found.add(value)
            elif key == "forms" and isinstance(value, dict):
                found.update(v for v in value.values() if isinstance(v, str))
            else:
                found |= _form_ids(value)
    elif isinstance(dumped, list | tuple):
        for item in dumped:
            found |= _form_ids(item)
    return found
