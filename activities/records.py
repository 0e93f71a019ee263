"""Records: the activities that write the engine's side of the store.

`RecordActivities` implements the record-keeping activities of `activities.types`: the
cycle and its participants, the phase read model the cycle's gates poll, the task inbox,
every submission's domain record (goals, check-ins, reviews, minutes, ...), prefills,
scoring, calibration and result proposals. Its collaborators are injected (a session
factory, an `Hris`, a `Notifier`), so a worker wires real adapters and a test wires
fakes; nothing here reads settings or globals.

How the methods behave, and why:

- **Idempotent.** Temporal retries activities (and local activities) after a timeout or
  a crash, possibly after the first attempt committed. Every write is keyed by a natural
  or business key: participants by (cycle, employee), tasks by the deterministic task id,
  submissions by (task id, revision), task events and performance events by a unique key,
  domain records by their task id. A retry finds its work done and writes nothing.
- **One transaction per call.** A submission updates the task *and* its domain record
  together, so the inbox never shows a submitted task whose goals are missing.
- **Blocking I/O off the event loop.** SQLAlchemy here is synchronous; each method runs
  its transaction in a worker thread (`asyncio.to_thread`) so that one slow query never
  stalls the worker's other activities. The HRIS and notifier are async and run on the
  loop.
- **Thin.** The rules HR signs off on (scores, bands, merit, budgets) are pure functions
  in `activities.scoring`; the methods load rows, call them and store the outcome.
- **Logs carry ids and counts only**: never names, e-mails, pay, ratings or comments.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import evaluation, evaluation_store, scoring
from activities.goals import records as goal_records
from activities.goals import store as goal_store
from activities.hris.base import Hris, Person
from activities.notify.base import Notifier, OutgoingNotification, StoreFirstNotifier
from activities.results import carry_over
from activities.results.actuals import record_kpi_actuals
from activities.results.talent import record_talent_decisions, talent_decisions_prefill
from activities.types import (
    ActivityName,
    ApplyBudgetInput,
    ApplyCalibrationInput,
    BuildPrefillInput,
    CloseCycleInput,
    CycleProgress,
    CycleProgressInput,
    FinalRatingInput,
    OpenTaskInput,
    OpenTaskResult,
    ParticipantProfile,
    PhaseCounts,
    ProposeResultsInput,
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
    UpdateTaskInput,
)
from definitions.expressions import ExpressionError, compile_expression, evaluate_number
from definitions.models import InterviewPhase, Participants, ResultsPhase
from definitions.pinned import PinnedDefinition
from store.base import utc_now
from store.db import writer_lock
from store.models import (
    Acknowledgment,
    CalibrationChange,
    CheckIn,
    Cycle,
    CycleParticipant,
    Employee,
    Goal,
    InterviewMinutes,
    Objective,
    ParticipantPhase,
    PerformanceEvent,
    Rating,
    Review,
    Task,
    TaskEvent,
)
from store.models import ResultProposal as ProposalRow
from store.upsert import insert_if_absent, insert_many_if_absent, upsert

if TYPE_CHECKING:
    from perfloop.faults import AfterCommit

SessionFactory = Callable[[], Session]
T = TypeVar("T")

DONE_PHASE_STATUSES = ("completed", "skipped", "cancelled")
"""Phase statuses past a phase's gate: these participants no longer hold a group back."""
FINISHED_PARTICIPANT_STATUSES = ("completed", "left", "cancelled")
DONE_TASK_STATUSES = ("submitted", "closed", "cancelled")
REVIEW_KINDS = {
    "self_review": "self",
    "manager_review": "manager",
    "peer_review": "peer",
    "upward_review": "upward",
}
SIGNIFICANT_EVENT_KINDS = (
    "significant_event",
    "achievement",
    "setback",
    "recognition",
    "feedback",
)
BUDGET_FLAGS = ("budget_scaled", "budget_exceeded")
DEFAULT_POTENTIAL: scoring.Level = "medium"
"""The 9-box potential of someone nobody assessed: the middle row, neither a flag nor a
penalty."""
CHECKIN_HIGHLIGHTS = 5
ProposalFlag = Literal[
    "no_rating",
    "no_pay_data",
    "no_merit_rule",
    "bonus_failed",
    "above_range_lump_sum",
    "capped_at_range_max",
    "budget_scaled",
    "budget_exceeded",
    "succession_candidate",
]
"""What a proposal's `flags` may say, for the HR approver and the HRIS talent flags."""
_SEQ_RE = re.compile(r"-(\d+)$")
_SLUG_RE = re.compile(r"[^a-z0-9]+")


def invalid_input(message: str) -> ApplicationError:
    """A bug or bad input, not an outage: retrying cannot help, so it surfaces at once."""
    return ApplicationError(message, type="InvalidInput", non_retryable=True)


# --- who takes part -------------------------------------------------------------------------


def is_employed(person: Person, as_of: date) -> bool:
    """Active in the HRIS on `as_of`: flagged active, hired by then, not yet terminated."""
    if not person.active:
        return False
    if person.terminated_on is not None and person.terminated_on <= as_of:
        return False
    return person.hire_date is None or person.hire_date <= as_of


def is_selected(person: Person, selection: Participants, as_of: date) -> bool:
    """Whether the definition's `participants` selection takes this person on `as_of`.

    Only employed people take part. `exclude` and `include` win over the filters
    (departments, locations, employment types, minimum tenure); an empty filter does not
    restrict. Tenure without a hire date is 0 days, as in `ParticipantProfile`.
    """
    if not is_employed(person, as_of):
        return False
    if person.employee_id in selection.exclude:
        return False
    if person.employee_id in selection.include:
        return True
    if selection.departments and person.department not in selection.departments:
        return False
    if selection.locations and (person.location or "") not in selection.locations:
        return False
    if selection.employment_types and person.employment_type not in selection.employment_types:
        return False
    tenure = (as_of - person.hire_date).days if person.hire_date else 0
    return tenure >= selection.min_tenure_days


def select_participants(
    people: Sequence[Person], selection: Participants, as_of: date
) -> list[ParticipantProfile]:
    """The profiles of the selected people, by employee id.

    Profiles hold the org facts workflows need (manager, skip level, direct reports) and
    nothing more: no name, e-mail or pay.
    """
    by_id = {person.employee_id: person for person in people}
    reports = Counter(
        person.manager_id for person in people if person.manager_id and is_employed(person, as_of)
    )
    profiles = []
    for person in sorted(people, key=lambda p: p.employee_id):
        if not is_selected(person, selection, as_of):
            continue
        manager = by_id.get(person.manager_id) if person.manager_id else None
        profiles.append(
            ParticipantProfile(
                employee_id=person.employee_id,
                manager_id=person.manager_id,
                skip_level_id=manager.manager_id if manager else None,
                department=person.department,
                location=person.location,
                employment_type=person.employment_type,
                hire_date=person.hire_date,
                direct_reports=reports.get(person.employee_id, 0),
                level=person.level,
            )
        )
    return profiles


# --- small helpers --------------------------------------------------------------------------


def day_start(on: date) -> datetime:
    """Midnight UTC of a nominal date: when a snapshot or sync on that date happened."""
    return datetime.combine(on, time(), tzinfo=UTC)


def digest(*parts: Any) -> str:
    """A stable 32-hex key of JSON-able parts (for idempotency keys, not security)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def task_seq(task_id: str) -> int:
    """The round of a task from its id (`.../goal_draft-2` is round 2; no suffix is 1)."""
    match = _SEQ_RE.search(task_id.rsplit("/", 1)[-1])
    return int(match.group(1)) if match else 1


def group_of_subject(subject_id: str) -> str | None:
    """The group of a group task's subject (`@Engineering`), or None for a person."""
    return subject_id[1:] if subject_id.startswith("@") else None


def slug(text: str) -> str:
    return _SLUG_RE.sub("-", text.lower()).strip("-")[:40] or "objective"


def money_text(value: Decimal | None) -> str | None:
    """Money for JSON: an exact decimal string ("1234.50"), never a float."""
    return None if value is None else str(scoring.to_money(value))


