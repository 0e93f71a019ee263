"""Closing the loop through the engine: two consecutive cycles of one population.

The real `CycleWorkflow` and `ParticipantWorkflow` run under time skipping with the
real activities on the test store (SQLite, or PostgreSQL by the suite's setting) and
the embedded HRIS. Cycle 1 of `carry-over@1` runs to completion: two engineers draft a
KPI and a development goal, their manager approves, they check in, the manager reviews,
records the conversation (with action items) and HR approves the results. Cycle 2 of the
same population then opens its goal drafts, whose prefill shows (a) cycle 1's action
items as draft development goals and (b) KPI targets suggested from cycle 1's actuals.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.types import ClockSpec
from definitions.loader import load_file
from definitions.pinned import PinnedDefinition
from definitions.registry import publish
from perfloop.cycles import resolve_pinned
from perfloop.fake_forms import TaskContext, fill_task
from perfloop.settings import Settings
from perfloop.worker import build_worker, release_worker
from store.db import session_factory
from store.models import Employee, Goal, KpiActual, Task
from tests.activities.conftest import person
from tests.workflows.fakes import finished, settle
from workflows.cycle import CycleWorkflow
from workflows.messages import CycleInput, SubmitTaskInput, SubmitTaskResult, cycle_workflow_id

DEFINITION = Path(__file__).parent / "carry-over-test" / "cycles" / "carry-over" / "v1.yaml"
FIRST, SECOND = "co-2027-q1", "co-2027-q2"
FIRST_START = datetime(2027, 1, 4, tzinfo=UTC)
SECOND_START = datetime(2027, 4, 5, tzinfo=UTC)
ENGINEERS = ("E101", "E102")
ACTUALS = {"E101": 280.0, "E102": 340.0}
"""p95 latency in ms each engineer reached in cycle 1."""
GOALS = [
    {"title": "Keep p95 latency low", "type": "kpi", "weight": 60, "metric": "p95 latency",
     "unit": "ms", "direction": "lower", "threshold": 400, "target": 300, "stretch": 250},
    {"title": "Learn Rust", "type": "development", "weight": 40},
]  # fmt: skip
MINUTES = {
    "strengths": "Owns incidents end to end",
    "development_areas": "Sharing knowledge",
    "action_items": [
        {"title": "Write the on-call runbook", "owner": "employee"},
        {"title": "Budget a conference", "owner": "manager"},
    ],
}
STEP = timedelta(days=3)


@pytest.fixture
def sessions(db: str) -> sessionmaker[Session]:
    """The store with its people (H001 runs HR, M100 manages the engineers) and the
    published definition."""
    with session_factory(db)() as session, session.begin():
        session.add_all(
            Employee(**p.model_dump())
            for p in [
                person("H001", "People"),
                person("M100", "Management", hire_date=date(2018, 1, 1)),
                *(person(e, manager_id="M100", job_title="Engineer") for e in ENGINEERS),
            ]
        )
        publish(session, load_file(DEFINITION))
    return session_factory(db)


async def start(
    env: WorkflowEnvironment, pinned: PinnedDefinition, task_queue: str, cycle_id: str, at: datetime
) -> WorkflowHandle[Any, Any]:
    return await env.client.start_workflow(
        CycleWorkflow.run,
        CycleInput(
            cycle_id=cycle_id,
            pinned=pinned,
            clock=ClockSpec(nominal_start=at, real_start=await env.get_current_time(), scale=1.0),
            launched_by="H001",
            use_search_attributes=False,
            poll_every="P1D",
        ),
        id=cycle_workflow_id(cycle_id),
        task_queue=task_queue,
    )


def open_tasks(sessions: sessionmaker[Session], cycle_id: str) -> list[Task]:
    with sessions() as session:
        return list(
            session.scalars(
                select(Task)
                .where(Task.cycle_id == cycle_id, Task.status.in_(("open", "overdue")))
                .order_by(Task.task_id)
            )
        )


def payload(sessions: sessionmaker[Session], pinned: PinnedDefinition, task: Task) -> Any:
    """What the people of cycle 1 hand in: goals and minutes as above, every check-in at
    half way, and the rest as a simulated person fills the real form."""
    if task.kind == "goal_draft":
        return {"goals": GOALS}
    if task.kind in ("goal_review", "results_approval"):
        return {"decision": "approve"}
    if task.kind == "interview_minutes":
        return MINUTES
    if task.kind == "checkin":
        with sessions() as session:
            ids = session.scalars(
                select(Goal.id).where(Goal.cycle_id == FIRST, Goal.owner_id == task.subject_id)
            ).all()
        return {"goals": [{"goal_id": i, "progress": 0.5, "confidence": 4} for i in ids]}
    context = TaskContext(
        kind=task.kind,
        form_schema=pinned.form_schemas[task.form_id],
        subject_id=task.subject_id,
        prefill=task.prefill or {},
        today=task.due_at.date() if task.due_at else None,
    )
    return fill_task(context, random.Random(task.task_id))


def record_actuals(sessions: sessionmaker[Session]) -> None:
    """The KPI actual each engineer reached, as the goals API records it on the goal
    (`target.actual`); the check-in form carries progress only."""
    with sessions() as session, session.begin():
        for goal in session.scalars(select(Goal).where(Goal.cycle_id == FIRST, Goal.type == "kpi")):
            goal.target = {**goal.target, "actual": ACTUALS[goal.owner_id]}


async def run_first_cycle(
    env: WorkflowEnvironment,
    sessions: sessionmaker[Session],
    pinned: PinnedDefinition,
    task_queue: str,
) -> None:
    handle = await start(env, pinned, task_queue, FIRST, FIRST_START)
    submitted: set[tuple[str, int]] = set()
    kinds: set[str] = set()
    for _ in range(60):
        await settle(0.3)
        for task in open_tasks(sessions, FIRST):
            if (task.task_id, task.revision) in submitted:
                continue
            if task.kind == "checkin":
                record_actuals(sessions)
            await env.client.get_workflow_handle(task.workflow_id).execute_update(
                "submit_task",
                SubmitTaskInput(
                    task_id=task.task_id,
                    submitter_id=task.assignee_id,
                    payload=payload(sessions, pinned, task),
                ),
                id=f"carry-over:{task.task_id}:r{task.revision}",
                result_type=SubmitTaskResult,
            )
            submitted.add((task.task_id, task.revision))
            kinds.add(task.kind)
        description = await handle.describe()
        if description.status is not None and description.status.name != "RUNNING":
            break
        await env.sleep(STEP)
    status = await finished(handle)
    assert status.status == "completed", status
    assert kinds >= {
        "goal_draft",
        "goal_review",
        "checkin",
        "manager_review",
        "interview_minutes",
        "acknowledgment",
    }


async def goal_draft_of(
    env: WorkflowEnvironment, sessions: sessionmaker[Session], employee_id: str
) -> Task:
    """The goal-draft task of cycle 2, once its participant opened it."""
    for _ in range(40):
        tasks = [
            t
            for t in open_tasks(sessions, SECOND)
            if t.kind == "goal_draft" and t.subject_id == employee_id
        ]
        if tasks:
            return tasks[0]
        await settle(0.3)
    raise AssertionError(f"no goal draft of {employee_id} in {SECOND}")


async def test_two_cycles_carry_action_items_and_actuals_over(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    sessions: sessionmaker[Session],
    db: str,
) -> None:
    env = time_skipping_env
    with sessions() as session:
        pinned = resolve_pinned(session, "carry-over@1")
    worker = build_worker(
        env.client,
        Settings(database_url=db, task_queue=task_queue),
        session_factory=sessions,
        graceful_shutdown=timedelta(seconds=1),
    )
    async with worker:
        await run_first_cycle(env, sessions, pinned, task_queue)
        with sessions() as session:
            actuals = session.execute(
                select(KpiActual.employee_id, KpiActual.cycle_id, KpiActual.actual).order_by(
                    KpiActual.employee_id
                )
            ).all()
        assert [tuple(row) for row in actuals] == [(e, FIRST, ACTUALS[e]) for e in ENGINEERS], (
            "cycle 1's close recorded the actuals"
        )

        second = await start(env, pinned, task_queue, SECOND, SECOND_START)
        try:
            draft = await goal_draft_of(env, sessions, "E101")
        finally:
            await second.terminate(reason="the test read what it needed")
    release_worker(worker)
    prefill = draft.prefill or {}

    # (a) E101's own action item is a draft development goal, saying where it came from;
    # the manager's is not.
    assert prefill["goals"][0] == {
        "title": "Write the on-call runbook",
        "type": "development",
        "description": f"Agreed in the performance conversation of {FIRST}.",
    }
    assert "Budget a conference" not in str(prefill)
    # (b) The KPI's suggested targets come from cycle 1's recorded actual (280 ms), one
    # data point of E101's own history.
    (suggestion,) = prefill["suggested_targets"]
    assert suggestion["metric"] == "p95 latency"
    assert suggestion["direction"] == "lower"
    assert suggestion["source"]["basis"] == "person"
    assert suggestion["source"]["data_points"] == 1
    assert suggestion["target"] == ACTUALS["E101"]
    kpi = next(g for g in prefill["goals"] if g["type"] == "kpi")
    assert kpi["target"] == ACTUALS["E101"]
    assert kpi["description"].startswith("Targets suggested from 1 past results")
    # carry-over@1 keeps the default `open_goals: drop`: nothing else is carried.
    assert "carried_goals" not in prefill
