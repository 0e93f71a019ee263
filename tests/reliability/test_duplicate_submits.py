"""The same task submitted again and again, at once: one record."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from store.models import Goal, Task, TaskEvent
from tests.reliability.harness import Stage, until
from workflows.messages import SubmitTaskInput, SubmitTaskResult

pytestmark = [pytest.mark.temporal, pytest.mark.reliability]


async def test_duplicate_and_concurrent_submits_make_one_record(stage: Stage) -> None:
    stage.start_worker()
    await stage.launch(people=False)
    people = stage.people
    assert people is not None
    assert stage.client is not None

    def drafts() -> list[dict[str, Any]]:
        return [t for t in people._open_tasks() if t["kind"] == "goal_draft"]

    await until(lambda: bool(drafts()), "a goal draft to open")
    task = drafts()[0]
    payload = await asyncio.to_thread(people._payload, task)
    handle = stage.client.get_workflow_handle(task["workflow_id"])

    async def submit(update_id: str) -> Any:
        try:
            return await handle.execute_update(
                "submit_task",
                SubmitTaskInput(
                    task_id=task["task_id"], submitter_id=task["assignee_id"], payload=payload
                ),
                id=update_id,
                result_type=SubmitTaskResult,
            )
        except WorkflowUpdateFailedError as exc:
            return exc.cause

    # A retried request (one idempotency key, sent four times at once) and four
    # different ones (a double click, a second tab), all in flight together.
    ids = ["retried"] * 4 + [f"other-{n}" for n in range(4)]
    outcomes = await asyncio.wait_for(asyncio.gather(*(submit(i) for i in ids)), 30)
    accepted = [o for o in outcomes if isinstance(o, SubmitTaskResult)]
    refused = [o for o in outcomes if isinstance(o, ApplicationError)]
    assert len(accepted) + len(refused) == len(ids), outcomes
    assert {o.type for o in refused} <= {"TaskNotOpen"}, refused

    def answer(outcome: Any) -> Any:
        if isinstance(outcome, ApplicationError):
            return (outcome.type, outcome.message)
        return outcome

    # Every copy of one request gets the same answer (accepted, or beaten by another).
    retried = [answer(o) for o, i in zip(outcomes, ids, strict=True) if i == "retried"]
    assert all(o == retried[0] for o in retried), retried
    assert accepted, outcomes
    assert len({(o.task_id, o.accepted_at) for o in accepted}) == 1, accepted

    def recorded() -> bool:
        with stage.sessions() as session:
            row = session.get(Task, task["task_id"])
            return row is not None and row.revision > 0

    # The answers come once the Update is in the history; the store write follows.
    await until(recorded, "the submission's write")
    with stage.sessions() as session:
        row = session.get(Task, task["task_id"])
        assert row is not None
        assert (row.status, row.revision) == ("submitted", 1)
        submitted = session.scalar(
            select(func.count())
            .select_from(TaskEvent)
            .where(TaskEvent.task_id == task["task_id"], TaskEvent.what == "submitted")
        )
        assert submitted == 1
        goals = session.scalar(
            select(func.count())
            .select_from(Goal)
            .where(Goal.cycle_id == stage.cycle_id, Goal.owner_id == task["subject_id"])
        )
        assert goals == len(payload["goals"])
    print(f"{len(ids)} concurrent submits: {len(accepted)} accepted as one, {len(refused)} refused")
