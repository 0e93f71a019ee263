"""The contract between workflows and activities: activity names and their input and
output models, one input model per activity so fields can be added safely.

No I/O and no infrastructure imports here: workflows import this module through
`workflow.unsafe.imports_passed_through()` and call activities by name, so the
workflow sandbox never loads SQLAlchemy, HTTP clients or the Temporal client.

Times are *nominal*: business time on the cycle's calendar. Workflows convert them to
timer durations with their clock (which may be accelerated for demos).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from definitions.models import EvaluationPhase, MonitoringPhase, Participants, ResultsPhase
from definitions.pinned import PinnedDefinition


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- names --------------------------------------------------------------------------


class ActivityName:
    """Activity names; workflows call activities by these, tests mock them by these."""

    RECORD_CYCLE = "record_cycle"
    SNAPSHOT_PARTICIPANTS = "snapshot_participants"
    SYNC_POPULATION = "sync_population"
    LAUNCH_PARTICIPANTS = "launch_participants"
    BROADCAST_SIGNAL = "broadcast_signal"
    CYCLE_PROGRESS = "cycle_progress"
    RECORD_PHASE = "record_phase"
    OPEN_TASK = "open_task"
    UPDATE_TASK = "update_task"
    RECORD_SUBMISSION = "record_submission"
    BUILD_PREFILL = "build_prefill"
    NOTIFY = "notify"
    SCORE_PARTICIPANT = "score_participant"
    APPLY_CALIBRATION = "apply_calibration"
    FINAL_RATING = "final_rating"
    PROPOSE_RESULTS = "propose_results"
    APPLY_BUDGET = "apply_budget"
    SYNC_RESULTS = "sync_results"
    CLOSE_CYCLE = "close_cycle"
    MONITORING_SIGNALS = "monitoring_signals"
    RECORD_ANOMALY = "record_anomaly"
    PULL_PROGRESS = "pull_progress"
    PEER_CANDIDATES = "peer_candidates"
    ASSIGN_REVIEWERS = "assign_reviewers"
    PROPOSE_REVIEWER = "propose_reviewer"


# --- people ---------------------------------------------------------------------------


class ParticipantProfile(Message):
    """What the engine knows of a participant, snapshotted at launch. No names or pay."""

    employee_id: str
    manager_id: str | None = None
    skip_level_id: str | None = None
    department: str
    location: str | None = None
    employment_type: str = "full_time"
    hire_date: date | None = None
    direct_reports: int = 0
    level: int = 0

    def tenure_days(self, on: date) -> int:
        return (on - self.hire_date).days if self.hire_date else 0


# --- cycle-level activities -----------------------------------------------------------


class RecordCycleInput(Message):
    cycle_id: str
    definition_ref: str
    sha256: str
    nominal_start: datetime
    nominal_end: datetime
    status: Literal["running", "completed", "cancelled"]
    org_objectives: tuple[dict[str, Any], ...] = ()
    launched_by: str | None = None


class SnapshotParticipantsInput(Message):
    cycle_id: str
    selection: Participants
    as_of: date


class SnapshotParticipantsResult(Message):
    count: int
    groups: dict[str, int] = Field(description="Calibration group (department) -> head count.")


class SyncPopulationInput(Message):
    cycle_id: str
    selection: Participants
    as_of: date


class SyncPopulationResult(Message):
    joined: tuple[str, ...] = ()
    left: tuple[str, ...] = ()


class LaunchParticipantsInput(Message):
    """Start participant workflows for snapshot rows `[offset, offset+limit)` or `only`."""

    cycle_id: str
    pinned: PinnedDefinition
    clock: ClockSpec
    offset: int = 0
    limit: int = 500
    only: tuple[str, ...] | None = None
    joined_late: bool = False
    hr_admins: tuple[str, ...] = ()
    use_search_attributes: bool = True
    local_activities: bool = True


class LaunchParticipantsResult(Message):
    started: int
    already_running: int
    next_offset: int | None


class BroadcastSignalInput(Message):
    """Signal participant workflows of a cycle; `employee_ids` None means every active one."""

    cycle_id: str
    signal: str
    payload: dict[str, Any] = Field(default_factory=dict)
    employee_ids: tuple[str, ...] | None = None
    group: str | None = None


class BroadcastSignalResult(Message):
    signalled: int
    missing: int


class CycleProgressInput(Message):
    cycle_id: str
    phase_ids: tuple[str, ...]


class PhaseCounts(Message):
    pending: int = 0
    active: int = 0
    waiting: int = 0
    completed: int = 0
    skipped: int = 0


class CycleProgress(Message):
    participants: int = 0
    active: int = 0
    finished: int = 0
    phases: dict[str, PhaseCounts] = Field(default_factory=dict)
    groups_waiting: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="phase id -> group -> participants waiting at that phase's gate.",
    )
    groups_active: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="phase id -> group -> active participants who have not passed the gate.",
    )


class ApplyCalibrationInput(Message):
    cycle_id: str
    phase_id: str
    group: str
    task_id: str
    calibrator_id: str
    adjustments: tuple[dict[str, Any], ...] = ()


class ApplyBudgetInput(Message):
    cycle_id: str
    phase: ResultsPhase
    group: str


class SyncResultsInput(Message):
    cycle_id: str
    group: str
    approved_by: str
    targets: tuple[Literal["rating", "merit", "bonus", "talent_flags"], ...] = (
        "rating",
        "merit",
        "bonus",
        "talent_flags",
    )


class SyncResultsResult(Message):
    sent: int
    skipped: int
    unchanged: int = 0
    """Records a previous run already had confirmed: not sent again."""


class CloseCycleInput(Message):
    cycle_id: str
    status: Literal["completed", "cancelled"]


# --- participant-level activities -----------------------------------------------------


class ClockSpec(Message):
    """Nominal (business) time of the cycle and how fast it runs against real time."""

    nominal_start: datetime
    real_start: datetime
    scale: float = 1.0


PhaseStatus = Literal["pending", "active", "waiting", "completed", "skipped", "cancelled"]


class RecordPhaseInput(Message):
    cycle_id: str
    employee_id: str
    group: str
    phase_id: str
    status: PhaseStatus
    at: datetime
    participant_status: Literal["completed", "left", "cancelled"] | None = Field(
        default=None, description="Set on the participant's last record: it is done."
    )


TaskStatus = Literal["open", "overdue", "submitted", "closed", "cancelled"]


class BuildPrefillInput(Message):
    """Prefill of a participant's task, or of a group task when `group` is set."""

    cycle_id: str
    employee_id: str | None
    phase_id: str
    kind: str
    sections: tuple[str, ...] = ()
    group: str | None = None


