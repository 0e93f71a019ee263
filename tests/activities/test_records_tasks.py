"""Record activities of tasks: the inbox, task history, submissions and prefills.

Every write is called twice (a retried activity) and must leave one row.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify.inapp import InAppNotifier
from activities.records import RecordActivities, task_seq
from activities.types import (
    BuildPrefillInput,
    CloseCycleInput,
    OpenTaskInput,
    RecordPhaseInput,
    RecordSubmissionInput,
    UpdateTaskInput,
)
from definitions.pinned import PinnedDefinition
from store.base import Base
from store.models import (
    Acknowledgment,
    CheckIn,
    Goal,
    InterviewMinutes,
    Notification,
    Objective,
    ParticipantPhase,
    PerformanceEvent,
    Rating,
    ResultProposal,
    Review,
    Task,
    TaskEvent,
)
from tests.activities.conftest import CYCLE, START, FakeHris, FakeNotifier, launched, open_input
from workflows.messages import group_task_id

GOALS = [
    {"title": "Ship the billing rewrite", "type": "okr", "weight": 50, "parent_id": "grow",
     "key_results": [{"title": "Cut invoice errors by half", "committed": True, "target": 50}]},
    {"title": "Keep p95 latency low", "type": "kpi", "weight": 30, "parent_id": "grow",
     "metric": "p95 latency", "unit": "ms", "direction": "lower", "target": 300},
    {"title": "Learn Rust", "type": "development", "weight": 20},
]  # fmt: skip


def fresh(session: Session) -> Session:
    """End the session's read snapshot, to see what the activities committed since."""
    session.rollback()
    return session


def count(session: Session, model: type[Base], *where: Any) -> int:
    return fresh(session).scalar(select(func.count()).select_from(model).where(*where)) or 0


async def submit(
    records: RecordActivities,
    task: OpenTaskInput,
    payload: dict[str, Any],
    *,
    revision: int = 1,
    submitter: str | None = None,
    late: bool = False,
) -> RecordSubmissionInput:
    """Record a submission twice, as a retried activity would."""
    submission = RecordSubmissionInput(
        task_id=task.task_id,
        cycle_id=task.cycle_id,
        subject_id=task.subject_id,
        phase_id=task.phase_id,
        kind=task.kind,
        submitter_id=submitter or task.assignee_id,
        payload=payload,
        submitted_at=task.opened_at + timedelta(days=revision),
        late=late,
        revision=revision,
    )
    await records.record_submission(submission)
    await records.record_submission(submission)
    return submission


async def opened(records: RecordActivities, task: OpenTaskInput) -> OpenTaskInput:
    await records.open_task(task)
    return task


# --- the inbox ----------------------------------------------------------------------------


async def test_open_task_writes_the_row_an_event_and_one_notice(
    records: RecordActivities,
    pinned: PinnedDefinition,
    notifier: FakeNotifier,
    session: Session,
    employees: None,
) -> None:
    await launched(records, pinned)
    task = open_input("E101", "goals", "goal_draft")

    await records.open_task(task)
    await ActivityEnvironment().run(records.open_task, task)

    row = fresh(session).get(Task, task.task_id)
    assert row is not None
    assert (row.status, row.assignee_id, row.revision, row.payload) == ("open", "E101", 0, None)
    assert row.due_at == task.due_at
    assert count(session, TaskEvent) == 1
    assert session.scalars(select(TaskEvent.what)).all() == ["opened"]
    assert len(notifier.calls) == 2
    assert list(notifier.delivered) == [f"{task.task_id}:opened"]
    notice = notifier.delivered[f"{task.task_id}:opened"]
    assert (notice.recipient_id, notice.kind, notice.subject) == (
        "E101",
        "task_opened",
        "New task: goal_draft of E101",
    )
    assert notice.recipient_email == "e101@example.com"
    assert (notice.task_id, notice.cycle_id) == (task.task_id, CYCLE)


