"""A deterministic stand-in for the people of a test cycle: it submits open tasks
through the real path (the `submit_task` Update), with payloads per task kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.client import Client

from tests.workflows.fakes import FakeTask, FakeWorld
from workflows.messages import SubmitTaskInput, SubmitTaskResult

ENGINE_TEST_PAYLOADS: dict[str, dict[str, Any]] = {
    "goal_draft": {
        "goals": [{"title": "Grow", "type": "okr", "weight": 100, "parent_id": "org-1"}]
    },
    "goal_review": {"decision": "approve"},
    "department_objectives": {"objectives": [{"title": "Win the market"}]},
    "checkin": {"confidence": 4},
    "self_review": {"rating": 4},
    "manager_review": {"rating": 3},
    "interview_minutes": {"summary": "A good year", "action_items": []},
    "acknowledgment": {"decision": "acknowledge"},
    "calibration": {"adjustments": []},
    "results_approval": {"decision": "approve"},
}


async def submit(client: Client, task: FakeTask, payload: dict[str, Any]) -> SubmitTaskResult:
    handle = client.get_workflow_handle(task.workflow_id)
    return await handle.execute_update(
        "submit_task",
        SubmitTaskInput(task_id=task.task_id, submitter_id=task.assignee_id, payload=payload),
        result_type=SubmitTaskResult,
    )


async def submit_open_tasks(
    client: Client,
    world: FakeWorld,
    *,
    payloads: dict[str, dict[str, Any]] = ENGINE_TEST_PAYLOADS,
    hold: Callable[[FakeTask], bool] = lambda task: False,
) -> list[SubmitTaskResult]:
    results = []
    for task in sorted(world.open_tasks(), key=lambda t: t.task_id):
        if hold(task):
            continue
        results.append(await submit(client, task, payloads[task.kind]))
    return results