class OpenTaskInput(Message):
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
    opened_at: datetime
    prefill: dict[str, Any] = Field(default_factory=dict)
    prefill_from: BuildPrefillInput | None = Field(
        default=None,
        description="Build this prefill in the same transaction; `prefill` wins on a clash.",
    )
    phase_started: RecordPhaseInput | None = Field(
        default=None,
        description="The phase record its first task opens with, in the same transaction.",
    )


class OpenTaskResult(Message):
    """What the task opened with: its whole prefill, built parts included."""

    prefill: dict[str, Any] = Field(default_factory=dict)


class UpdateTaskInput(Message):
    task_id: str
    status: TaskStatus | None = None
    due_at: datetime | None = None
    assignee_id: str | None = None
    reason: str | None = None
    at: datetime
    file_note: str | None = None
    """With a status change: also a line in the subject's performance file (an event of
    kind `<task kind>_<status>`), e.g. an acknowledgment not given in time."""


class RecordSubmissionInput(Message):
    task_id: str
    cycle_id: str
    subject_id: str
    phase_id: str
    kind: str
    submitter_id: str
    payload: dict[str, Any]
    submitted_at: datetime
    late: bool
    revision: int = 1


class NotifyInput(Message):
    """A notification; `business_key` makes a retried send a no-op."""

    business_key: str
    recipient_id: str
    kind: Literal["task_opened", "reminder", "overdue", "escalation", "coaching", "results", "info"]
    subject: str
    body: str = ""
    task_id: str | None = None
    cycle_id: str | None = None


class ScoreParticipantInput(Message):
    """The evaluation phase travels alone: the whole pinned definition in every scoring
    call would add tens of kilobytes to each participant's history."""

    cycle_id: str
    employee_id: str
    phase: EvaluationPhase


class ScoreResult(Message):
    score: float | None
    rating: int | None
    label: str | None = None
    sources: dict[str, float] = Field(default_factory=dict)