async def test_task_changes_are_recorded_once_each(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    task = await opened(records, open_input("E101", "goals", "goal_draft"))
    later = START + timedelta(days=30)

    async def update(**changes: Any) -> None:
        change = UpdateTaskInput(task_id=task.task_id, at=later, **changes)
        await records.update_task(change)
        await records.update_task(change)

    await update(status="overdue")
    await update(status="open", due_at=later + timedelta(days=7), reason="extended")
    await update(assignee_id="E100", reason="on leave")
    await update(status="closed", reason="phase closed by HR")
    await update(status="open", reason="reopened by HR")

    events = fresh(session).scalars(select(TaskEvent).order_by(TaskEvent.id)).all()
    assert [e.what for e in events] == [
        "opened",
        "overdue",
        "due_changed",
        "reassigned",
        "closed",
        "reopened",
    ]
    assert events[2].reason == "extended"
    assert events[3].data == {"from_assignee_id": "E101", "assignee_id": "E100"}
    row = session.get(Task, task.task_id)
    assert row is not None
    assert (row.status, row.assignee_id) == ("open", "E100")
    assert row.due_at == later + timedelta(days=7)


async def test_an_acknowledgment_closed_unanswered_enters_the_performance_file_once(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    task = await opened(records, open_input("E101", "interview", "acknowledgment"))
    later = START + timedelta(days=8)
    closing = UpdateTaskInput(
        task_id=task.task_id,
        status="closed",
        reason="not acknowledged in time",
        at=later,
        file_note="Interview minutes not acknowledged in time",
    )
    await records.update_task(closing)
    await records.update_task(closing)
    # A plain status change (no note) leaves the file alone.
    other = await opened(records, open_input("E102", "interview", "acknowledgment"))
    await records.update_task(
        UpdateTaskInput(task_id=other.task_id, status="closed", reason="phase closed", at=later)
    )

    (event,) = fresh(session).scalars(
        select(PerformanceEvent).where(PerformanceEvent.kind == "acknowledgment_closed")
    )
    assert (event.employee_id, event.cycle_id, event.ref, event.at) == (
        "E101",
        CYCLE,
        task.task_id,
        later,
    )
    assert event.summary == "Interview minutes not acknowledged in time"
    assert event.data == {"reason": "not acknowledged in time"}


async def test_an_update_of_an_unknown_task_changes_nothing(records: RecordActivities) -> None:
    await records.update_task(UpdateTaskInput(task_id="nope", status="closed", at=START))


async def test_a_submission_for_an_unknown_task_is_not_retried(records: RecordActivities) -> None:
    with pytest.raises(ApplicationError) as raised:
        await records.record_submission(
            RecordSubmissionInput(
                task_id="nope", cycle_id=CYCLE, subject_id="E1", phase_id="goals",
                kind="goal_draft", submitter_id="E1", payload={}, submitted_at=START, late=False,
            )
        )  # fmt: skip
    assert raised.value.non_retryable


# --- submissions: goals --------------------------------------------------------------------


async def test_a_goal_draft_becomes_goals_once(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    task = await opened(records, open_input("E101", "goals", "goal_draft"))
    goals = [*GOALS[:2], {**GOALS[2], "id": "learn-rust"}]

    await submit(records, task, {"goals": goals}, late=True)

    row = fresh(session).get(Task, task.task_id)
    assert row is not None
    assert (row.status, row.revision, row.late, row.submitted_by) == ("submitted", 1, True, "E101")
    assert row.payload == {"goals": goals}
    stored = session.scalars(select(Goal).order_by(Goal.position)).all()
    assert [(g.title, g.type, g.weight, g.status, g.seq) for g in stored] == [
        ("Ship the billing rewrite", "okr", 50, "proposed", 1),
        ("Keep p95 latency low", "kpi", 30, "proposed", 1),
        ("Learn Rust", "development", 20, "proposed", 1),
    ]
    assert stored[2].id == "learn-rust"
    assert stored[0].parent_id == "grow"
    assert stored[0].target == {"key_results": GOALS[0]["key_results"]}
    assert stored[1].target == {
        "metric": "p95 latency", "unit": "ms", "direction": "lower", "target": 300
    }  # fmt: skip
    assert count(session, TaskEvent, TaskEvent.what == "submitted") == 1
    events = session.scalars(select(PerformanceEvent)).all()
    assert [(e.employee_id, e.kind, e.summary, e.ref) for e in events] == [
        ("E101", "goal_draft", "Drafted 3 goals", task.task_id)
    ]
    assert events[0].data["late"] is True


async def test_goal_rounds_replace_the_draft_and_approval_approves_it(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    first = await opened(records, open_input("E101", "goals", "goal_draft"))
    await submit(records, first, {"goals": GOALS})
    first_ids = [g.id for g in fresh(session).scalars(select(Goal).order_by(Goal.position))]
    review = await opened(records, open_input("E101", "goals", "goal_review", assignee="E100"))
    await submit(records, review, {"decision": "return", "comments": "More ambition"})
    assert set(fresh(session).scalars(select(Goal.status))) == {"returned"}

    second = await opened(records, open_input("E101", "goals", "goal_draft", seq=2))
    await submit(records, second, {"goals": [*GOALS[:2], {**GOALS[2], "title": "Learn Go"}]})
    review2 = await opened(
        records, open_input("E101", "goals", "goal_review", assignee="E100", seq=2)
    )
    await submit(records, review2, {"decision": "approve"})

    stored = fresh(session).scalars(select(Goal).order_by(Goal.position)).all()
    assert [g.id for g in stored] == first_ids  # same positions keep their ids
    assert [(g.title, g.status, g.seq) for g in stored][2] == ("Learn Go", "approved", 2)
    assert {g.status for g in stored} == {"approved"}
    assert task_seq(second.task_id) == 2
    summaries = session.scalars(select(PerformanceEvent.summary).order_by(PerformanceEvent.id))
    assert list(summaries) == [
        "Drafted 3 goals",
        "Goals returned for changes",
        "Drafted 3 goals",
        "Goals approved",
    ]


async def test_a_checkin_is_stored_once_and_moves_goal_progress(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    draft = await opened(records, open_input("E101", "goals", "goal_draft"))
    await submit(records, draft, {"goals": GOALS})
    goal_ids = [g.id for g in fresh(session).scalars(select(Goal).order_by(Goal.position))]
    checkin = await opened(records, open_input("E101", "monitoring", "checkin", seq=3))

    payload: dict[str, Any] = {
        "goals": [
            {"goal_id": goal_ids[0], "progress": 0.4, "confidence": 4},
            {"goal_id": goal_ids[1], "progress": 0.5, "confidence": 2},
            {"goal_id": "someone-elses", "progress": 1.0, "confidence": 5},
        ],
        "notes": "Billing is on track",
    }
    await submit(records, checkin, payload)

    assert count(session, CheckIn) == 1
    stored = session.scalars(select(Goal).order_by(Goal.position)).all()
    assert [(g.progress, g.confidence) for g in stored] == [(0.4, 4), (0.5, 2), (0.0, None)]
    event = session.scalars(
        select(PerformanceEvent).where(PerformanceEvent.kind == "checkin")
    ).one()
    assert event.data["goals_updated"] == 2
    assert event.data["seq"] == 3

    # Reopened and submitted again: the same check-in row, updated.
    payload["goals"][0]["progress"] = 0.6
    await submit(records, checkin, payload, revision=2)
    assert count(session, CheckIn) == 1
    assert fresh(session).get(Goal, goal_ids[0]).progress == 0.6  # type: ignore[union-attr]
    assert count(session, PerformanceEvent, PerformanceEvent.kind == "checkin") == 2


# --- submissions: reviews, interview, objectives, approval ---------------------------------


async def test_reviews_are_stored_by_kind(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    own = await opened(records, open_input("E101", "evaluation", "self_review"))
    manager = await opened(
        records, open_input("E101", "evaluation", "manager_review", assignee="E100")
    )

    await submit(
        records,
        own,
        {"competencies": {"ownership": 4}, "rating": 4, "strengths": "Delivery",
         "improvements": "Delegation", "achievements": "Billing"},
    )  # fmt: skip
    await submit(records, manager, {"rating": 3, "strengths": "Calm", "improvements": "Scope"})

    reviews = fresh(session).scalars(select(Review).order_by(Review.kind)).all()
    assert [(r.kind, r.subject_id, r.reviewer_id, r.overall) for r in reviews] == [
        ("manager", "E101", "E100", 3.0),
        ("self", "E101", "E101", 4.0),
    ]
    assert reviews[1].ratings == {"ownership": 4}
    assert reviews[1].comments == {
        "strengths": "Delivery", "improvements": "Delegation", "achievements": "Billing"
    }  # fmt: skip
    summaries = set(session.scalars(select(PerformanceEvent.summary)))
    assert summaries == {"Self-review submitted", "Manager review submitted"}


async def test_minutes_and_acknowledgment_are_stored_once(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    minutes = await opened(
        records, open_input("E101", "interview", "interview_minutes", assignee="E100")
    )
    ack = await opened(records, open_input("E101", "interview", "acknowledgment"))

    await submit(
        records,
        minutes,
        {"strengths": "Delivery", "development_areas": "Public speaking",
         "sections": {"look-back": "A good year"},
         "action_items": [{"title": "Give a tech talk", "owner": "employee"},
                          {"title": "Find a mentor", "owner": "manager"}],
         "agreed_next_goals": ["Lead the payments team"]},
    )  # fmt: skip
    await submit(records, ack, {"decision": "disagree", "comment": "The rating is unfair"})

    row = fresh(session).scalars(select(InterviewMinutes)).one()
    assert (row.employee_id, row.recorded_by, row.development_areas) == (
        "E101",
        "E100",
        "Public speaking",
    )
    assert len(row.action_items) == 2
    assert row.agreed_next_goals == ["Lead the payments team"]
    answer = session.scalars(select(Acknowledgment)).one()
    assert (answer.decision, answer.comment) == ("disagree", "The rating is unfair")
    assert set(session.scalars(select(PerformanceEvent.summary))) == {
        "Performance conversation recorded",
        "Disagreed with the conversation minutes",
    }


async def test_department_objectives_replace_the_groups_set(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    task_id = group_task_id(CYCLE, "goals", "department_objectives", "Engineering")
    task = await opened(
        records,
        OpenTaskInput(
            task_id=task_id, cycle_id=CYCLE, workflow_id=f"cycle/{CYCLE}",
            subject_id="@Engineering", assignee_id="E010", phase_id="goals",
            kind="department_objectives", form_id="department-objectives",
            title="Set the Engineering objectives", due_at=START + timedelta(days=7),
            opened_at=START,
        ),
    )  # fmt: skip
    objectives = [
        {"title": "Ship billing", "parent_id": "grow"},
        {"id": "grow", "title": "Clashes with an org objective's id", "parent_id": "grow"},
        {"id": "eng-platform", "title": "A stable platform", "parent_id": "org-2",
         "key_results": [{"title": "99.9% uptime", "committed": True, "target": 99.9}]},
    ]  # fmt: skip

    await submit(records, task, {"objectives": objectives})

    rows = (
        fresh(session)
        .scalars(select(Objective).where(Objective.level == "department").order_by(Objective.id))
        .all()
    )
    assert [(o.objective_id, o.group, o.parent_id, o.owner_id) for o in rows] == [
        ("engineering-1", "Engineering", "grow", "E010"),
        ("engineering-2", "Engineering", "grow", "E010"),
        ("eng-platform", "Engineering", "org-2", "E010"),
    ]
    event = session.scalars(select(PerformanceEvent)).one()
    assert (event.employee_id, event.summary) == ("@Engineering", "Set 3 department objectives")

    await submit(records, task, {"objectives": objectives[:1]}, revision=2)
    assert count(session, Objective, Objective.level == "department") == 1
    assert count(session, Objective, Objective.level == "org") == 2


async def test_approving_a_groups_results_approves_its_proposals(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    with session.begin():
        for employee, group in (
            ("E100", "Engineering"),
            ("E101", "Engineering"),
            ("E200", "Sales"),
        ):
            session.add(ResultProposal(cycle_id=CYCLE, employee_id=employee, group=group))
    task = await opened(
        records,
        OpenTaskInput(
            task_id=group_task_id(CYCLE, "results", "results_approval", "Engineering"),
            cycle_id=CYCLE, workflow_id=f"cycle/{CYCLE}", subject_id="@Engineering",
            assignee_id="E002", phase_id="results", kind="results_approval",
            form_id="results-approval", title="Approve", due_at=START, opened_at=START,
        ),
    )  # fmt: skip

    await submit(records, task, {"decision": "return", "comments": "Check E101"})
    assert set(fresh(session).scalars(select(ResultProposal.status))) == {"proposed"}
    await submit(records, task, {"decision": "approve"}, revision=2)

    statuses = {
        employee: status
        for employee, status in fresh(session).execute(
            select(ResultProposal.employee_id, ResultProposal.status)
        )
    }
    assert statuses == {"E100": "approved", "E101": "approved", "E200": "proposed"}
    approved = session.scalars(
        select(PerformanceEvent.employee_id).where(PerformanceEvent.kind == "results_approved")
    )
    assert sorted(approved) == ["E100", "E101"]


# --- prefills -------------------------------------------------------------------------------


async def test_goal_draft_prefill_offers_objectives_and_carried_over_development_goals(
    records: RecordActivities, pinned: PinnedDefinition
) -> None:
    # Last year's conversation agreed a talk and a goal idea.
    await launched(records, pinned, "ar-2026")
    minutes = await opened(
        records,
        open_input("E101", "interview", "interview_minutes", assignee="E100", cycle_id="ar-2026"),
    )
    await submit(
        records,
        minutes,
        {"strengths": "s", "development_areas": "d",
         "action_items": [{"title": "Give a tech talk", "owner": "employee"},
                          {"title": "Budget a course", "owner": "manager"}],
         "agreed_next_goals": ["Lead payments"]},
    )  # fmt: skip
    # Only a finished cycle hands its action items on.
    await records.close_cycle(CloseCycleInput(cycle_id="ar-2026", status="completed"))
    await launched(records, pinned)
    department = await opened(
        records,
        OpenTaskInput(
            task_id=group_task_id(CYCLE, "goals", "department_objectives", "Engineering"),
            cycle_id=CYCLE, workflow_id=f"cycle/{CYCLE}", subject_id="@Engineering",
            assignee_id="E010", phase_id="goals", kind="department_objectives",
            form_id="department-objectives", title="t", due_at=START, opened_at=START,
        ),
    )  # fmt: skip
    await submit(
        records, department, {"objectives": [{"title": "Ship billing", "parent_id": "grow"}]}
    )

    prefill = await records.build_prefill(
        BuildPrefillInput(cycle_id=CYCLE, employee_id="E101", phase_id="goals", kind="goal_draft")
    )
    sales = await records.build_prefill(
        BuildPrefillInput(cycle_id=CYCLE, employee_id="E200", phase_id="goals", kind="goal_draft")
    )

    assert [(o["id"], o["level"]) for o in prefill["objectives"]] == [
        ("grow", "org"),
        ("org-2", "org"),
        ("engineering-1", "department"),
    ]
    assert prefill["goals"] == [
        {"title": "Give a tech talk", "type": "development",
         "description": "Agreed in the performance conversation of ar-2026."}
    ]  # fmt: skip
    assert prefill["suggested_goals"] == ["Lead payments"]
    assert [o["id"] for o in sales["objectives"]] == ["grow", "org-2"]
    assert "goals" not in sales


async def test_interview_prefill_gathers_the_agenda(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    draft = await opened(records, open_input("E101", "goals", "goal_draft"))
    await submit(records, draft, {"goals": GOALS})
    goal_id = fresh(session).scalars(select(Goal.id).order_by(Goal.position)).first()
    checkin = await opened(records, open_input("E101", "monitoring", "checkin"))
    await submit(
        records,
        checkin,
        {"goals": [{"goal_id": goal_id, "progress": 0.5, "confidence": 4}], "notes": "Going well"},
    )
    with fresh(session).begin():
        session.add(Rating(cycle_id=CYCLE, employee_id="E101", score=3.6, rating=4,
                           label="Exceeds expectations", final_rating=3))  # fmt: skip
        session.add(
            PerformanceEvent(
                event_key="e1", employee_id="E101", cycle_id=CYCLE, at=START, kind="achievement",
                summary="Shipped billing v2", data={"category": "achievement"},
            )
        )  # fmt: skip

    agenda = await records.build_prefill(
        BuildPrefillInput(
            cycle_id=CYCLE, employee_id="E101", phase_id="interview", kind="interview_minutes",
            sections=("rating", "goal_attainment", "significant_events", "checkin_highlights",
                      "development_goals", "feedback_themes"),
        )
    )  # fmt: skip
    only_rating = await records.build_prefill(
        BuildPrefillInput(
            cycle_id=CYCLE, employee_id="E101", phase_id="interview", kind="interview_minutes",
            sections=("rating",),
        )
    )  # fmt: skip

    assert agenda["rating"] == {
        "rating": 3, "label": "Exceeds expectations", "score": 3.6, "calibrated": False
    }  # fmt: skip
    assert agenda["goal_attainment"]["attainment"] == pytest.approx(0.25)
    assert [g["progress"] for g in agenda["goal_attainment"]["goals"]] == [0.5, 0.0, 0.0]
    assert [e["summary"] for e in agenda["significant_events"]] == ["Shipped billing v2"]
    assert agenda["checkin_highlights"][0]["notes"] == "Going well"
    assert agenda["checkin_highlights"][0]["confidence"] == 4.0
    assert agenda["development_goals"] == [
        {"title": "Learn Rust", "progress": 0.0, "source": "this_cycle"}
    ]
    assert agenda["feedback_themes"] == {"groups": [], "notices": []}
    assert list(only_rating) == ["rating"]


async def test_group_prefills_for_calibration_approval_and_objectives(
    records: RecordActivities, pinned: PinnedDefinition, session: Session, employees: None
) -> None:
    await launched(records, pinned)
    with session.begin():
        session.add_all(
            [
                Rating(cycle_id=CYCLE, employee_id="E100", score=3.0, rating=3, label="Meets"),
                Rating(cycle_id=CYCLE, employee_id="E101", score=4.6, rating=5, label="Out"),
                Rating(cycle_id=CYCLE, employee_id="E200", score=2.0, rating=2, label="Part"),
                ResultProposal(
                    cycle_id=CYCLE, employee_id="E101", group="Engineering", rating=5,
                    merit_percent=Decimal("9.0000"), merit_amount=Decimal("4500.00"),
                    bonus=Decimal("7500.00"), flags=["budget_scaled"],
                ),
                ResultProposal(
                    cycle_id=CYCLE, employee_id="E100", group="Engineering", rating=3,
                    merit_amount=Decimal("2925.00"), lump_sum=Decimal("10.50"),
                ),
            ]
        )  # fmt: skip

    def group_input(kind: str, phase: str) -> BuildPrefillInput:
        return BuildPrefillInput(
            cycle_id=CYCLE, employee_id=None, phase_id=phase, kind=kind, group="Engineering"
        )

    calibration = await records.build_prefill(group_input("calibration", "evaluation"))
    approval = await records.build_prefill(group_input("results_approval", "results"))
    objectives = await records.build_prefill(group_input("department_objectives", "goals"))

    assert [(r["employee_id"], r["rating"]) for r in calibration["ratings"]] == [
        ("E100", 3),
        ("E101", 5),
    ]
    assert calibration["distribution"] == {"3": 1, "5": 1}
    assert approval["proposals"][1] == {
        "employee_id": "E101", "rating": 5, "salary": "50000.00", "currency": "EUR",
        "merit_percent": 9.0, "merit_amount": "4500.00", "lump_sum": "0.00",
        "bonus": "7500.00", "nine_box": None, "flags": ["budget_scaled"], "status": "proposed",
    }  # fmt: skip
    assert approval["totals"] == {
        "EUR": {"merit": "7425.00", "lump_sum": "10.50", "bonus": "7500.00"}
    }
    assert [o["id"] for o in objectives["org_objectives"]] == ["grow", "org-2"]
    assert objectives["objectives"] == []
    assert (
        await records.build_prefill(
            BuildPrefillInput(cycle_id=CYCLE, employee_id="E101", phase_id="x", kind="coaching")
        )
        == {}
    )


async def test_a_phase_starts_with_one_write_record_prefill_task_and_in_app_notice(
    sessions: sessionmaker[Session],
    hris: FakeHris,
    pinned: PinnedDefinition,
    session: Session,
    employees: None,
) -> None:
    in_app = InAppNotifier(sessions)
    records = RecordActivities(sessions, hris, in_app)
    await launched(records, pinned)
    task = open_input("E101", "goals", "goal_draft").model_copy(
        update={
            "prefill": {"note": "kept"},
            "prefill_from": BuildPrefillInput(
                cycle_id=CYCLE, employee_id="E101", phase_id="goals", kind="goal_draft"
            ),
            "phase_started": RecordPhaseInput(
                cycle_id=CYCLE,
                employee_id="E101",
                group="Engineering",
                phase_id="goals",
                status="active",
                at=START,
            ),
        }
    )

    first = await records.open_task(task)
    retried = await ActivityEnvironment().run(records.open_task, task)

    assert "objectives" in first.prefill  # built from the store in the same transaction
    assert first.prefill["note"] == "kept"
    assert retried == first
    row = fresh(session).get(Task, task.task_id)
    assert row is not None
    assert row.prefill == first.prefill
    assert fresh(session).scalars(
        select(ParticipantPhase.status).where(
            ParticipantPhase.cycle_id == CYCLE,
            ParticipantPhase.employee_id == "E101",
            ParticipantPhase.phase_id == "goals",
        )
    ).all() == ["active"]
    assert count(session, Notification, Notification.task_id == task.task_id) == 1
    assert count(session, TaskEvent) == 1