def _mean(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# --- writes shared by several activities --------------------------------------------------


def _record_phase(session: Session, input: RecordPhaseInput) -> None:
    upsert(
        session,
        ParticipantPhase,
        {
            "cycle_id": input.cycle_id,
            "employee_id": input.employee_id,
            "phase_id": input.phase_id,
            "group": input.group,
            "status": input.status,
            "updated_at": input.at,
        },
        ("cycle_id", "employee_id", "phase_id"),
        ("group", "status", "updated_at"),
    )
    final = input.participant_status or ("cancelled" if input.status == "cancelled" else None)
    if final is not None:
        left_at = input.at if final != "completed" else None
        session.execute(
            update(CycleParticipant)
            .where(
                CycleParticipant.cycle_id == input.cycle_id,
                CycleParticipant.employee_id == input.employee_id,
                CycleParticipant.status == "active",
            )
            .values(status=final, left_at=left_at, updated_at=utc_now())
        )
    if input.status in ORPHAN_CLOSING_STATUSES:
        _close_orphaned_tasks(session, input)


ORPHAN_CLOSING_STATUSES = {"skipped": "closed", "cancelled": "cancelled"}
"""A participant's phase recorded as skipped (or cancelled) has no task the workflow still
waits for; an open task of it in the store is an orphan, closed with this status."""


def _close_orphaned_tasks(session: Session, input: RecordPhaseInput) -> None:
    """Close the participant's open tasks of a phase the workflow skipped or cancelled.

    Such a task exists when a worker died after a local activity opened it (the row, its
    event and its notification committed) but before the workflow task that ran it
    completed: the workflow then ran that step again on another worker, later, and may
    have decided otherwise (a window now past, a `when` guard now false). Without this
    the task would stay in the person's inbox forever. Found by the fault drills
    (`tests/reliability/`).
    """
    orphans = session.scalars(
        select(Task)
        .where(
            Task.cycle_id == input.cycle_id,
            Task.subject_id == input.employee_id,
            Task.phase_id == input.phase_id,
            Task.status.in_(("open", "overdue")),
        )
        .with_for_update()
    ).all()
    status = ORPHAN_CLOSING_STATUSES[input.status]
    for task in orphans:
        data = {"from_status": task.status, "status": status}
        task.status = status
        _task_event(
            session,
            task.task_id,
            status,
            input.at,
            reason=f"phase {input.status} for this participant",
            data=data,
        )


def _build_prefill(session: Session, input: BuildPrefillInput) -> dict[str, Any]:
    if input.group is not None:
        return _group_prefill(session, input.cycle_id, input.kind, input.group, input.phase_id)
    if input.employee_id is None:
        return {}
    if input.kind == "goal_draft":
        return _goal_draft_prefill(session, input.cycle_id, input.employee_id)
    if input.kind == "goal_realign":
        return {
            **_goal_draft_prefill(session, input.cycle_id, input.employee_id),
            **goal_records.realign_prefill(session, input),
        }
    if input.kind == "interview_minutes":
        return _interview_prefill(
            session, input.cycle_id, input.employee_id, input.sections, input.phase_id
        )
    if input.kind in ("self_review", "manager_review"):
        return {
            "evidence": evaluation_store.evidence_of(session, input.cycle_id, input.employee_id)
        }
    return {}


# --- the activities -------------------------------------------------------------------------


class RecordActivities:
    """The store-writing activities; register `activities()` with a worker."""

    def __init__(
        self,
        sessions: SessionFactory,
        hris: Hris,
        notifier: Notifier,
        *,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self._sessions = sessions
        self._hris = hris
        self._notifier = notifier
        # Fault drills only (`perfloop.faults`): called with the activity's name after
        # each commit, before the activity reports to Temporal.
        self._after_commit = after_commit
        # Checked once: a runtime protocol check walks the protocol's members every time.
        self._store_first = notifier if isinstance(notifier, StoreFirstNotifier) else None

    def activities(self) -> list[Callable[..., Any]]:
        """Every activity of this class, bound, for `Worker(activities=...)`."""
        return [
            self.record_cycle,
            self.snapshot_participants,
            self.sync_population,
            self.cycle_progress,
            self.record_phase,
            self.open_task,
            self.update_task,
            self.record_submission,
            self.build_prefill,
            self.score_participant,
            self.apply_calibration,
            self.final_rating,
            self.propose_results,
            self.apply_budget,
            self.close_cycle,
        ]

    async def _transaction(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one transaction, in a worker thread; commit if it returns."""

        def run() -> T:
            with self._sessions() as session, writer_lock(session.get_bind()), session.begin():
                return work(session)

        result = await asyncio.to_thread(run)
        if self._after_commit is not None:
            self._after_commit(activity.info().activity_type)
        return result

    # -- the cycle ---------------------------------------------------------------------------

    @activity.defn(name=ActivityName.RECORD_CYCLE)
    async def record_cycle(self, input: RecordCycleInput) -> None:
        """Create or update the cycle row and its org objectives.

        Called at launch (running) and at the end (completed or cancelled). A finished
        cycle never goes back to running, whatever order retries arrive in.
        """

        def work(session: Session) -> None:
            now = utc_now()
            insert_if_absent(
                session,
                Cycle,
                {
                    "cycle_id": input.cycle_id,
                    "definition_ref": input.definition_ref,
                    "sha256": input.sha256,
                    "status": input.status,
                    "nominal_start": input.nominal_start,
                    "nominal_end": input.nominal_end,
                    "launched_by": input.launched_by,
                    "created_at": now,
                    "updated_at": now,
                    "org_objectives": [dict(o) for o in input.org_objectives],
                },
                ("cycle_id",),
            )
            cycle = session.get(Cycle, input.cycle_id, with_for_update=True)
            assert cycle is not None
            finished = cycle.status in ("completed", "cancelled")
            if not (finished and input.status == "running"):
                cycle.status = input.status
            cycle.definition_ref = input.definition_ref
            cycle.sha256 = input.sha256
            cycle.nominal_start = input.nominal_start
            cycle.nominal_end = input.nominal_end
            cycle.org_objectives = [dict(o) for o in input.org_objectives]
            if input.launched_by and not cycle.launched_by:
                cycle.launched_by = input.launched_by
            self._sync_org_objectives(session, input.cycle_id, input.org_objectives)

        await self._transaction(work)
        activity.logger.info("cycle %s recorded as %s", input.cycle_id, input.status)

    @staticmethod
    def _sync_org_objectives(
        session: Session, cycle_id: str, objectives: Sequence[Mapping[str, Any]]
    ) -> None:
        """Make the cycle's org-level Objective rows match the launch's list.

        An objective without an id gets `org-<n>` by position, so goals and department
        objectives can name it as their parent. Objectives HR created, changed or dropped
        through the API are theirs: the launch's list no longer touches them.
        """
        wanted: dict[str, Mapping[str, Any]] = {}
        for index, objective in enumerate(objectives, start=1):
            objective_id = str(objective.get("id") or f"org-{index}")[:64]
            wanted.setdefault(objective_id, objective)
        existing = {
            row.objective_id: row
            for row in session.scalars(
                select(Objective).where(Objective.cycle_id == cycle_id, Objective.level == "org")
            )
        }
        for objective_id, stale in existing.items():
            if objective_id not in wanted and not goal_store.managed_by_api(stale):
                session.delete(stale)
        for index, (objective_id, objective) in enumerate(wanted.items(), start=1):
            row = existing.get(objective_id)
            if row is not None and goal_store.managed_by_api(row):
                continue
            if row is None:
                row = Objective(cycle_id=cycle_id, objective_id=objective_id, level="org")
                session.add(row)
            row.title = str(objective.get("title") or objective.get("name") or f"Objective {index}")
            row.description = _text(objective.get("description"))
            row.owner_id = _text(objective.get("owner"))
            row.key_results = list(objective.get("key_results") or [])

    @activity.defn(name=ActivityName.SNAPSHOT_PARTICIPANTS)
    async def snapshot_participants(
        self, input: SnapshotParticipantsInput
    ) -> SnapshotParticipantsResult:
        """Write one participant row per selected person; return head counts per group.

        A retry inserts nothing new and returns the same counts.
        """
        people = await self._hris.list_people()
        profiles = select_participants(people, input.selection, input.as_of)
        joined_at = day_start(input.as_of)
        rows = [_participant_row(input.cycle_id, p, joined_at, joined_late=False) for p in profiles]

        def work(session: Session) -> SnapshotParticipantsResult:
            insert_many_if_absent(session, CycleParticipant, rows, ("cycle_id", "employee_id"))
            groups = self._head_counts(session, input.cycle_id)
            return SnapshotParticipantsResult(count=sum(groups.values()), groups=groups)

        result = await self._transaction(work)
        activity.logger.info(
            "cycle %s: %d participants in %d groups snapshotted",
            input.cycle_id,
            result.count,
            len(result.groups),
        )
        return result

    @staticmethod
    def _head_counts(session: Session, cycle_id: str) -> dict[str, int]:
        counts = session.execute(
            select(CycleParticipant.group, func.count())
            .where(CycleParticipant.cycle_id == cycle_id, CycleParticipant.status == "active")
            .group_by(CycleParticipant.group)
        ).all()
        return {group: int(count) for group, count in sorted(counts)}

    @activity.defn(name=ActivityName.SYNC_POPULATION)
    async def sync_population(self, input: SyncPopulationInput) -> SyncPopulationResult:
        """Add people who became eligible since the snapshot; mark those who left.

        Joiners get rows with `joined_late`; active participants the HRIS no longer has as
        employed are marked `left`. Only leaving the company removes someone: moving to a
        department outside the selection does not end a review under way.

        A retry returns the same lists: joiners and leavers are recognised by the sync
        date stamped on their rows, so the cycle launches and withdraws them even if the
        first attempt committed and then timed out (both follow-ups are idempotent).

        An HRIS answer with nobody in it is taken for an outage, not for everyone
        leaving: nobody is marked left then.
        """
        people = await self._hris.list_people()
        profiles = select_participants(people, input.selection, input.as_of)
        employed = {p.employee_id for p in people if is_employed(p, input.as_of)}
        stamp = day_start(input.as_of)

        def work(session: Session) -> SyncPopulationResult:
            existing = session.execute(
                select(
                    CycleParticipant.employee_id,
                    CycleParticipant.status,
                    CycleParticipant.joined_late,
                    CycleParticipant.joined_at,
                    CycleParticipant.left_at,
                ).where(CycleParticipant.cycle_id == input.cycle_id)
            ).all()
            known = {row.employee_id for row in existing}
            new_rows = [
                _participant_row(input.cycle_id, p, stamp, joined_late=True)
                for p in profiles
                if p.employee_id not in known
            ]
            insert_many_if_absent(session, CycleParticipant, new_rows, ("cycle_id", "employee_id"))
            joined = {row["employee_id"] for row in new_rows} | {
                row.employee_id
                for row in existing
                if row.joined_late and row.status == "active" and row.joined_at == stamp
            }
            leaving = (
                [
                    row.employee_id
                    for row in existing
                    if row.status == "active" and row.employee_id not in employed
                ]
                if people
                else []
            )
            for start in range(0, len(leaving), 500):
                session.execute(
                    update(CycleParticipant)
                    .where(
                        CycleParticipant.cycle_id == input.cycle_id,
                        CycleParticipant.employee_id.in_(leaving[start : start + 500]),
                    )
                    .values(status="left", left_at=stamp, updated_at=utc_now())
                )
            left = set(leaving) | {
                row.employee_id for row in existing if row.status == "left" and row.left_at == stamp
            }
            return SyncPopulationResult(joined=tuple(sorted(joined)), left=tuple(sorted(left)))

        result = await self._transaction(work)
        if not people:
            activity.logger.warning(
                "cycle %s: the HRIS listed nobody; leavers not checked", input.cycle_id
            )
        activity.logger.info(
            "cycle %s: population synced, %d joined, %d left",
            input.cycle_id,
            len(result.joined),
            len(result.left),
        )
        return result

    @activity.defn(name=ActivityName.CYCLE_PROGRESS)
    async def cycle_progress(self, input: CycleProgressInput) -> CycleProgress:
        """Aggregate the read model into what the cycle's gates and end need.

        - `participants` are all rows; `active` those still running; `finished` those
          completed, left or cancelled. A participant whose every phase of `phase_ids` is
          completed or skipped is marked completed here (the participant workflow records
          phases, not its own end), so the cycle can tell when everyone is through.
        - `phases[p]`: rows per status; `pending` adds active participants with no row.
        - `groups_waiting[p][g]`: active participants of group g waiting at p's gate.
        - `groups_active[p][g]`: active participants of g not yet past p (no row, or a
          status other than completed, skipped, cancelled). The cycle opens g's gate when
          the two are equal, i.e. everyone in g who still has to pass p is waiting there.
        """
        phase_ids = tuple(dict.fromkeys(input.phase_ids))

        def work(session: Session) -> CycleProgress:
            cycle_id = input.cycle_id
            if phase_ids:
                through = (
                    select(ParticipantPhase.employee_id)
                    .where(
                        ParticipantPhase.cycle_id == cycle_id,
                        ParticipantPhase.phase_id.in_(phase_ids),
                        ParticipantPhase.status.in_(("completed", "skipped")),
                    )
                    .group_by(ParticipantPhase.employee_id)
                    .having(func.count() == len(phase_ids))
                )
                session.execute(
                    update(CycleParticipant)
                    .where(
                        CycleParticipant.cycle_id == cycle_id,
                        CycleParticipant.status == "active",
                        CycleParticipant.employee_id.in_(through),
                    )
                    .values(status="completed", updated_at=utc_now())
                    .execution_options(synchronize_session=False)
                )
            by_status: Counter[str] = Counter()
            for status, count in session.execute(
                select(CycleParticipant.status, func.count())
                .where(CycleParticipant.cycle_id == cycle_id)
                .group_by(CycleParticipant.status)
            ):
                by_status[status] += int(count)
            counts: dict[str, Counter[str]] = {phase: Counter() for phase in phase_ids}
            for phase, status, count in session.execute(
                select(ParticipantPhase.phase_id, ParticipantPhase.status, func.count())
                .where(
                    ParticipantPhase.cycle_id == cycle_id,
                    ParticipantPhase.phase_id.in_(phase_ids),
                )
                .group_by(ParticipantPhase.phase_id, ParticipantPhase.status)
            ):
                counts[phase][status] += int(count)
            waiting: dict[str, dict[str, int]] = {}
            not_past: dict[str, dict[str, int]] = {}
            for phase in phase_ids:
                rows = session.execute(
                    select(CycleParticipant.group, ParticipantPhase.status, func.count())
                    .select_from(CycleParticipant)
                    .outerjoin(
                        ParticipantPhase,
                        and_(
                            ParticipantPhase.cycle_id == CycleParticipant.cycle_id,
                            ParticipantPhase.employee_id == CycleParticipant.employee_id,
                            ParticipantPhase.phase_id == phase,
                        ),
                    )
                    .where(
                        CycleParticipant.cycle_id == cycle_id,
                        CycleParticipant.status == "active",
                    )
                    .group_by(CycleParticipant.group, ParticipantPhase.status)
                ).all()
                phase_waiting: Counter[str] = Counter()
                phase_not_past: Counter[str] = Counter()
                for group, status, count in rows:
                    if status is None:
                        counts[phase]["pending"] += int(count)
                    if status == "waiting":
                        phase_waiting[group] += int(count)
                    if status not in DONE_PHASE_STATUSES:
                        phase_not_past[group] += int(count)
                if phase_waiting:
                    waiting[phase] = dict(sorted(phase_waiting.items()))
                if phase_not_past:
                    not_past[phase] = dict(sorted(phase_not_past.items()))
            return CycleProgress(
                participants=sum(by_status.values()),
                active=by_status["active"],
                finished=sum(by_status[s] for s in FINISHED_PARTICIPANT_STATUSES),
                phases={
                    phase: PhaseCounts(
                        pending=counts[phase]["pending"],
                        active=counts[phase]["active"],
                        waiting=counts[phase]["waiting"],
                        completed=counts[phase]["completed"],
                        skipped=counts[phase]["skipped"],
                    )
                    for phase in phase_ids
                },
                groups_waiting=waiting,
                groups_active=not_past,
            )

        return await self._transaction(work)

    # -- participants' phases ----------------------------------------------------------------

    @activity.defn(name=ActivityName.RECORD_PHASE)
    async def record_phase(self, input: RecordPhaseInput) -> None:
        """Set a participant's status in a phase (one upsert: the hot path of a launch).

        `participant_status`, sent with a participant's last record, says it is done
        (completed, left or cancelled). Without it, a cancelled phase still means the
        participant was withdrawn; their row becomes cancelled unless the population
        sync already marked them as left.
        """
        await self._transaction(lambda session: _record_phase(session, input))

    # -- tasks -------------------------------------------------------------------------------

    @activity.defn(name=ActivityName.OPEN_TASK)
    async def open_task(self, input: OpenTaskInput) -> OpenTaskResult:
        """Put a task in its assignee's inbox and tell them.

        The row and its `opened` event are written once per task id; the notification's
        business key (`<task id>:opened`) makes the notifier deliver it once, even when a
        retry follows a crash between the commit and the send. A phase's first task also
        carries the phase record (`phase_started`) and what to build its prefill from
        (`prefill_from`): with the in-app notification, one transaction in all, which is
        what a launch of ten thousand people costs per person.
        """
        notifier = self._notifier
        in_store = self._store_first

        def work(session: Session) -> tuple[OutgoingNotification, dict[str, Any]]:
            if input.phase_started is not None:
                _record_phase(session, input.phase_started)
            prefill = dict(input.prefill)
            if input.prefill_from is not None:
                prefill = {**_build_prefill(session, input.prefill_from), **prefill}
            if insert_if_absent(
                session,
                Task,
                {
                    "task_id": input.task_id,
                    "cycle_id": input.cycle_id,
                    "workflow_id": input.workflow_id,
                    "subject_id": input.subject_id,
                    "assignee_id": input.assignee_id,
                    "phase_id": input.phase_id,
                    "kind": input.kind,
                    "form_id": input.form_id,
                    "title": input.title,
                    "status": "open",
                    "due_at": input.due_at,
                    "opened_at": input.opened_at,
                    "late": False,
                    "revision": 0,
                    "prefill": prefill,
                    "payload": None,
                    "updated_at": utc_now(),
                },
                ("task_id",),
            ):
                _task_event(
                    session,
                    input.task_id,
                    "opened",
                    input.opened_at,
                    data={"assignee_id": input.assignee_id, "due_at": input.due_at.isoformat()},
                )
            else:
                # A retry: the task opened with what the first attempt built.
                prefill = dict(
                    session.scalar(select(Task.prefill).where(Task.task_id == input.task_id))
                    or prefill
                )
            notification = OutgoingNotification(
                business_key=f"{input.task_id}:opened",
                recipient_id=input.assignee_id,
                recipient_email=session.scalar(
                    select(Employee.email).where(Employee.employee_id == input.assignee_id)
                ),
                kind="task_opened",
                subject=f"New task: {input.title}",
                body=f"Due {input.due_at.date().isoformat()}.",
                task_id=input.task_id,
                cycle_id=input.cycle_id,
            )
            if in_store is not None:
                in_store.record(session, notification)
            return notification, prefill

        notification, prefill = await self._transaction(work)
        if in_store is not None:
            await in_store.deliver(notification)
        else:
            await notifier.send(notification)
        return OpenTaskResult(prefill=prefill)

    @activity.defn(name=ActivityName.UPDATE_TASK)
    async def update_task(self, input: UpdateTaskInput) -> None:
        """Apply a status, due date or assignee change and record it as one task event.

        The event names the most telling change: reassigned, then the status (overdue,
        closed, cancelled, reopened when a done task opens again), then due_changed. A
        status change with a `file_note` also enters the subject's performance file, once
        per task and status. A retry finds nothing left to change and records nothing.
        """

        def work(session: Session) -> None:
            task = session.get(Task, input.task_id, with_for_update=True)
            if task is None:
                activity.logger.warning("update of a task the store does not have; ignored")
                return
            data: dict[str, Any] = {}
            status_event: str | None = None
            stale_overdue = input.status == "overdue" and task.status != "open"
            if input.status is not None and input.status != task.status and not stale_overdue:
                data.update(from_status=task.status, status=input.status)
                if input.status == "open":
                    status_event = (
                        "reopened" if task.status in DONE_TASK_STATUSES else "due_changed"
                    )
                else:
                    status_event = input.status
                task.status = input.status
            due_changed = input.due_at is not None and input.due_at != task.due_at
            if input.due_at is not None and due_changed:
                data.update(from_due_at=task.due_at.isoformat(), due_at=input.due_at.isoformat())
                task.due_at = input.due_at
            reassigned = input.assignee_id is not None and input.assignee_id != task.assignee_id
            if input.assignee_id is not None and reassigned:
                data.update(from_assignee_id=task.assignee_id, assignee_id=input.assignee_id)
                task.assignee_id = input.assignee_id
            what = (
                "reassigned"
                if reassigned
                else status_event or ("due_changed" if due_changed else None)
            )
            if what is None:
                return
            _task_event(session, task.task_id, what, input.at, reason=input.reason, data=data)
            if input.file_note and status_event is not None:
                _performance_event(
                    session,
                    key=f"{task.task_id}:{status_event}:file",
                    employee_id=task.subject_id,
                    cycle_id=task.cycle_id,
                    at=input.at,
                    kind=f"{task.kind}_{status_event}",
                    ref=task.task_id,
                    summary=input.file_note,
                    data={"reason": input.reason} if input.reason else {},
                )

        await self._transaction(work)

    @activity.defn(name=ActivityName.RECORD_SUBMISSION)
    async def record_submission(self, input: RecordSubmissionInput) -> None:
        """Record an accepted submission: the task, its domain record and a timeline event,
        in one transaction.

        Idempotent on (task id, revision): the task row is locked and a revision already
        recorded is skipped, so a retried activity writes once. A reopened task's next
        revision replaces the domain record written by the previous one.
        """

        def work(session: Session) -> None:
            task = session.get(Task, input.task_id, with_for_update=True)
            if task is None:
                raise ApplicationError(
                    "submission for a task the store does not have",
                    type="TaskNotFound",
                    non_retryable=True,
                )
            if task.revision >= input.revision:
                return
            task.status = "submitted"
            task.submitted_at = input.submitted_at
            task.submitted_by = input.submitter_id
            task.late = input.late
            task.revision = input.revision
            task.payload = dict(input.payload)
            _task_event(
                session,
                task.task_id,
                "submitted",
                input.submitted_at,
                who=input.submitter_id,
                data={"revision": input.revision, "late": input.late},
            )
            summary, facts = self._record_domain(session, input)
            _performance_event(
                session,
                key=f"submission:{input.task_id}:r{input.revision}",
                employee_id=input.subject_id,
                cycle_id=input.cycle_id,
                at=input.submitted_at,
                kind=input.kind,
                ref=input.task_id,
                summary=summary,
                data={
                    "revision": input.revision,
                    "late": input.late,
                    "submitted_by": input.submitter_id,
                    **facts,
                },
            )

        await self._transaction(work)
        activity.logger.info(
            "cycle %s: %s submission of phase %s recorded",
            input.cycle_id,
            input.kind,
            input.phase_id,
        )

    def _record_domain(
        self, session: Session, input: RecordSubmissionInput
    ) -> tuple[str, dict[str, Any]]:
        """Write the record a submission of this kind stands for; return the timeline's
        summary line and facts."""
        payload = input.payload
        kind = input.kind
        if kind == "goal_draft":
            count = _record_goal_draft(session, input)
            goal_records.after_goal_task(session, input)
            return f"Drafted {count} goal{'s' if count != 1 else ''}", {"goals": count}
        if kind == "goal_review":
            decision = str(payload.get("decision"))
            _record_goal_review(session, input.cycle_id, input.subject_id, decision)
            goal_records.after_goal_task(session, input)
            summary = "Goals approved" if decision == "approve" else "Goals returned for changes"
            return summary, {"decision": decision}
        if kind in goal_records.REALIGN_KINDS:
            return goal_records.record_realign(session, input)
        if kind == "checkin":
            updated = _record_checkin(session, input)
            return "Check-in submitted", {"goals_updated": updated, "seq": task_seq(input.task_id)}
        if kind == "peer_review" and payload.get("decline") is True:
            # A declined request is no review: nothing enters the rater group's count.
            return "Peer review declined", {"declined": True, "reason": payload.get("reason")}
        if kind in REVIEW_KINDS:
            _record_review(session, input, REVIEW_KINDS[kind])
            titles = {
                "self": "Self-review",
                "manager": "Manager review",
                "peer": "Peer feedback",
                "upward": "Upward feedback",
            }
            return f"{titles[REVIEW_KINDS[kind]]} submitted", {}
        if kind == "interview_minutes":
            actions = _record_minutes(session, input)
            return "Performance conversation recorded", {"action_items": actions}
        if kind == "acknowledgment":
            decision = _record_acknowledgment(session, input)
            summary = (
                "Acknowledged the conversation minutes"
                if decision == "acknowledge"
                else "Disagreed with the conversation minutes"
            )
            return summary, {"decision": decision}
        if kind == "department_objectives":
            group = group_of_subject(input.subject_id) or input.subject_id
            count = _record_department_objectives(session, input, group)
            return f"Set {count} department objective{'s' if count != 1 else ''}", {
                "objectives": count
            }
        if kind == "results_approval":
            decision = str(payload.get("decision"))
            approving = group_of_subject(input.subject_id)
            facts: dict[str, Any] = {"decision": decision}
            if approving is not None and "talent_decisions" in payload:
                facts["talent_decisions"], _ = record_talent_decisions(
                    session,
                    cycle_id=input.cycle_id,
                    group=approving,
                    task_id=input.task_id,
                    decided_by=input.submitter_id,
                    at=input.submitted_at,
                    entries=payload["talent_decisions"],
                )
            if decision == "approve" and approving is not None:
                facts["approved"] = _approve_results(session, input, approving)
                return "Results approved", facts
            return "Results returned for changes", facts
        return f"{kind.replace('_', ' ').capitalize()} submitted", {}

    # -- prefills ----------------------------------------------------------------------------

    @activity.defn(name=ActivityName.BUILD_PREFILL)
    async def build_prefill(self, input: BuildPrefillInput) -> dict[str, Any]:
        """The data a task's form opens with (JSON: money as decimal strings).

        - goal_draft: objectives to align to (org, and the employee's department), and
          development goals carried over from the action items of the employee's last
          interview in an earlier cycle.
        - interview_minutes: per requested section item (all when none are named) the
          rating (the calibrated one when there is one), goal attainment, check-in
          highlights, significant events, development goals and the 360 feedback themes
          (`evaluation.feedback_themes`: per rater group the thresholds show, scores per
          competency and comments per question, sorted, with no reviewer and no time; a
          suppressed group as its reason); and, when the cycle's definition is in the
          registry, `agenda`: the template's sections (id, title, prompt, items) in order.
        - department_objectives (group): the org objectives to link to and the group's
          current objectives.
        - calibration (group): the group's scores and ratings, and their distribution.
        - results_approval (group): the group's proposals with pay (the approver is HR).
        - self_review, manager_review: the evidence about the person
          (`activities.evaluation_store.evidence_of`), shown beside the form.
        Other kinds open empty.
        """
        return await self._transaction(lambda session: _build_prefill(session, input))

    # -- evaluation --------------------------------------------------------------------------

    @activity.defn(name=ActivityName.SCORE_PARTICIPANT)
    async def score_participant(self, input: ScoreParticipantInput) -> ScoreResult:
        """Score a participant from the evaluation phase's weighted sources, band it into a
        rating and store it (see `activities.scoring` for the rules).

        Sources on the 1..5 scale: goal attainment (weighted goal progress), the mean
        rating of self and manager reviews, and the peer and upward groups as their
        anonymity thresholds let them show (`activities.evaluation`: a suppressed group is
        a missing source). If scoring runs again, a calibrated rating is kept; otherwise
        the final rating follows the new score.
        """
        phase = input.phase

        def work(session: Session) -> ScoreResult:
            attainment = _goal_attainment(session, input.cycle_id, input.employee_id)
            goal_score = scoring.attainment_score(attainment) if attainment is not None else None
            outcome = evaluation.score_phase(
                goal_score,
                evaluation_store.reviews_of(session, input.cycle_id, input.employee_id),
                phase,
            )
            result = ScoreResult(
                score=outcome.score,
                rating=outcome.rating,
                label=outcome.label,
                sources=outcome.sources,
            )
            upsert(
                session,
                Rating,
                {
                    "cycle_id": input.cycle_id,
                    "employee_id": input.employee_id,
                    "score": result.score,
                    "rating": result.rating,
                    "label": result.label,
                    "sources": dict(result.sources),
                    "updated_at": utc_now(),
                },
                ("cycle_id", "employee_id"),
                ("score", "rating", "label", "sources", "updated_at"),
            )
            # Uncalibrated, the final rating follows the (new) computed one.
            session.execute(
                update(Rating)
                .where(
                    Rating.cycle_id == input.cycle_id,
                    Rating.employee_id == input.employee_id,
                    Rating.calibrated_rating.is_(None),
                )
                .values(final_rating=None)
            )
            return result

        return await self._transaction(work)

    @activity.defn(name=ActivityName.APPLY_CALIBRATION)
    async def apply_calibration(self, input: ApplyCalibrationInput) -> None:
        """Apply a group's calibration: every rated member gets a final rating.

        An adjustment (`employee_id`, `rating`, `reason`) that changes a member's final
        rating is recorded as a `CalibrationChange` (from the final rating it replaces)
        and in their performance file; all other members keep their final rating (the
        computed one unless an earlier calibration changed it). A later calibration may
        move someone back to their computed rating. Adjustments for people outside the
        group, or without a rating, are ignored (and counted in the log).
        """

        def work(session: Session) -> tuple[int, int]:
            task = session.get(Task, input.task_id)
            at = (task.submitted_at if task else None) or utc_now()
            members = (
                select(CycleParticipant.employee_id)
                .where(
                    CycleParticipant.cycle_id == input.cycle_id,
                    CycleParticipant.group == input.group,
                )
                .scalar_subquery()
            )
            ratings = {
                row.employee_id: row
                for row in session.scalars(
                    select(Rating)
                    .where(Rating.cycle_id == input.cycle_id, Rating.employee_id.in_(members))
                    .with_for_update()
                )
            }
            adjustments: dict[str, Mapping[str, Any]] = {}
            ignored = 0
            for requested in input.adjustments:
                employee_id = str(requested.get("employee_id", ""))
                if employee_id in ratings and isinstance(requested.get("rating"), int):
                    adjustments[employee_id] = requested
                else:
                    ignored += 1
            changed = 0
            for employee_id, rating in sorted(ratings.items()):
                adjustment = adjustments.get(employee_id)
                current = rating.final_rating if rating.final_rating is not None else rating.rating
                new = cast("int | None", adjustment.get("rating")) if adjustment else None
                if adjustment is None or new is None or new == current:
                    # Unadjusted (or adjusted to what it already is, as on a retry): the
                    # rating stands, including an earlier calibration's.
                    rating.final_rating = current
                    continue
                reason = str(adjustment.get("reason") or "")
                # Back to the computed rating is not a calibrated rating any more.
                rating.calibrated_rating = None if new == rating.rating else new
                rating.calibrated_by = input.calibrator_id
                rating.calibration_reason = reason
                rating.final_rating = new
                changed += 1
                insert_if_absent(
                    session,
                    CalibrationChange,
                    {
                        "cycle_id": input.cycle_id,
                        "employee_id": employee_id,
                        "task_id": input.task_id,
                        "group": input.group,
                        "from_rating": current,
                        "to_rating": new,
                        "reason": reason,
                        "calibrator_id": input.calibrator_id,
                        "at": at,
                    },
                    ("task_id", "employee_id"),
                )
                _performance_event(
                    session,
                    key=f"calibration:{input.task_id}:{employee_id}",
                    employee_id=employee_id,
                    cycle_id=input.cycle_id,
                    at=at,
                    kind="rating_calibrated",
                    ref=input.task_id,
                    summary="Rating changed in calibration",
                    data={"from_rating": current, "to_rating": new},
                )
            return changed, ignored

        changed, ignored = await self._transaction(work)
        activity.logger.info(
            "cycle %s: calibration applied, %d ratings changed, %d adjustments ignored",
            input.cycle_id,
            changed,
            ignored,
        )

    @activity.defn(name=ActivityName.FINAL_RATING)
    async def final_rating(self, input: FinalRatingInput) -> int | None:
        """The rating everything after evaluation uses: calibrated if set, else computed."""

        def work(session: Session) -> int | None:
            row = session.scalar(
                select(Rating).where(
                    Rating.cycle_id == input.cycle_id, Rating.employee_id == input.employee_id
                )
            )
            if row is None:
                return None
            return row.final_rating if row.final_rating is not None else row.rating

        return await self._transaction(work)

    # -- results -----------------------------------------------------------------------------

    @activity.defn(name=ActivityName.PROPOSE_RESULTS)
    async def propose_results(self, input: ProposeResultsInput) -> ResultProposal:
        """Propose merit, bonus and talent flags for one participant and store them.

        Merit from the matrix (rating x compa-ratio band), the bonus from the definition's
        CEL formula, the 9-box cell from the rating and the potential assessment (medium
        when nobody assessed it). Missing inputs do not fail the participant: they zero
        the affected amounts and raise a flag for the HR approver (`no_rating`,
        `no_pay_data`, `no_merit_rule`, `bonus_failed`). A proposal HR already approved is
        returned as it is, never recomputed.
        """
        phase = input.phase

        def work(session: Session) -> ResultProposal:
            existing = session.scalar(
                select(ProposalRow)
                .where(
                    ProposalRow.cycle_id == input.cycle_id,
                    ProposalRow.employee_id == input.employee_id,
                )
                .with_for_update()
            )
            if existing is not None and existing.status != "proposed":
                return _proposal_out(existing)
            values = _compute_proposal(session, input.cycle_id, input.employee_id, phase, input)
            if existing is None:
                insert_if_absent(
                    session,
                    ProposalRow,
                    {"cycle_id": input.cycle_id, "employee_id": input.employee_id, **values},
                    ("cycle_id", "employee_id"),
                )
                existing = session.scalar(
                    select(ProposalRow).where(
                        ProposalRow.cycle_id == input.cycle_id,
                        ProposalRow.employee_id == input.employee_id,
                    )
                )
                assert existing is not None
            else:
                for key, value in values.items():
                    setattr(existing, key, value)
            return _proposal_out(existing)

        return await self._transaction(work)

    @activity.defn(name=ActivityName.APPLY_BUDGET)
    async def apply_budget(self, input: ApplyBudgetInput) -> dict[str, Any]:
        """Hold a group's merit increases to the budget; return the figures (as strings).

        Budget = `percent_of_payroll` of the payroll (the salaries of the people with a
        proposal: the group's for scope department, the cycle's for scope company).
        Compared with it: the sum of their matrix merit amounts (lump sums and bonuses
        are outside the merit budget). Over budget, `when_exceeded: scale` scales every
        increase of the group down by the same factor (rounded down to the cent, so the
        sum fits); `flag` leaves them and flags each proposal `budget_exceeded`.

        Always computed from the matrix values, so applying it again (a retry, a return
        by HR) gives the same result. Approved proposals are not touched.
        """
        budget = input.phase.budget
        if budget is None:
            return {"group": input.group, "applied": False}

        def work(session: Session) -> dict[str, Any]:
            where = [ProposalRow.cycle_id == input.cycle_id]
            if budget.scope == "department":
                where.append(ProposalRow.group == input.group)
            proposals = list(session.scalars(select(ProposalRow).where(*where).with_for_update()))
            salaries = _salaries(session, [p.employee_id for p in proposals])
            payroll = sum(salaries.values(), Decimal("0.00"))
            scaling = scoring.scale_to_budget(
                {p.employee_id: p.base_merit_amount for p in proposals},
                scoring.budget_amount(payroll, budget.percent_of_payroll),
            )
            for proposal in proposals:
                if proposal.group != input.group or proposal.status != "proposed":
                    continue
                flags = [flag for flag in proposal.flags if flag not in BUDGET_FLAGS]
                amount, percent = proposal.base_merit_amount, proposal.base_merit_percent
                if scaling.exceeded and budget.when_exceeded == "scale":
                    amount = scaling.amounts[proposal.employee_id]
                    salary = salaries.get(proposal.employee_id)
                    percent = (
                        scoring.to_percent(amount / salary * 100, ROUND_DOWN)
                        if salary
                        else Decimal(0)
                    )
                    flags.append("budget_scaled")
                elif scaling.exceeded:
                    flags.append("budget_exceeded")
                proposal.merit_amount = amount
                proposal.merit_percent = percent
                proposal.flags = flags
            return {
                "group": input.group,
                "applied": True,
                "scope": budget.scope,
                "payroll": money_text(payroll),
                "budget": money_text(scaling.budget),
                "requested": money_text(scaling.total),
                "exceeded": scaling.exceeded,
                "factor": str(scaling.factor.quantize(Decimal("0.000001"))),
            }

        result = await self._transaction(work)
        activity.logger.info(
            "cycle %s: budget applied (exceeded: %s)", input.cycle_id, result["exceeded"]
        )
        return result

    @activity.defn(name=ActivityName.CLOSE_CYCLE)
    async def close_cycle(self, input: CloseCycleInput) -> None:
        """Mark the cycle completed or cancelled; a cancelled cycle's participants still
        active become cancelled. A completed cycle records its KPI actuals per person
        and metric (`activities.results.actuals`), the history later cycles suggest
        target ranges from; the action items carry over through the next cycle's goal
        draft prefill, which reads this one's minutes."""

        def work(session: Session) -> None:
            cycle = session.get(Cycle, input.cycle_id, with_for_update=True)
            if cycle is None:
                raise invalid_input("close of a cycle the store does not have")
            cycle.status = input.status
            if input.status == "completed":
                goal_store.lapse(session, input.cycle_id, max(utc_now(), cycle.nominal_end))
                record_kpi_actuals(session, input.cycle_id, utc_now())
            if input.status == "cancelled":
                now = utc_now()
                session.execute(
                    update(CycleParticipant)
                    .where(
                        CycleParticipant.cycle_id == input.cycle_id,
                        CycleParticipant.status == "active",
                    )
                    .values(status="cancelled", left_at=now, updated_at=now)
                )

        await self._transaction(work)
        activity.logger.info("cycle %s closed as %s", input.cycle_id, input.status)


# --- rows and events --------------------------------------------------------------------------


def _participant_row(
    cycle_id: str, profile: ParticipantProfile, joined_at: datetime, *, joined_late: bool
) -> dict[str, Any]:
    now = utc_now()
    return {
        "cycle_id": cycle_id,
        "employee_id": profile.employee_id,
        "group": profile.department,
        "manager_id": profile.manager_id,
        "status": "active",
        "joined_at": joined_at,
        "left_at": None,
        "joined_late": joined_late,
        "profile": profile.model_dump(mode="json"),
        "updated_at": now,
    }


def _task_event(
    session: Session,
    task_id: str,
    what: str,
    at: datetime,
    *,
    who: str | None = None,
    reason: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> bool:
    """Append a task event once: its key is a digest of everything it says."""
    content = dict(data or {})
    key = digest(what, at.isoformat(), who, reason, content)
    return insert_if_absent(
        session,
        TaskEvent,
        {
            "task_id": task_id,
            "event_key": key,
            "at": at,
            "what": what,
            "who": who,
            "reason": reason,
            "data": content,
        },
        ("task_id", "event_key"),
    )


def _performance_event(
    session: Session,
    *,
    key: str,
    employee_id: str,
    cycle_id: str | None,
    at: datetime,
    kind: str,
    ref: str | None,
    summary: str,
    data: Mapping[str, Any],
) -> bool:
    """Append to a performance file once per `key`."""
    return insert_if_absent(
        session,
        PerformanceEvent,
        {
            "event_key": key,
            "employee_id": employee_id,
            "cycle_id": cycle_id,
            "at": at,
            "kind": kind,
            "ref": ref,
            "summary": summary[:500],
            "data": dict(data),
        },
        ("event_key",),
    )


def _by_task(session: Session, model: type[Any], task_id: str) -> Any:
    """The record of `model` written for a task, or a new one added to the session."""
    row = session.scalar(select(model).where(model.task_id == task_id))
    if row is None:
        row = model(task_id=task_id)
        session.add(row)
    return row


# --- domain records of submissions ------------------------------------------------------------


_GOAL_TARGET_FIELDS = (
    "key_results",
    "metric",
    "unit",
    "direction",
    "threshold",
    "target",
    "stretch",
)


def _goal_id(cycle_id: str, owner_id: str, index: int) -> str:
    """A goal id stable across drafting rounds (same owner, same position)."""
    return "g-" + digest(cycle_id, owner_id, index)[:20]


def _record_goal_draft(session: Session, input: RecordSubmissionInput) -> int:
    """Replace the owner's goals not yet approved with this draft's goals, proposed to the
    manager (`proposed`; the goal review approves or returns them).

    An id given in the draft is kept when it is free; otherwise goals get ids derived
    from cycle, owner and position, so a redraft keeps the ids of goals it keeps in place.
    """
    goals = [goal for goal in input.payload.get("goals", []) if isinstance(goal, dict)]
    session.execute(
        delete(Goal)
        .where(
            Goal.cycle_id == input.cycle_id,
            Goal.owner_id == input.subject_id,
            Goal.status.in_(("draft", "proposed", "returned")),
        )
        .execution_options(synchronize_session="fetch")
    )
    used: set[str] = set()
    given_ids = [
        given if isinstance(given := goal.get("id"), str) and 0 < len(given) <= 64 else None
        for goal in goals
    ]
    # One query for the ids a draft most likely takes (a dozen lookups on PostgreSQL
    # were a third of a goal draft's submission); a clash falls back to one at a time.
    likely = {goal_id for goal_id in given_ids if goal_id is not None} | {
        _goal_id(input.cycle_id, input.subject_id, index) for index in range(len(goals))
    }
    taken = (
        set(session.scalars(select(Goal.id).where(Goal.id.in_(sorted(likely)))))
        if likely
        else set()
    )

    def free(candidate: str) -> bool:
        if candidate in used or candidate in taken:
            return False
        return candidate in likely or session.get(Goal, candidate) is None

    seq = task_seq(input.task_id)
    for index, goal in enumerate(goals):
        goal_id = given_ids[index]
        if goal_id is None or not free(goal_id):
            base = _goal_id(input.cycle_id, input.subject_id, index)
            goal_id, suffix = base, 1
            while not free(goal_id):
                suffix += 1
                goal_id = f"{base}-{suffix}"
        used.add(goal_id)
        session.add(
            Goal(
                id=goal_id,
                cycle_id=input.cycle_id,
                owner_id=input.subject_id,
                task_id=input.task_id,
                seq=seq,
                position=index,
                title=str(goal.get("title", ""))[:500],
                description=_text(goal.get("description")),
                type=str(goal.get("type", "okr")),
                weight=int(goal.get("weight", 0)),
                parent_id=_text(goal.get("parent_id")),
                target={key: goal[key] for key in _GOAL_TARGET_FIELDS if key in goal},
                status="proposed",
                progress=0.0,
                confidence=None,
                updated_at=utc_now(),
            )
        )
    session.flush()
    return len(goals)


def _record_goal_review(session: Session, cycle_id: str, owner_id: str, decision: str) -> None:
    """Approve the owner's proposed goals, or mark them returned for another round."""
    status = "approved" if decision == "approve" else "returned"
    session.execute(
        update(Goal)
        .where(
            Goal.cycle_id == cycle_id,
            Goal.owner_id == owner_id,
            Goal.status.in_(("draft", "proposed")),
        )
        .values(status=status, updated_at=utc_now())
        .execution_options(synchronize_session=False)
    )


def _record_checkin(session: Session, input: RecordSubmissionInput) -> int:
    """Store the check-in and move each named goal's progress and confidence."""
    row = _by_task(session, CheckIn, input.task_id)
    row.cycle_id = input.cycle_id
    row.employee_id = input.subject_id
    row.payload = dict(input.payload)
    row.at = input.submitted_at
    updated = 0
    for item in input.payload.get("goals", []):
        if not isinstance(item, dict):
            continue
        goal = session.get(Goal, str(item.get("goal_id")))
        if goal is None or goal.owner_id != input.subject_id or goal.cycle_id != input.cycle_id:
            continue
        progress = item.get("progress")
        if isinstance(progress, int | float):
            goal.progress = float(progress)
        confidence = item.get("confidence")
        if isinstance(confidence, int):
            goal.confidence = confidence
        updated += 1
    return updated


def _record_review(session: Session, input: RecordSubmissionInput, kind: str) -> None:
    payload = input.payload
    row = _by_task(session, Review, input.task_id)
    row.cycle_id = input.cycle_id
    row.subject_id = input.subject_id
    row.reviewer_id = input.submitter_id
    row.kind = kind
    competencies = payload.get("competencies")
    row.ratings = dict(competencies) if isinstance(competencies, dict) else {}
    rating = payload.get("rating")
    row.overall = float(rating) if isinstance(rating, int | float) else None
    row.comments = {
        key: payload[key]
        for key in ("strengths", "improvements", "achievements")
        if isinstance(payload.get(key), str)
    }
    row.at = input.submitted_at


def _record_minutes(session: Session, input: RecordSubmissionInput) -> int:
    payload = input.payload
    row = _by_task(session, InterviewMinutes, input.task_id)
    row.cycle_id = input.cycle_id
    row.employee_id = input.subject_id
    row.recorded_by = input.submitter_id
    sections = payload.get("sections")
    row.sections = dict(sections) if isinstance(sections, dict) else {}
    row.strengths = _text(payload.get("strengths"))
    row.development_areas = _text(payload.get("development_areas"))
    row.action_items = list(payload.get("action_items") or [])
    row.agreed_next_goals = list(payload.get("agreed_next_goals") or [])
    row.at = input.submitted_at
    return len(row.action_items)


def _record_acknowledgment(session: Session, input: RecordSubmissionInput) -> str:
    decision = "disagree" if input.payload.get("decision") == "disagree" else "acknowledge"
    row = _by_task(session, Acknowledgment, input.task_id)
    row.cycle_id = input.cycle_id
    row.employee_id = input.subject_id
    row.decision = decision
    row.comment = _text(input.payload.get("comment"))
    row.at = input.submitted_at
    return decision


def _record_department_objectives(
    session: Session, input: RecordSubmissionInput, group: str
) -> int:
    """Replace the group's department objectives with the submitted ones.

    Ids given are kept when no other objective of the cycle uses them; new ones become
    `<group slug>-<n>`, the first numbers free in the cycle.
    """
    objectives = [o for o in input.payload.get("objectives", []) if isinstance(o, dict)]
    session.execute(
        delete(Objective)
        .where(
            Objective.cycle_id == input.cycle_id,
            Objective.level == "department",
            Objective.group == group,
        )
        .execution_options(synchronize_session="fetch")
    )
    used = set(
        session.scalars(select(Objective.objective_id).where(Objective.cycle_id == input.cycle_id))
    )
    number = 0
    for objective in objectives:
        given = objective.get("id")
        objective_id = given if isinstance(given, str) and 0 < len(given) <= 64 else None
        if objective_id is None or objective_id in used:
            number += 1
            while f"{slug(group)}-{number}" in used:
                number += 1
            objective_id = f"{slug(group)}-{number}"
        used.add(objective_id)
        session.add(
            Objective(
                cycle_id=input.cycle_id,
                objective_id=objective_id,
                level="department",
                group=group,
                parent_id=_text(objective.get("parent_id")),
                title=str(objective.get("title", ""))[:500],
                description=_text(objective.get("description")),
                owner_id=_text(objective.get("owner")) or input.submitter_id,
                key_results=list(objective.get("key_results") or []),
                task_id=input.task_id,
            )
        )
    return len(objectives)


def _approve_results(session: Session, input: RecordSubmissionInput, group: str) -> int:
    """HR approved a group's results: its proposals become approved, and each member's
    performance file says so."""
    proposals = list(
        session.scalars(
            select(ProposalRow)
            .where(
                ProposalRow.cycle_id == input.cycle_id,
                ProposalRow.group == group,
                ProposalRow.status == "proposed",
            )
            .with_for_update()
        )
    )
    for proposal in proposals:
        proposal.status = "approved"
        _performance_event(
            session,
            key=f"results:{input.task_id}:r{input.revision}:{proposal.employee_id}",
            employee_id=proposal.employee_id,
            cycle_id=input.cycle_id,
            at=input.submitted_at,
            kind="results_approved",
            ref=input.task_id,
            summary="Results approved",
            data={"approved_by": input.submitter_id},
        )
    return len(proposals)


# --- reading the performance file -------------------------------------------------------------


def _goal_attainment(session: Session, cycle_id: str, employee_id: str) -> float | None:
    """Weighted progress (0..1) of the employee's current goals in a cycle."""
    rows = session.execute(
        select(Goal.weight, Goal.progress).where(
            Goal.cycle_id == cycle_id,
            Goal.owner_id == employee_id,
            Goal.status.not_in(("closed", "dropped")),
        )
    ).all()
    return scoring.goal_attainment((float(weight), float(progress)) for weight, progress in rows)


def _group_of(session: Session, cycle_id: str, employee_id: str) -> str | None:
    return session.scalar(
        select(CycleParticipant.group).where(
            CycleParticipant.cycle_id == cycle_id, CycleParticipant.employee_id == employee_id
        )
    )


def _objective_view(row: Objective) -> dict[str, Any]:
    return {
        "id": row.objective_id,
        "level": row.level,
        "group": row.group,
        "title": row.title,
        "description": row.description,
        "parent_id": row.parent_id,
    }


def _objectives(session: Session, cycle_id: str, group: str | None) -> list[dict[str, Any]]:
    """The org objectives and, given a group, that department's objectives."""
    rows = session.scalars(
        select(Objective)
        .where(Objective.cycle_id == cycle_id)
        .order_by(Objective.level.desc(), Objective.id)
    )
    return [
        _objective_view(row)
        for row in rows
        if row.status != "dropped"
        and (row.level == "org" or (group is not None and row.group == group))
    ]


def _carried_development_goals(
    session: Session, previous: Cycle | None, employee_id: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """Development goals from the action items the employee owned in their interview of
    their previous cycle (`carry_over.previous_cycle`: the latest completed one), and the
    goal ideas agreed there; none when that cycle's definition turns the carry-over off
    (`action_items.become_development_goals`, `carry_over.action_items_to_development_goals`).
    """
    if (
        previous is None
        or not carry_over.carry_policy(session, previous.definition_ref).action_items
    ):
        return [], []
    minutes = session.scalar(
        select(InterviewMinutes)
        .where(
            InterviewMinutes.employee_id == employee_id,
            InterviewMinutes.cycle_id == previous.cycle_id,
        )
        .order_by(InterviewMinutes.at.desc(), InterviewMinutes.id.desc())
        .limit(1)
    )
    if minutes is None:
        return [], []
    goals = [
        {
            "title": str(item["title"])[:200],
            "type": "development",
            "description": f"Agreed in the performance conversation of {minutes.cycle_id}.",
        }
        for item in minutes.action_items
        if isinstance(item, dict) and item.get("owner") == "employee" and item.get("title")
    ]
    ideas = [str(idea) for idea in minutes.agreed_next_goals if isinstance(idea, str)]
    return goals, ideas


def _goal_draft_prefill(session: Session, cycle_id: str, employee_id: str) -> dict[str, Any]:
    previous = carry_over.previous_cycle(session, cycle_id, employee_id)
    goals, ideas = _carried_development_goals(session, previous, employee_id)
    snapshot = session.execute(
        select(CycleParticipant.group, CycleParticipant.manager_id).where(
            CycleParticipant.cycle_id == cycle_id, CycleParticipant.employee_id == employee_id
        )
    ).first()
    group, manager_id = (snapshot.group, snapshot.manager_id) if snapshot else (None, None)
    prefill: dict[str, Any] = {
        "objectives": [
            *_objectives(session, cycle_id, group),
            *(
                goal_records.manager_goals(session, cycle_id, employee_id, manager_id)
                if manager_id is not None
                else []
            ),
        ]
    }
    if goals:
        prefill["goals"] = goals
    if ideas:
        prefill["suggested_goals"] = ideas
    # `carry_over.open_goals: carry`: last cycle's unfinished goals, after its action items.
    titles = {goal["title"] for goal in goals}
    carried = [
        (goal, source)
        for goal, source in zip(
            *carry_over.carried_open_goals(session, previous, employee_id), strict=True
        )
        if goal["title"] not in titles
    ]
    if carried:
        prefill["goals"] = [*prefill.get("goals", []), *(goal for goal, _ in carried)]
        prefill["carried_goals"] = [source for _, source in carried]
    targets = goal_records.target_suggestions(session, cycle_id, employee_id)
    if targets:
        prefill["suggested_targets"] = targets
        prefill["goals"] = [*prefill.get("goals", []), *goal_records.suggested_kpi_goals(targets)]
    return prefill


_INTERVIEW_ITEMS = (
    "rating",
    "goal_attainment",
    "significant_events",
    "checkin_highlights",
    "feedback_themes",
    "development_goals",
)


def _interview_template(pinned: PinnedDefinition | None, phase_id: str) -> list[dict[str, Any]]:
    """The interview phase's conversation guide, for the agenda's headings; empty when
    the cycle's definition is not in the registry."""
    if pinned is None:
        return []
    phase = next(
        (p for p in pinned.definition.phases if isinstance(p, InterviewPhase) and p.id == phase_id),
        None,
    )
    if phase is None:
        return []
    return [
        {"id": s.id, "title": s.title, "prompt": s.prompt, "items": list(s.prefill)}
        for s in phase.template
    ]


def _interview_prefill(
    session: Session,
    cycle_id: str,
    employee_id: str,
    sections: Sequence[str],
    phase_id: str | None = None,
) -> dict[str, Any]:
    """The interview agenda's data, one key per requested item (all when none are), and
    the template's sections as `agenda` when the definition is at hand."""
    wanted = list(dict.fromkeys(sections)) or list(_INTERVIEW_ITEMS)
    agenda: dict[str, Any] = {}
    # Read (and parsed) once: the template and the 360 thresholds both come from it.
    pinned = evaluation_store.definition_of(session, cycle_id)
    template = _interview_template(pinned, phase_id) if phase_id else []
    if template:
        agenda["agenda"] = template
    for item in wanted:
        if item == "rating":
            row = session.scalar(
                select(Rating).where(Rating.cycle_id == cycle_id, Rating.employee_id == employee_id)
            )
            agenda[item] = (
                None
                if row is None
                else {
                    "rating": row.final_rating if row.final_rating is not None else row.rating,
                    "label": row.label,
                    "score": row.score,
                    "calibrated": row.calibrated_rating is not None,
                }
            )
        elif item == "goal_attainment":
            goals = session.scalars(
                select(Goal)
                .where(
                    Goal.cycle_id == cycle_id,
                    Goal.owner_id == employee_id,
                    Goal.status.not_in(("closed", "dropped")),
                )
                .order_by(Goal.position)
            ).all()
            agenda[item] = {
                "attainment": _goal_attainment(session, cycle_id, employee_id),
                "goals": [
                    {
                        "id": goal.id,
                        "title": goal.title,
                        "type": goal.type,
                        "weight": goal.weight,
                        "progress": goal.progress,
                        "confidence": goal.confidence,
                        "status": goal.status,
                    }
                    for goal in goals
                ],
            }
        elif item == "checkin_highlights":
            checkins = session.scalars(
                select(CheckIn)
                .where(CheckIn.cycle_id == cycle_id, CheckIn.employee_id == employee_id)
                .order_by(CheckIn.at.desc())
                .limit(CHECKIN_HIGHLIGHTS)
            ).all()
            agenda[item] = [
                {
                    "at": checkin.at.isoformat(),
                    "notes": checkin.payload.get("notes"),
                    "blockers": checkin.payload.get("blockers", []),
                    "confidence": _mean(
                        float(g["confidence"])
                        for g in checkin.payload.get("goals", [])
                        if isinstance(g, dict) and isinstance(g.get("confidence"), int)
                    ),
                }
                for checkin in checkins
            ]
        elif item == "significant_events":
            events = session.scalars(
                select(PerformanceEvent)
                .where(
                    PerformanceEvent.cycle_id == cycle_id,
                    PerformanceEvent.employee_id == employee_id,
                    PerformanceEvent.kind.in_(SIGNIFICANT_EVENT_KINDS),
                )
                .order_by(PerformanceEvent.at)
            ).all()
            agenda[item] = [
                {"at": e.at.isoformat(), "kind": e.kind, "summary": e.summary, "data": e.data}
                for e in events
            ]
        elif item == "feedback_themes":
            agenda[item] = evaluation_store.feedback_themes_of(
                session, cycle_id, employee_id, pinned
            )
        elif item == "development_goals":
            current = session.scalars(
                select(Goal)
                .where(
                    Goal.cycle_id == cycle_id,
                    Goal.owner_id == employee_id,
                    Goal.type == "development",
                    Goal.status != "closed",
                )
                .order_by(Goal.position)
            ).all()
            carried, _ = _carried_development_goals(
                session, carry_over.previous_cycle(session, cycle_id, employee_id), employee_id
            )
            agenda[item] = [
                {"title": goal.title, "progress": goal.progress, "source": "this_cycle"}
                for goal in current
            ] + [{"title": goal["title"], "source": "carried_over"} for goal in carried]
    return agenda


def _calibration_context(
    session: Session, cycle_id: str, phase_id: str, group: str
) -> dict[str, Any]:
    """What calibrators weigh beyond the ratings: the distribution against the guideline,
    outliers and the managers' bias statistics (see `activities.evaluation_store`)."""
    phase = evaluation_store.evaluation_phase(
        evaluation_store.definition_of(session, cycle_id), phase_id
    )
    if phase is None:
        return {}
    picture = evaluation_store.calibration_picture(session, cycle_id, group, phase)
    return {
        "guideline": picture["distribution"],
        "tolerance_points": picture["tolerance_points"],
        "outliers": picture["outliers"],
        "bias": picture["managers"],
        "members": picture["members"],
    }


def _group_prefill(
    session: Session, cycle_id: str, kind: str, group: str, phase_id: str = ""
) -> dict[str, Any]:
    if kind == "department_objectives":
        objectives = _objectives(session, cycle_id, group)
        return {
            "org_objectives": [o for o in objectives if o["level"] == "org"],
            "objectives": [
                {
                    key: value
                    for key, value in (
                        ("id", o["id"]),
                        ("title", o["title"]),
                        ("parent_id", o["parent_id"]),
                        ("description", o["description"]),
                    )
                    if value is not None
                }
                for o in objectives
                if o["level"] == "department"
            ],
        }
    members = (
        select(CycleParticipant.employee_id)
        .where(CycleParticipant.cycle_id == cycle_id, CycleParticipant.group == group)
        .scalar_subquery()
    )
    if kind == "calibration":
        ratings = session.scalars(
            select(Rating)
            .where(Rating.cycle_id == cycle_id, Rating.employee_id.in_(members))
            .order_by(Rating.employee_id)
        ).all()
        distribution = Counter(str(r.rating) for r in ratings if r.rating is not None)
        return {
            "group": group,
            "ratings": [
                {
                    "employee_id": r.employee_id,
                    "score": r.score,
                    "rating": r.rating,
                    "label": r.label,
                    "sources": r.sources,
                }
                for r in ratings
            ],
            "distribution": dict(sorted(distribution.items())),
            "adjustments": [],
            **_calibration_context(session, cycle_id, phase_id, group),
        }
    if kind == "results_approval":
        proposals = session.scalars(
            select(ProposalRow)
            .where(ProposalRow.cycle_id == cycle_id, ProposalRow.group == group)
            .order_by(ProposalRow.employee_id)
        ).all()
        salaries = _salaries(session, [p.employee_id for p in proposals])
        totals: dict[str, dict[str, Decimal]] = defaultdict(
            lambda: {"merit": Decimal(0), "lump_sum": Decimal(0), "bonus": Decimal(0)}
        )
        for p in proposals:
            totals[p.currency]["merit"] += p.merit_amount
            totals[p.currency]["lump_sum"] += p.lump_sum
            totals[p.currency]["bonus"] += p.bonus
        return {
            "group": group,
            "proposals": [
                {
                    "employee_id": p.employee_id,
                    "rating": p.rating,
                    "salary": money_text(salaries.get(p.employee_id)),
                    "currency": p.currency,
                    "merit_percent": float(p.merit_percent),
                    "merit_amount": money_text(p.merit_amount),
                    "lump_sum": money_text(p.lump_sum),
                    "bonus": money_text(p.bonus),
                    "nine_box": p.nine_box,
                    "flags": list(p.flags),
                    "status": p.status,
                }
                for p in proposals
            ],
            "totals": {
                currency: {key: money_text(value) for key, value in amounts.items()}
                for currency, amounts in sorted(totals.items())
            },
            "talent_decisions": talent_decisions_prefill(session, cycle_id, group),
        }
    return {}


# --- results ----------------------------------------------------------------------------------


def _salaries(session: Session, employee_ids: Sequence[str]) -> dict[str, Decimal]:
    result: dict[str, Decimal] = {}
    for start in range(0, len(employee_ids), 500):
        chunk = employee_ids[start : start + 500]
        for employee_id, salary in session.execute(
            select(Employee.employee_id, Employee.salary).where(
                Employee.employee_id.in_(chunk), Employee.salary.is_not(None)
            )
        ):
            if salary is not None:
                result[employee_id] = salary
    return result


def _potential(
    session: Session, cycle_id: str, employee_id: str, phase: ResultsPhase
) -> scoring.Level:
    """The latest submitted potential assessment of the employee, or the default."""
    if phase.nine_box is None:
        return DEFAULT_POTENTIAL
    source = phase.nine_box.potential
    payload = session.scalar(
        select(Task.payload)
        .where(
            Task.cycle_id == cycle_id,
            Task.subject_id == employee_id,
            Task.form_id == source.form,
            Task.status == "submitted",
        )
        .order_by(Task.submitted_at.desc())
        .limit(1)
    )
    value = (payload or {}).get(source.field)
    if value in ("low", "medium", "high"):
        return cast("scoring.Level", value)
    return DEFAULT_POTENTIAL


def _compute_proposal(
    session: Session,
    cycle_id: str,
    employee_id: str,
    phase: ResultsPhase,
    input: ProposeResultsInput,
) -> dict[str, Any]:
    """The column values of a participant's proposal (see `propose_results`)."""
    participant = session.scalar(
        select(CycleParticipant).where(
            CycleParticipant.cycle_id == cycle_id, CycleParticipant.employee_id == employee_id
        )
    )
    employee = session.get(Employee, employee_id)
    rating_row = session.scalar(
        select(Rating).where(Rating.cycle_id == cycle_id, Rating.employee_id == employee_id)
    )
    cycle = session.get(Cycle, cycle_id)
    rating = input.rating
    salary = employee.salary if employee else None
    midpoint = employee.range_midpoint if employee else None
    ratio = scoring.compa_ratio(salary, midpoint)
    flags: list[str] = []
    zero = Decimal("0.00")
    base_percent, base_amount, lump_sum, bonus = Decimal(0), zero, zero, zero
    if rating is None:
        flags.append("no_rating")
    if salary is None or salary <= 0:
        flags.append("no_pay_data")

    matrix = phase.merit_matrix
    if matrix is not None and rating is not None and salary is not None and ratio is not None:
        band = scoring.compa_band(ratio, matrix.compa_ratio_bands)
        percent = scoring.merit_percent(matrix, rating, band.id) if band else None
        if percent is None:
            flags.append("no_merit_rule")
        else:
            assert midpoint is not None
            outcome = scoring.merit(
                salary,
                percent,
                scoring.range_maximum(midpoint, matrix.compa_ratio_bands),
                matrix.above_range_max,
            )
            base_percent, base_amount, lump_sum = outcome.percent, outcome.amount, outcome.lump_sum
            flags.extend(outcome.flags)
    elif matrix is not None and rating is not None and salary is not None:
        flags.append("no_merit_rule")  # no range midpoint: no compa-ratio band

    profile = ParticipantProfile.model_validate(participant.profile) if participant else None
    as_of = (cycle.nominal_end if cycle else utc_now()).date()
    if phase.bonus is not None and rating is not None and salary is not None and salary > 0:
        attainment = _goal_attainment(session, cycle_id, employee_id)
        variables = {
            "base_salary": float(salary),
            "target_percent": phase.bonus.target_percent,
            "rating": float(rating),
            "score": (
                rating_row.score
                if rating_row is not None and rating_row.score is not None
                else float(rating)
            ),
            "goal_attainment": attainment if attainment is not None else 0.0,
            "compa_ratio": float(ratio) if ratio is not None else 1.0,
            "company_multiplier": 1.0,
            "department_multiplier": 1.0,
            "participant": _participant_variables(profile, as_of),
        }
        try:
            value = evaluate_number(
                compile_expression(phase.bonus.formula, "bonus.formula"), variables
            )
        except ExpressionError:
            flags.append("bonus_failed")
        else:
            bonus = max(scoring.to_money(scoring.decimal(value)), zero)

    box: str | None = None
    if phase.nine_box is not None and rating is not None:
        box = scoring.nine_box(
            rating, phase.nine_box.performance, _potential(session, cycle_id, employee_id, phase)
        )
    succession = phase.succession
    if (
        succession is not None
        and scoring.is_candidate_box(box, succession.candidate_boxes)
        and profile is not None
        and profile.tenure_days(as_of) >= succession.min_tenure_days
    ):
        flags.append("succession_candidate")

    return {
        "group": participant.group if participant else (employee.department if employee else ""),
        "rating": rating,
        "currency": employee.currency if employee else "EUR",
        "base_merit_percent": base_percent,
        "base_merit_amount": base_amount,
        "merit_percent": base_percent,
        "merit_amount": base_amount,
        "lump_sum": lump_sum,
        "bonus": bonus,
        "nine_box": box,
        "flags": flags,
        "status": "proposed",
        "updated_at": utc_now(),
    }


def _participant_variables(profile: ParticipantProfile | None, as_of: date) -> dict[str, Any]:
    """`participant` for CEL, as in `workflows.participant` (phase `when`)."""
    if profile is None:
        return {
            "tenure_days": 0,
            "department": "",
            "location": "",
            "employment_type": "full_time",
            "is_manager": False,
            "direct_reports": 0,
            "level": 0,
        }
    return {
        "tenure_days": profile.tenure_days(as_of),
        "department": profile.department,
        "location": profile.location or "",
        "employment_type": profile.employment_type,
        "is_manager": profile.direct_reports > 0,
        "direct_reports": profile.direct_reports,
        "level": profile.level,
    }


def _proposal_out(row: ProposalRow) -> ResultProposal:
    return ResultProposal(
        merit_percent=float(row.merit_percent),
        merit_amount=float(row.merit_amount),
        lump_sum=float(row.lump_sum),
        bonus=float(row.bonus),
        nine_box=row.nine_box,
        flags=tuple(row.flags),
    )
