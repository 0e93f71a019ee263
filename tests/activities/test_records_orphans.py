"""A task a dead worker opened but the workflow never learnt of is closed when the
participant's phase is recorded as skipped or cancelled (found by tests/reliability)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.records import RecordActivities
from activities.types import RecordPhaseInput
from definitions.pinned import PinnedDefinition
from store.models import Task, TaskEvent
from tests.activities.conftest import CYCLE, START, FakeHris, FakeNotifier, launched, open_input


def phase_record(employee: str, phase: str, status: str) -> RecordPhaseInput:
    return RecordPhaseInput(
        cycle_id=CYCLE,
        employee_id=employee,
        group="Engineering",
        phase_id=phase,
        status=status,  # type: ignore[arg-type]
        at=START + timedelta(days=30),
    )


@pytest.mark.parametrize(
    ("phase_status", "task_status"), [("skipped", "closed"), ("cancelled", "cancelled")]
)
async def test_a_finished_phase_closes_its_orphaned_tasks_once(
    records: RecordActivities,
    pinned: PinnedDefinition,
    session: Session,
    phase_status: str,
    task_status: str,
) -> None:
    await launched(records, pinned)
    orphan = open_input("E101", "goals", "goal_draft")
    review = open_input("E101", "goals", "goal_review", assignee="E100")
    other_phase = open_input("E101", "review", "self_review")
    someone_else = open_input("E102", "goals", "goal_draft")
    for task in (orphan, review, other_phase, someone_else):
        await records.open_task(task)

    record = phase_record("E101", "goals", phase_status)
    await records.record_phase(record)
    await records.record_phase(record)  # a retried activity

    session.rollback()
    statuses = {
        row.task_id: row.status for row in session.execute(select(Task.task_id, Task.status))
    }
    assert statuses[orphan.task_id] == task_status
    assert statuses[review.task_id] == task_status
    assert statuses[other_phase.task_id] == "open"
    assert statuses[someone_else.task_id] == "open"
    events = session.execute(
        select(TaskEvent.what, TaskEvent.reason)
        .where(TaskEvent.task_id == orphan.task_id)
        .order_by(TaskEvent.at)
    ).all()
    assert [e.what for e in events] == ["opened", task_status]
    assert events[1].reason == f"phase {phase_status} for this participant"


async def test_a_completed_or_active_phase_leaves_tasks_alone(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    task = open_input("E101", "goals", "goal_draft")
    await records.open_task(task)
    await records.record_phase(phase_record("E101", "goals", "active"))
    await records.record_phase(phase_record("E101", "goals", "completed"))
    session.rollback()
    assert session.scalar(select(Task.status).where(Task.task_id == task.task_id)) == "open"


async def test_the_fault_hook_hears_of_each_commit_by_activity_name(
    sessions: sessionmaker[Session],
    hris: FakeHris,
    notifier: FakeNotifier,
    pinned: PinnedDefinition,
    session: Session,
) -> None:
    heard: list[str] = []
    records = RecordActivities(sessions, hris, notifier, after_commit=heard.append)
    await ActivityEnvironment().run(launched, records, pinned)
    heard.clear()
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, activity_type="open_task")
    await env.run(records.open_task, open_input("E101", "goals", "goal_draft"))
    assert heard == ["open_task"]
    assert session.scalar(select(Task.status)) == "open"  # committed before the hook ran
