"""What a phase module sees of its participant workflow.

Phase modules (`workflows/phases/*`) are plain async functions `run(ctx, phase)`; they
open tasks, wait on them and gates, and call activities only through this context, so
the shape of the participant workflow never changes when a phase gains depth.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

from workflows.builtin_forms import BUILTIN_FORMS
from workflows.clock import Clock
from workflows.tasks import DONE_STATUSES, TaskBook, TaskSpec, _Task

with workflow.unsafe.imports_passed_through():
    from activities.types import (
        ActivityName,
        BuildPrefillInput,
        ParticipantProfile,
        PhaseStatus,
        RecordPhaseInput,
    )
    from definitions.durations import resolve_point
    from definitions.models import CycleDefinition, Escalation, Reminder, Role
    from definitions.pinned import PinnedDefinition
    from workflows.messages import WithdrawSignal, participant_workflow_id, task_id

# A late joiner or a reopened task always gets at least this long.
MINIMUM_TASK_TIME = timedelta(days=7)

ONE_WRITE_PHASE_START = "one-write-phase-start"
"""Patch: a phase's "active" record, its first prefill and its first task are written by
one local activity instead of three (`begin_phase`, `open_task(prefill_from=...)`)."""


class Withdrawn(Exception):
    """The participant left or was cancelled; unwinds the phase being run."""


class ParticipantContext:
    def __init__(
        self,
        *,
        cycle_id: str,
        profile: ParticipantProfile,
        pinned: PinnedDefinition,
        clock: Clock,
        hr_admins: tuple[str, ...],
        local_activities: bool = True,
    ) -> None:
        self.cycle_id = cycle_id
        self.profile = profile
        self.pinned = pinned
        self.clock = clock
        self.hr_admins = hr_admins
        self.book = TaskBook(clock, self._form_schema, local_activities=local_activities)
        self.gates: set[tuple[str, str]] = set()
        self.due_overrides: dict[str, datetime] = {}
        self.closed_phases: set[str] = set()
        self.withdrawn: WithdrawSignal | None = None
        self.rating: int | None = None
        self.score: float | None = None
        self.current_phase: str | None = None
        self.phase_status: str = "pending"
        self._unwritten_phase: RecordPhaseInput | None = None

    # -- definition and time ----------------------------------------------------------

    @property
    def definition(self) -> CycleDefinition:
        return self.pinned.definition

    @property
    def workflow_id(self) -> str:
        return participant_workflow_id(self.cycle_id, self.profile.employee_id)

    @property
    def employee_id(self) -> str:
        return self.profile.employee_id

    def _form_schema(self, form_id: str) -> dict[str, Any]:
        schema = self.pinned.form_schemas.get(form_id) or BUILTIN_FORMS.get(form_id)
        if schema is None:
            raise KeyError(form_id)
        return schema

    def window(self, phase: Any) -> tuple[datetime, datetime]:
        start = self.clock.spec.nominal_start
        opens = resolve_point(start, phase.window.opens)
        due = self.due_overrides.get(phase.id) or resolve_point(start, phase.window.due)
        return opens, due

    def task_due(self, phase: Any) -> datetime:
        """The phase's due date, but never sooner than MINIMUM_TASK_TIME from now."""
        _, due = self.window(phase)
        return max(due, self.clock.now() + MINIMUM_TASK_TIME)

    # -- people ------------------------------------------------------------------------

    def role_id(self, role: Role) -> str | None:
        """Who stands behind a role for this participant; HR admins are the fallback."""
        if role == "manager" and self.profile.manager_id:
            return self.profile.manager_id
        if role == "skip_level" and self.profile.skip_level_id:
            return self.profile.skip_level_id
        if role == "hrbp":
            partners = self.definition.roles.hrbp.get(self.profile.department, ())
            if partners:
                return partners[0]
        return self.hr_admins[0] if self.hr_admins else None

    @property
    def manager_id(self) -> str | None:
        return self.profile.manager_id

    # -- control flow -----------------------------------------------------------------

    async def activity(self, name: str, arg: Any, result_type: type[Any] | None = None) -> Any:
        return await self.book.activity(name, arg, result_type)

    def check(self) -> None:
        if self.withdrawn is not None:
            raise Withdrawn(self.withdrawn.reason)

    def closed(self, phase_id: str) -> bool:
        return phase_id in self.closed_phases

    async def record_phase(
        self, phase_id: str, status: PhaseStatus, *, participant_status: Any = None
    ) -> None:
        self._unwritten_phase = None  # this record supersedes it
        self.current_phase = phase_id
        self.phase_status = status
        await self.activity(
            ActivityName.RECORD_PHASE,
            self._phase_record(phase_id, status, participant_status=participant_status),
        )

    def begin_phase(self, phase_id: str) -> None:
        """The phase is active from now; its record goes out with the phase's first task
        (or before the phase first waits), saving a write per participant and phase."""
        self.current_phase = phase_id
        self.phase_status = "active"
        self._unwritten_phase = self._phase_record(phase_id, "active")

    async def write_phase_record(self) -> None:
        """Write a record `begin_phase` held back; call before waiting on anything."""
        record, self._unwritten_phase = self._unwritten_phase, None
        if record is not None:
            await self.activity(ActivityName.RECORD_PHASE, record)

    def _phase_record(
        self, phase_id: str, status: PhaseStatus, *, participant_status: Any = None
    ) -> RecordPhaseInput:
        return RecordPhaseInput(
            cycle_id=self.cycle_id,
            employee_id=self.employee_id,
            group=self.profile.department,
            phase_id=phase_id,
            status=status,
            at=self.clock.now(),
            participant_status=participant_status,
        )

    async def sleep_until(self, nominal: datetime) -> None:
        await self.write_phase_record()
        await self.clock.sleep_until(nominal)

    async def gate(self, gate: str, phase_id: str) -> bool:
        """Wait for the cycle to open an org-level gate; False if the phase was closed."""
        await self.write_phase_record()
        await workflow.wait_condition(
            lambda: (
                (gate, phase_id) in self.gates
                or self.withdrawn is not None
                or phase_id in self.closed_phases
            )
        )
        self.check()
        return (gate, phase_id) in self.gates

    async def prefill(
        self, kind: str, phase_id: str, sections: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.activity(
            ActivityName.BUILD_PREFILL, self.prefill_source(kind, phase_id, sections), dict
        )
        return result

    def prefill_source(
        self, kind: str, phase_id: str, sections: tuple[str, ...] = ()
    ) -> BuildPrefillInput:
        """What a task's prefill is built from, for `open_task(prefill_from=...)`."""
        return BuildPrefillInput(
            cycle_id=self.cycle_id,
            employee_id=self.employee_id,
            phase_id=phase_id,
            kind=kind,
            sections=sections,
        )

    async def open_task(
        self,
        phase: Any,
        *,
        kind: str,
        form_id: str,
        assignee_id: str,
        title: str,
        seq: int = 1,
        due_at: datetime | None = None,
        prefill: dict[str, Any] | None = None,
        prefill_from: BuildPrefillInput | None = None,
        reminders: tuple[Reminder, ...] | None = None,
        escalation: Escalation | None = None,
        rules: Any = None,
        decline_schema: dict[str, Any] | None = None,
    ) -> _Task:
        self.check()
        escalation = escalation if escalation is not None else phase.escalation
        spec = TaskSpec(
            task_id=task_id(self.cycle_id, self.employee_id, phase.id, kind, seq),
            cycle_id=self.cycle_id,
            workflow_id=self.workflow_id,
            subject_id=self.employee_id,
            assignee_id=assignee_id,
            phase_id=phase.id,
            kind=kind,
            form_id=form_id,
            title=title,
            due_at=due_at or self.task_due(phase),
            reminders=phase.reminders if reminders is None else reminders,
            escalation=escalation,
            escalate_to_id=self.role_id(escalation.to) if escalation else None,
            prefill=prefill or {},
            rules=rules,
            decline_schema=decline_schema,
        )
        phase_started = None
        if spec.task_id not in self.book.tasks:
            phase_started, self._unwritten_phase = self._unwritten_phase, None
        return await self.book.open(spec, prefill_from=prefill_from, phase_started=phase_started)

    async def wait(self, *tasks: _Task, until: datetime | None = None, stop: Any = None) -> None:
        await self.write_phase_record()
        await self.book.wait([t.spec.task_id for t in tasks], until=until, stop=stop)
        self.check()

    async def task(self, phase: Any, **kwargs: Any) -> _Task:
        """Open a task and wait until it is submitted, closed or cancelled."""
        opened = await self.open_task(phase, **kwargs)
        await self.wait(opened)
        return opened

    @staticmethod
    def submitted(task: _Task) -> bool:
        return task.status == "submitted"

    async def close_phase_tasks(self, phase_id: str, reason: str) -> int:
        closed = 0
        for task in list(self.book.tasks.values()):
            if task.spec.phase_id == phase_id and task.status not in DONE_STATUSES:
                await self.book.close(task, "closed", reason)
                closed += 1
        self.book.touch()
        return closed

    async def cancel_open_tasks(self, reason: str) -> None:
        for task in list(self.book.tasks.values()):
            if task.status not in DONE_STATUSES:
                await self.book.close(task, "cancelled", reason)
        self.book.touch()
