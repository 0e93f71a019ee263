"""In-memory activities for workflow tests, registered under the real activity names.

`FakeWorld` holds what the store would: people, participants, phase statuses, tasks,
notifications, ratings. Launch and broadcast use the test environment's client, as the
real engine activities do, so the cycle and participant workflows run exactly as in
production while every side effect stays in memory and inspectable.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from activities import evaluation
from activities.types import (
    ActivityName,
    ApplyBudgetInput,
    ApplyCalibrationInput,
    AssignReviewersInput,
    AssignReviewersResult,
    BroadcastSignalInput,
    BroadcastSignalResult,
    BuildPrefillInput,
    CloseCycleInput,
    CycleProgress,
    CycleProgressInput,
    FinalRatingInput,
    LaunchParticipantsInput,
    LaunchParticipantsResult,
    MonitoringSignals,
    MonitoringSignalsInput,
    NotifyInput,
    OpenTaskInput,
    OpenTaskResult,
    ParticipantProfile,
    PeerCandidatesInput,
    PhaseCounts,
    ProposeResultsInput,
    ProposeReviewerInput,
    PullProgressInput,
    PullProgressResult,
    RecordAnomalyInput,
    RecordCycleInput,
    RecordPhaseInput,
    RecordSubmissionInput,
    ResultProposal,
    ScoreParticipantInput,
    ScoreResult,
    SnapshotParticipantsInput,
    SnapshotParticipantsResult,
    SyncPopulationInput,
    SyncPopulationResult,
    SyncResultsInput,
    SyncResultsResult,
    UpdateTaskInput,
)
from definitions.models import Participants
from workflows.messages import ParticipantInput, participant_workflow_id


@dataclass
class Person:
    employee_id: str
    department: str
    manager_id: str | None
    hire_date: date = date(2020, 1, 1)
    active: bool = True


@dataclass
class FakeTask:
    task_id: str
    workflow_id: str
    subject_id: str
    assignee_id: str
    phase_id: str
    kind: str
    form_id: str
    status: str
    due_at: datetime
    opened_at: datetime
    prefill: dict[str, Any]
    submissions: list[RecordSubmissionInput] = field(default_factory=list)


def twelve_people() -> list[Person]:
    """12 people in 3 departments: E001 HR head, E002 Sales HRBP, managers E003/E006/E009."""
    people = [
        Person("E001", "People", None),
        Person("E002", "People", "E001"),
        Person("E003", "Sales", "E001"),
        Person("E004", "Sales", "E003"),
        Person("E005", "Sales", "E003"),
        Person("E006", "Engineering", "E001"),
        Person("E007", "Engineering", "E006"),
        Person("E008", "Engineering", "E006"),
        Person("E009", "Engineering", "E006"),
        Person("E010", "Engineering", "E009"),
        Person("E011", "People", "E001"),
        Person("E012", "Sales", "E003"),
    ]
    return people


class FakeWorld:
    def __init__(self, client: Client, task_queue: str, people: Sequence[Person]) -> None:
        self.client = client
        self.task_queue = task_queue
        self.people: dict[str, Person] = {p.employee_id: p for p in people}
        self.participants: dict[str, str] = {}  # employee id -> active|left|cancelled|completed
        self.joined_late: set[str] = set()
        self.phase_status: dict[tuple[str, str], str] = {}
        self.tasks: dict[str, FakeTask] = {}
        self.notifications: dict[str, NotifyInput] = {}
        self.ratings: dict[str, int] = {}
        self.final_ratings: dict[str, int] = {}
        self.proposals: dict[str, ResultProposal] = {}
        self.synced: list[str] = []
        self.cycle_records: list[RecordCycleInput] = []
        self.calibrations: list[ApplyCalibrationInput] = []
        self.budgets: list[str] = []
        self.calls: Counter[str] = Counter()
        self.anomalies: list[RecordAnomalyInput] = []
        self.assignments: list[AssignReviewersInput] = []
        self.assigned: dict[str, AssignReviewersResult] = {}
        self.replacements: list[ProposeReviewerInput] = []
        self.score_results: dict[str, ScoreResult] = {}
        self.file_notes: list[UpdateTaskInput] = []
        """Task status changes that also enter the subject's performance file."""

    # -- helpers for tests -----------------------------------------------------------

    def profile(self, employee_id: str) -> ParticipantProfile:
        person = self.people[employee_id]
        manager = self.people.get(person.manager_id) if person.manager_id else None
        return ParticipantProfile(
            employee_id=employee_id,
            manager_id=person.manager_id,
            skip_level_id=manager.manager_id if manager else None,
            department=person.department,
            hire_date=person.hire_date,
            direct_reports=sum(1 for p in self.people.values() if p.manager_id == employee_id),
        )

    def open_tasks(self, assignee: str | None = None) -> list[FakeTask]:
        return [
            t
            for t in self.tasks.values()
            if t.status in ("open", "overdue") and (assignee is None or t.assignee_id == assignee)
        ]

    def notifications_of(self, kind: str) -> list[NotifyInput]:
        return [n for n in self.notifications.values() if n.kind == kind]

    def activities(self) -> list[Callable[..., Any]]:
        return [
            getattr(self, name)
            for name in dir(self)
            if hasattr(getattr(self, name), "__temporal_activity_definition")
        ]

    def _selected(self, selection: Participants, as_of: date) -> list[str]:
        chosen = []
        for person in self.people.values():
            if not person.active:
                continue
            if selection.departments and person.department not in selection.departments:
                continue
            if (as_of - person.hire_date).days < selection.min_tenure_days:
                continue
            if person.employee_id in selection.exclude:
                continue
            chosen.append(person.employee_id)
        return sorted(set(chosen) | {i for i in selection.include if i in self.people})

    # -- cycle-level ---------------------------------------------------------------------

    @activity.defn(name=ActivityName.RECORD_CYCLE)
    async def record_cycle(self, input: RecordCycleInput) -> None:
        self.calls["record_cycle"] += 1
        self.cycle_records.append(input)

    @activity.defn(name=ActivityName.SNAPSHOT_PARTICIPANTS)
    async def snapshot_participants(
        self, input: SnapshotParticipantsInput
    ) -> SnapshotParticipantsResult:
        for employee_id in self._selected(input.selection, input.as_of):
            self.participants.setdefault(employee_id, "active")
        groups = Counter(self.people[e].department for e in self.participants)
        return SnapshotParticipantsResult(count=len(self.participants), groups=dict(groups))

    @activity.defn(name=ActivityName.SYNC_POPULATION)
    async def sync_population(self, input: SyncPopulationInput) -> SyncPopulationResult:
        self.calls["sync_population"] += 1
        eligible = set(self._selected(input.selection, input.as_of))
        joined = sorted(eligible - set(self.participants))
        left = sorted(
            e
            for e, status in self.participants.items()
            if status == "active" and not self.people[e].active
        )
        for employee_id in joined:
            self.participants[employee_id] = "active"
            self.joined_late.add(employee_id)
        for employee_id in left:
            self.participants[employee_id] = "left"
        return SyncPopulationResult(joined=tuple(joined), left=tuple(left))

    @activity.defn(name=ActivityName.LAUNCH_PARTICIPANTS)
    async def launch_participants(self, input: LaunchParticipantsInput) -> LaunchParticipantsResult:
        ids = sorted(self.participants) if input.only is None else list(input.only)
        batch = ids[input.offset : input.offset + input.limit] if input.only is None else ids
        started = 0
        for employee_id in batch:
            await self.client.start_workflow(
                "ParticipantWorkflow",
                ParticipantInput(
                    cycle_id=input.cycle_id,
                    profile=self.profile(employee_id),
                    pinned=input.pinned,
                    clock=input.clock,
                    joined_late=input.joined_late,
                    use_search_attributes=input.use_search_attributes,
                    hr_admins=input.hr_admins,
                    local_activities=input.local_activities,
                ),
                id=participant_workflow_id(input.cycle_id, employee_id),
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            started += 1
        next_offset = input.offset + input.limit
        more = input.only is None and next_offset < len(ids)
        return LaunchParticipantsResult(
            started=started, already_running=0, next_offset=next_offset if more else None
        )

    @activity.defn(name=ActivityName.BROADCAST_SIGNAL)
    async def broadcast_signal(self, input: BroadcastSignalInput) -> BroadcastSignalResult:
        self.calls[f"broadcast:{input.signal}"] += 1
        if input.employee_ids is not None:
            targets = list(input.employee_ids)
        else:
            targets = [
                e
                for e, status in self.participants.items()
                if status == "active"
                and (input.group is None or self.people[e].department == input.group)
            ]
        signalled = missing = 0
        for employee_id in sorted(targets):
            handle: WorkflowHandle[Any, Any] = self.client.get_workflow_handle(
                participant_workflow_id(input.cycle_id, employee_id)
            )
            try:
                await handle.signal(input.signal, input.payload)
                signalled += 1
            except RPCError:
                missing += 1
        return BroadcastSignalResult(signalled=signalled, missing=missing)

    @activity.defn(name=ActivityName.CYCLE_PROGRESS)
    async def cycle_progress(self, input: CycleProgressInput) -> CycleProgress:
        phases: dict[str, PhaseCounts] = {}
        waiting: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        active_at: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for phase_id in input.phase_ids:
            counts: Counter[str] = Counter()
            for employee_id, status in self.participants.items():
                phase_status = self.phase_status.get((employee_id, phase_id), "pending")
                counts[phase_status] += 1
                group = self.people[employee_id].department
                if status == "active" and phase_status == "waiting":
                    waiting[phase_id][group] += 1
                if status == "active" and phase_status not in ("completed", "skipped", "cancelled"):
                    active_at[phase_id][group] += 1
            phases[phase_id] = PhaseCounts(
                pending=counts["pending"],
                active=counts["active"],
                waiting=counts["waiting"],
                completed=counts["completed"],
                skipped=counts["skipped"],
            )
        active = sum(1 for s in self.participants.values() if s == "active")
        return CycleProgress(
            participants=len(self.participants),
            active=active,
            finished=len(self.participants) - active,
            phases=phases,
            groups_waiting={k: dict(v) for k, v in waiting.items()},
            groups_active={k: dict(v) for k, v in active_at.items()},
        )

    @activity.defn(name=ActivityName.APPLY_CALIBRATION)
    async def apply_calibration(self, input: ApplyCalibrationInput) -> None:
        self.calibrations.append(input)
        adjusted = {a["employee_id"]: int(a["rating"]) for a in input.adjustments}
        for employee_id, rating in self.ratings.items():
            if self.people[employee_id].department == input.group:
                self.final_ratings[employee_id] = adjusted.get(employee_id, rating)

    @activity.defn(name=ActivityName.APPLY_BUDGET)
    async def apply_budget(self, input: ApplyBudgetInput) -> None:
        self.budgets.append(input.group)

    @activity.defn(name=ActivityName.SYNC_RESULTS)
    async def sync_results(self, input: SyncResultsInput) -> SyncResultsResult:
        sent = 0
        for employee_id in sorted(self.proposals):
            key = f"{input.cycle_id}/{employee_id}"
            if self.people[employee_id].department == input.group and key not in self.synced:
                self.synced.append(key)
                sent += 1
        return SyncResultsResult(sent=sent, skipped=0)

    @activity.defn(name=ActivityName.CLOSE_CYCLE)
    async def close_cycle(self, input: CloseCycleInput) -> None:
        self.calls[f"close_cycle:{input.status}"] += 1

    # -- participant-level ----------------------------------------------------------------

    @activity.defn(name=ActivityName.RECORD_PHASE)
    async def record_phase(self, input: RecordPhaseInput) -> None:
        self.phase_status[(input.employee_id, input.phase_id)] = input.status
        if input.participant_status is not None:
            self.participants[input.employee_id] = input.participant_status

    @activity.defn(name=ActivityName.OPEN_TASK)
    async def open_task(self, input: OpenTaskInput) -> OpenTaskResult:
        if input.task_id in self.tasks:
            return OpenTaskResult(prefill=self.tasks[input.task_id].prefill)
        # Like the store: the phase record and the prefill go with the first task.
        if input.phase_started is not None:
            await self.record_phase(input.phase_started)
        prefill = dict(input.prefill)
        if input.prefill_from is not None:
            prefill = {**await self.build_prefill(input.prefill_from), **prefill}
        self.tasks[input.task_id] = FakeTask(
            task_id=input.task_id,
            workflow_id=input.workflow_id,
            subject_id=input.subject_id,
            assignee_id=input.assignee_id,
            phase_id=input.phase_id,
            kind=input.kind,
            form_id=input.form_id,
            status="open",
            due_at=input.due_at,
            opened_at=input.opened_at,
            prefill=prefill,
        )
        return OpenTaskResult(prefill=prefill)

    @activity.defn(name=ActivityName.UPDATE_TASK)
    async def update_task(self, input: UpdateTaskInput) -> None:
        task = self.tasks[input.task_id]
        if input.file_note and input.status is not None and input.status != task.status:
            self.file_notes.append(input)
        if input.status is not None:
            task.status = input.status
        if input.due_at is not None:
            task.due_at = input.due_at
        if input.assignee_id is not None:
            task.assignee_id = input.assignee_id

    @activity.defn(name=ActivityName.RECORD_SUBMISSION)
    async def record_submission(self, input: RecordSubmissionInput) -> None:
        task = self.tasks[input.task_id]
        if any(s.revision == input.revision for s in task.submissions):
            return
        task.submissions.append(input)
        task.status = "submitted"

    @activity.defn(name=ActivityName.BUILD_PREFILL)
    async def build_prefill(self, input: BuildPrefillInput) -> dict[str, Any]:
        if input.group is not None:
            return {"group": input.group}
        return {"employee_id": input.employee_id, "sections": list(input.sections)}

    @activity.defn(name=ActivityName.MONITORING_SIGNALS)
    async def monitoring_signals(self, input: MonitoringSignalsInput) -> MonitoringSignals:
        # Nobody is ever off plan here; tests/workflows/test_monitoring.py tests the rules.
        return MonitoringSignals(
            values={
                "progress": 1.0,
                "expected_by_now": 0.0,
                "days_since_checkin": 0.0,
                "checkins_missed": 0.0,
                "confidence": 5.0,
                "confidence_trend": 0.0,
                "blocked_count": 0.0,
                "open_goals": 0.0,
                "overdue_tasks": 0.0,
                "collaboration_events": 1.0,
            }
        )

    @activity.defn(name=ActivityName.RECORD_ANOMALY)
    async def record_anomaly(self, input: RecordAnomalyInput) -> bool:
        self.anomalies.append(input)
        return True

    @activity.defn(name=ActivityName.PULL_PROGRESS)
    async def pull_progress(self, input: PullProgressInput) -> PullProgressResult:
        return PullProgressResult()

    @activity.defn(name=ActivityName.NOTIFY)
    async def notify(self, input: NotifyInput) -> bool:
        if input.business_key in self.notifications:
            return False
        self.notifications[input.business_key] = input
        return True

    # -- 360 (like activities.reviews360, over the tasks held here) --------------------------

    def reviewer_load(self) -> Counter[str]:
        return Counter(
            t.assignee_id
            for t in self.tasks.values()
            if t.kind == "peer_review"
            and t.status in ("open", "overdue", "submitted")
            and not (t.submissions and t.submissions[-1].payload.get("decline") is True)
        )

    def colleagues(self, employee_id: str) -> list[str]:
        person = self.people[employee_id]
        eligible = [
            p
            for p in self.people.values()
            if p.active
            and p.department == person.department
            and p.employee_id not in (employee_id, person.manager_id)
            and p.manager_id != employee_id
        ]
        team = sorted(p.employee_id for p in eligible if p.manager_id == person.manager_id)
        rest = sorted(p.employee_id for p in eligible if p.manager_id != person.manager_id)
        return team + rest

    @activity.defn(name=ActivityName.PEER_CANDIDATES)
    async def peer_candidates(self, input: PeerCandidatesInput) -> tuple[str, ...]:
        return tuple(self.colleagues(input.employee_id)[: input.limit])

    @activity.defn(name=ActivityName.ASSIGN_REVIEWERS)
    async def assign_reviewers(self, input: AssignReviewersInput) -> AssignReviewersResult:
        self.assignments.append(input)
        known = [p for p in input.requested if p in self.people and self.people[p].active]
        outcome = evaluation.assign_reviewers(
            {input.employee_id: known},
            max_per_reviewer=input.max_per_reviewer,
            min_peers=input.min_peers,
            max_peers=input.max_peers,
            load=self.reviewer_load(),
        )
        result = AssignReviewersResult(
            peers=outcome.assigned[input.employee_id],
            capped=tuple(sorted(outcome.capped)),
            short=outcome.short.get(input.employee_id, 0),
            direct_reports=tuple(
                sorted(
                    p.employee_id
                    for p in self.people.values()
                    if p.manager_id == input.employee_id and p.active
                )
            )
            if input.upward
            else (),
        )
        self.assigned[input.employee_id] = result
        return result

    @activity.defn(name=ActivityName.PROPOSE_REVIEWER)
    async def propose_reviewer(self, input: ProposeReviewerInput) -> str | None:
        self.replacements.append(input)
        return evaluation.propose_replacement(
            input.employee_id,
            input.declined_by,
            [*input.candidates, *self.colleagues(input.employee_id)],
            assigned=input.asked,
            load=self.reviewer_load(),
            max_per_reviewer=input.max_per_reviewer,
            declined=input.declined,
        )

    def reviews_of(self, employee_id: str) -> list[evaluation.ReviewIn]:
        """Submitted reviews of a person, as the store's `Review` rows would hold them."""
        kinds = {
            "self_review": "self",
            "manager_review": "manager",
            "peer_review": "peer",
            "upward_review": "upward",
        }
        reviews = []
        for task in self.tasks.values():
            if task.subject_id != employee_id or task.kind not in kinds or not task.submissions:
                continue
            last = task.submissions[-1]
            if last.payload.get("decline") is True:
                continue
            rating = last.payload.get("rating")
            reviews.append(
                evaluation.ReviewIn(
                    reviewer_id=last.submitter_id,
                    subject_id=employee_id,
                    kind=kinds[task.kind],
                    overall=float(rating) if isinstance(rating, int | float) else None,
                    ratings=dict(last.payload.get("competencies") or {}),
                )
            )
        return reviews

    @activity.defn(name=ActivityName.SCORE_PARTICIPANT)
    async def score_participant(self, input: ScoreParticipantInput) -> ScoreResult:
        phase = input.phase
        if phase.sources.peer_review or phase.sources.upward_review:
            # A 360 cycle: the real scoring over the reviews submitted here (no goals).
            outcome = evaluation.score_phase(None, self.reviews_of(input.employee_id), phase)
            if outcome.rating is not None:
                self.ratings[input.employee_id] = outcome.rating
            scored = ScoreResult(
                score=outcome.score,
                rating=outcome.rating,
                label=outcome.label,
                sources=outcome.sources,
            )
            self.score_results[input.employee_id] = scored
            return scored
        weights = {
            "self_review": phase.sources.self_review,
            "manager_review": phase.sources.manager_review,
        }
        values: dict[str, float] = {}
        for task in self.tasks.values():
            if task.subject_id == input.employee_id and task.kind in weights and task.submissions:
                values[task.kind] = float(task.submissions[-1].payload["rating"])
        total = sum(weights[k] for k in values)
        if not total:
            return ScoreResult(score=None, rating=None)
        score = sum(weights[k] * v for k, v in values.items()) / total
        level = next(lv for lv in phase.rating_scale.levels if lv.min_score <= score < lv.max_score)
        self.ratings[input.employee_id] = level.value
        return ScoreResult(score=score, rating=level.value, label=level.label, sources=values)

    @activity.defn(name=ActivityName.FINAL_RATING)
    async def final_rating(self, input: FinalRatingInput) -> int | None:
        return self.final_ratings.get(input.employee_id, self.ratings.get(input.employee_id))

    @activity.defn(name=ActivityName.PROPOSE_RESULTS)
    async def propose_results(self, input: ProposeResultsInput) -> ResultProposal:
        proposal = ResultProposal(merit_percent=float(input.rating or 0))
        self.proposals[input.employee_id] = proposal
        return proposal


async def finished(handle: Any, seconds: float = 60) -> Any:
    """The workflow's result, or a failure naming its state: a cycle still waiting would
    otherwise let the time-skipping server skip its polls forever."""
    try:
        return await asyncio.wait_for(handle.result(), timeout=seconds)
    except TimeoutError:
        status = await handle.query("status")
        raise AssertionError(f"{handle.id} did not finish: {status}") from None


async def settle(seconds: float = 0.05) -> None:
    """Let in-flight workflow tasks and activities run before the test looks."""
    await asyncio.sleep(seconds)
