"""Workflow inputs, and the payloads of their updates, signals and queries.

Pydantic models only (no I/O), shared by the workflows, the API and the tests. One input
model per workflow, update and signal, so that fields can be added without breaking
running workflows (new fields always get defaults).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from activities.types import ClockSpec, CycleProgress, ParticipantProfile, TaskStatus
from definitions.pinned import PinnedDefinition


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- ids --------------------------------------------------------------------------------


def cycle_workflow_id(cycle_id: str) -> str:
    return f"cycle/{cycle_id}"


def participant_workflow_id(cycle_id: str, employee_id: str) -> str:
    return f"cycle/{cycle_id}/{employee_id}"


def task_id(cycle_id: str, subject_id: str, phase_id: str, kind: str, seq: int = 1) -> str:
    """Deterministic task ids: a retried or replayed open never makes a second task."""
    suffix = f"-{seq}" if seq > 1 else ""
    return f"{cycle_id}/{subject_id}/{phase_id}/{kind}{suffix}"


def group_task_id(cycle_id: str, phase_id: str, kind: str, group: str) -> str:
    return f"{cycle_id}/@{group}/{phase_id}/{kind}"


class SearchAttributeNames:
    """Custom search attributes (Keyword) the dev server is started with. No personal data."""

    CYCLE = "PerfloopCycle"
    PHASE = "PerfloopPhase"
    DEFINITION = "PerfloopDefinition"
    ALL = (CYCLE, PHASE, DEFINITION)


# --- workflow inputs --------------------------------------------------------------------


class CycleInput(Message):
    cycle_id: str
    pinned: PinnedDefinition
    clock: ClockSpec
    launched_by: str | None = None
    org_objectives: tuple[dict[str, Any], ...] = ()
    launch_batch_size: int = 500
    poll_every: str = Field(
        default="PT6H", description="Nominal time between read-model polls while a gate is armed."
    )
    min_poll_seconds: float = Field(
        default=1.0, description="Real floor between polls, for accelerated clocks."
    )
    population_sync_every: str = Field(
        default="P7D", description="Nominal time between HRIS re-syncs (joiners, leavers)."
    )
    use_search_attributes: bool = True
    local_activities: bool = Field(
        default=True,
        description="Short store writes as local activities. Off only for tests that run "
        "with max_cached_workflows=0, which livelocks local activities in Temporal's core "
        "(temporalio/sdk-rust#1482).",
    )
    # Carried across continue-as-new; empty on first start.
    state: CycleState | None = None


class CycleState(Message):
    """What a cycle carries across continue-as-new."""

    launched: bool = False
    groups: dict[str, int] = Field(default_factory=dict)
    gates_released: tuple[str, ...] = ()
    groups_open: tuple[str, ...] = ()
    phase_due_overrides: dict[str, datetime] = Field(default_factory=dict)
    closed_phases: tuple[str, ...] = ()
    polls: int = 0
    last_population_sync: datetime | None = None
    cancelled: bool = False
    open_tasks: tuple[CycleTaskState, ...] = ()
    progress: CycleProgress | None = None


class ParticipantInput(Message):
    cycle_id: str
    profile: ParticipantProfile
    pinned: PinnedDefinition
    clock: ClockSpec
    joined_late: bool = False
    use_search_attributes: bool = True
    hr_admins: tuple[str, ...] = ()
    local_activities: bool = True


# --- tasks ------------------------------------------------------------------------------


class TaskView(Message):
    """A task as a workflow sees it; the store's task row is the read model of this."""

    task_id: str
    phase_id: str
    kind: str
    form_id: str
    assignee_id: str
    subject_id: str
    status: TaskStatus
    due_at: datetime
    opened_at: datetime
    submitted_at: datetime | None = None
    revision: int = 0


class CycleTaskState(Message):
    """A group task (objectives, calibration, results approval) held by the cycle."""

    task: TaskView
    group: str
    title: str
    payload: dict[str, Any] | None = None


class SubmitTaskInput(Message):
    task_id: str
    submitter_id: str
    payload: dict[str, Any]


class SubmitTaskResult(Message):
    task_id: str
    status: TaskStatus
    late: bool
    accepted_at: datetime
    revision: int | None = None
    """The submission's revision of the task (None from workflows before it was added)."""


# --- HR controls ------------------------------------------------------------------------


class ExtendDeadlineInput(Message):
    phase_id: str
    new_due: datetime = Field(description="Nominal due date of the phase's tasks.")
    reason: str
    requested_by: str


class ClosePhaseInput(Message):
    phase_id: str
    reason: str
    requested_by: str


class ReopenTaskInput(Message):
    task_id: str
    reason: str
    requested_by: str
    new_due: datetime | None = None


class ReassignTaskInput(Message):
    task_id: str
    new_assignee_id: str
    reason: str
    requested_by: str


class CancelParticipantInput(Message):
    employee_id: str
    reason: str
    requested_by: str


class CancelCycleInput(Message):
    reason: str
    requested_by: str


class MigrateDefinitionInput(Message):
    pinned: PinnedDefinition
    requested_by: str


class ControlResult(Message):
    accepted: bool = True
    detail: str = ""
    affected: int = 0


# --- signals ------------------------------------------------------------------------------


class GateSignal(Message):
    """An org-level gate opened for this participant (objectives, calibration, results)."""

    gate: Literal["objectives", "calibration", "results"]
    phase_id: str


class PhaseControlSignal(Message):
    action: Literal["extend", "close"]
    phase_id: str
    new_due: datetime | None = None
    reason: str = ""


class WithdrawSignal(Message):
    reason: str
    status: Literal["left", "cancelled"] = "cancelled"


class MigrateSignal(Message):
    pinned: PinnedDefinition


# --- queries ------------------------------------------------------------------------------


class ParticipantStatus(Message):
    employee_id: str
    phase_id: str | None
    phase_status: str
    status: Literal["running", "completed", "left", "cancelled"]
    definition_ref: str
    tasks: tuple[TaskView, ...] = ()
    rating: int | None = None


class CycleStatus(Message):
    cycle_id: str
    definition_ref: str
    status: Literal["launching", "running", "completed", "cancelled"]
    nominal_now: datetime
    phases: dict[str, dict[str, Any]] = Field(default_factory=dict)
    progress: CycleProgress | None = None
    gates_released: tuple[str, ...] = ()
    open_group_tasks: tuple[TaskView, ...] = ()


CycleState.model_rebuild()
CycleInput.model_rebuild()
