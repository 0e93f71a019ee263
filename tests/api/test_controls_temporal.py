"""An HR control through the API to a real Temporal dev server: the workflow's validator
refusal arrives as its HTTP error, an accepted control answers 200, and the same
Idempotency-Key is applied once — by the API's store, and by Temporal's Update id."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.types import ClockSpec
from api.app import create_app
from api.auth import Principal, Role
from api.services.cycles import control_update_id
from perfloop import cycles
from perfloop.settings import Settings
from store.db import session_scope
from tests.api.conftest import (
    CYCLE_ID,
    Token,
    add_cycle,
    add_tasks,
    make_task,
    publish_stock,
    serve,
    stock,
)
from tests.api.probe import FakeActivities, ProbeInput, SubmitProbeWorkflow

pytestmark = pytest.mark.temporal

GOALS = {"goals": [{"title": "Grow as a reviewer", "type": "development", "weight": 100}]}


async def test_reopen_through_the_api_to_a_real_workflow(
    dev_server: WorkflowEnvironment, settings: Settings, db: str, auth: Token
) -> None:
    publish_stock(db)
    with session_scope(db) as session:
        add_cycle(session)
    now = datetime.now(UTC)
    task = make_task("E012", due=now + timedelta(days=14))
    add_tasks(db, task)
    fakes = FakeActivities()
    task_queue = f"api-{uuid.uuid4().hex[:8]}"

    async def connect(_: Settings) -> Client:
        return dev_server.client

    app = create_app(settings, temporal_client_factory=connect)
    hr = auth("HR1", "hr-admin")
    key = f"reopen-{uuid.uuid4()}"
    reopen_url = f"/v1/cycles/{CYCLE_ID}/tasks/{task.task_id}/reopen"
    body = {"reason": "a goal is missing"}
    async with Worker(
        dev_server.client,
        task_queue=task_queue,
        workflows=[SubmitProbeWorkflow],
        activities=fakes.all(),
    ):
        handle = await dev_server.client.start_workflow(
            SubmitProbeWorkflow.run,
            ProbeInput(
                task_id=task.task_id,
                cycle_id=CYCLE_ID,
                assignee_id="E012",
                form_id="goal-draft",
                form_schema=stock("annual-review", 1).canonical()["forms"]["goal-draft"],
                due_at=task.due_at,
                clock=ClockSpec(nominal_start=now, real_start=now),
            ),
            id=task.workflow_id,
            task_queue=task_queue,
        )
        await asyncio.wait_for(fakes.task_opened.wait(), timeout=30)

        async for client in serve(app):
            still_open = await client.post(reopen_url, json=body, headers=hr)
            submitted = await client.post(
                f"/v1/tasks/{task.task_id}/submit", json={"payload": GOALS}, headers=auth("E012")
            )
            first = await client.post(reopen_url, json=body, headers={**hr, "Idempotency-Key": key})
            again = await client.post(reopen_url, json=body, headers={**hr, "Idempotency-Key": key})

        # Past the API's record of the key (say it expired), Temporal still knows the
        # Update id the key became: the reopen is not applied a second time.
        hr_admin = Principal("HR1", frozenset({Role.HR_ADMIN}), "test")
        direct = await cycles.reopen_task(
            dev_server.client,
            CYCLE_ID,
            task.workflow_id,
            task.task_id,
            reason="a goal is missing",
            requested_by="HR1",
            update_id=control_update_id("reopen_task", task.task_id, hr_admin, key),
        )
        reopened = await handle.query(SubmitProbeWorkflow.reopen_count)
        await handle.signal(SubmitProbeWorkflow.finish)
        await handle.result()

    assert still_open.status_code == 409, still_open.text
    assert still_open.json()["error"]["type"] == "TaskNotDone"
    assert submitted.status_code == 200, submitted.text
    assert first.status_code == 200, first.text
    assert first.json() == {
        "cycle_id": CYCLE_ID,
        "accepted": True,
        "detail": f"{task.task_id} reopened",
        "affected": 1,
    }
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert direct.detail == f"{task.task_id} reopened"
    assert reopened == 1
