"""Submitting through the API to a real Temporal dev server: the Update's validator
refuses a bad payload (422 with its path), accepts a good one (200) and the task reads
as submitted at once, and the same Idempotency-Key twice is one submission."""

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


async def test_submit_through_the_api_to_a_real_workflow(
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

        url = f"/v1/tasks/{task.task_id}/submit"
        good = {"goals": [{"title": "Grow as a reviewer", "type": "development", "weight": 100}]}
        bad = {"goals": [{"title": "Grow", "type": "vibes", "weight": 100}]}
        key = {"Idempotency-Key": f"submit-{uuid.uuid4()}"}
        async for client in serve(app):
            refused = await client.post(url, json={"payload": bad}, headers=auth("E012"))
            intruder = await client.post(url, json={"payload": good}, headers=auth("E020"))
            first = await client.post(url, json={"payload": good}, headers={**auth("E012"), **key})
            shown = await client.get(f"/v1/tasks/{task.task_id}", headers=auth("E012"))
            again = await client.post(url, json={"payload": good}, headers={**auth("E012"), **key})
            other = await client.post(url, json={"payload": good}, headers=auth("E012"))

        await handle.signal(SubmitProbeWorkflow.finish)
        revisions = await handle.result()

    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["type"] == "InvalidPayload"
    assert "/goals/0/type" in [item["path"] for item in error["details"]["errors"]]

    # Someone else's task: the API answers as if it did not exist, before the workflow.
    assert intruder.status_code == 404, intruder.text
    assert intruder.json()["error"]["type"] == "TaskNotFound"

    assert first.status_code == 200, first.text
    assert first.json()["status"] == "submitted"
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    # Read your own write: the workflow's store write comes a moment after the answer (and
    # here never, its activities are fakes), yet the task reads as submitted at once.
    assert shown.status_code == 200, shown.text
    assert shown.json()["status"] == "submitted"
    assert shown.json()["submitted_at"] is not None

    assert other.status_code == 409, other.text
    assert other.json()["error"]["type"] == "TaskNotOpen"

    assert len(fakes.submissions) == 1
    assert fakes.submissions[0].submitter_id == "E012"
    assert fakes.submissions[0].payload == good
    assert revisions == 1


async def test_a_reviewer_declines_a_peer_review_through_the_api(
    dev_server: WorkflowEnvironment, settings: Settings, db: str, auth: Token
) -> None:
    publish_stock(db)
    with session_scope(db) as session:
        add_cycle(session)
    now = datetime.now(UTC)
    task = make_task(
        "E012",
        subject="E011",
        phase="evaluation",
        kind="peer_review",
        form="peer-review",
        due=now + timedelta(days=14),
    )
    add_tasks(db, task)
    fakes = FakeActivities()
    task_queue = f"api-{uuid.uuid4().hex[:8]}"

    async def connect(_: Settings) -> Client:
        return dev_server.client

    app = create_app(settings, temporal_client_factory=connect)
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
                subject_id="E011",
                phase_id="evaluation",
                kind="peer_review",
                form_id="peer-review",
                form_schema=stock("annual-review", 1).canonical()["forms"]["peer-review"],
                due_at=task.due_at,
                clock=ClockSpec(nominal_start=now, real_start=now),
                declinable=True,
            ),
            id=task.workflow_id,
            task_queue=task_queue,
        )
        await asyncio.wait_for(fakes.task_opened.wait(), timeout=30)

        url = f"/v1/tasks/{task.task_id}"
        async for client in serve(app):
            mine = await client.get(url, headers=auth("E012"))
            reviewed = await client.get(url, headers=auth("E011"))
            no_reason = await client.post(
                f"{url}/submit", json={"payload": {"decline": True}}, headers=auth("E012")
            )
            declined = await client.post(
                f"{url}/submit",
                json={"payload": {"decline": True, "reason": "We never worked together."}},
                headers=auth("E012"),
            )
        await handle.signal(SubmitProbeWorkflow.finish)
        await handle.result()

    assert mine.status_code == 200, mine.text
    assert mine.json()["assignee_id"] == "E012"
    # The person reviewed never sees the request (nor who holds it).
    assert reviewed.status_code == 404, reviewed.text
    assert no_reason.status_code == 422, no_reason.text
    assert no_reason.json()["error"]["type"] == "InvalidPayload"
    assert "reason" in no_reason.text
    assert declined.status_code == 200, declined.text
    (submission,) = fakes.submissions
    assert submission.payload == {"decline": True, "reason": "We never worked together."}
    assert submission.kind == "peer_review"