class FinalRatingInput(Message):
    cycle_id: str
    employee_id: str


class ProposeResultsInput(Message):
    cycle_id: str
    employee_id: str
    phase: ResultsPhase
    rating: int | None


class ResultProposal(Message):
    merit_percent: float = 0.0
    merit_amount: float = 0.0
    lump_sum: float = 0.0
    bonus: float = 0.0
    nine_box: str | None = None
    flags: tuple[str, ...] = ()


# --- 360 reviews (activities.reviews360) -------------------------------------------------


class PeerCandidatesInput(Message):
    """Colleagues who could review `employee_id`: teammates (same manager) first, then the
    department; never the person, their manager or their direct reports."""

    cycle_id: str
    employee_id: str
    limit: int = 12


class AssignReviewersInput(Message):
    cycle_id: str
    employee_id: str
    requested: tuple[str, ...]
    """Approved peers in preference order."""
    min_peers: int = 0
    max_peers: int = 6
    max_per_reviewer: int = 6
    upward: bool = False
    """Also list the person's direct reports (for upward reviews)."""
    record_on_task: str | None = None
    """The task (the approval, else the nomination) whose timeline records the outcome."""
    at: datetime


class AssignReviewersResult(Message):
    peers: tuple[str, ...] = ()
    capped: tuple[str, ...] = ()
    """Requested reviewers who were at capacity (`max_requests_per_reviewer`)."""
    short: int = 0
    """How many peers below `min_peers` the person ended with."""
    direct_reports: tuple[str, ...] = ()


class ProposeReviewerInput(Message):
    cycle_id: str
    employee_id: str
    declined_by: str
    reason: str | None = None
    declined_task_id: str
    at: datetime
    candidates: tuple[str, ...] = ()
    """Preferred candidates (the nominated and approved peers); colleagues follow."""
    asked: tuple[str, ...] = ()
    declined: tuple[str, ...] = ()
    max_per_reviewer: int = 6


# Resolve the forward reference to ClockSpec in LaunchParticipantsInput.
LaunchParticipantsInput.model_rebuild()


# --- monitoring: anomaly rules and progress sources ------------------------------------


class MonitoringSignalsInput(Message):
    """Compute a participant's anomaly-rule variables at nominal time `at`."""

    cycle_id: str
    employee_id: str
    phase_id: str
    opens: datetime
    due: datetime
    at: datetime


class MonitoringSignals(Message):
    """The documented anomaly-rule variables (`participant` is added by the workflow)."""

    values: dict[str, float]


class RecordAnomalyInput(Message):
    """One firing of an anomaly rule: stored, put on the timeline, and (for `coach` and
    `notify`) sent to the manager. `anomaly_key` makes a retry a no-op."""

    anomaly_key: str
    cycle_id: str
    employee_id: str
    manager_id: str | None
    phase_id: str
    rule_id: str
    action: Literal["coach", "notify", "flag"]
    description: str | None = None
    evidence: dict[str, float]
    task_id: str | None = None
    fired_at: datetime
    rests_until: datetime


class PullProgressInput(Message):
    """Pull one participant's progress from a project tool (`kind` names the adapter)."""

    cycle_id: str
    employee_id: str
    source_id: str
    kind: Literal["github_issues"]
    url: str
    secret_env: str | None = None
    at: datetime


class PullProgressResult(Message):
    seen: int = 0
    stored: int = 0


class MonitorInput(Message):
    """What `MonitorWorkflow` (a participant's monitoring-phase child) runs on."""

    cycle_id: str
    participant_workflow_id: str
    profile: ParticipantProfile
    phase: MonitoringPhase
    clock: ClockSpec
    opens: datetime
    due: datetime
    manager_id: str | None = None
    local_activities: bool = True
    # Carried across continue-as-new: when each rule rests until, firings so far, and the
    # next evaluation and pulls (None: from the window's opening).
    resting: dict[str, datetime] = Field(default_factory=dict)
    firings: int = 0
    next_rules: datetime | None = None
    next_pull: dict[str, datetime] = Field(default_factory=dict)


class CoachSignal(Message):
    """From `MonitorWorkflow` to its participant: open a coaching task for the manager."""

    phase_id: str
    rule_id: str
    description: str | None = None
    form_id: str
    seq: int
    at: datetime
    evidence: dict[str, float]
