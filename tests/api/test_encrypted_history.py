"""Encrypted payloads end to end: a review submitted through the API to a real Temporal
dev server never sits in clear in the workflow's history, nor in the logs; the worker
(and an operator with the key ring, through the codec server) still reads it."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.types import ClockSpec
from api.app import create_app
from api.auth import issue_dev_token
from perfloop.codec import ENCODING, KEY_ID, public_memo
from perfloop.dev import ApiServer
from perfloop.logs import JsonFormatter
from perfloop.settings import Settings
from perfloop.temporal import connect, free_port, temporal_binary
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

SENTINEL = "sentinel-comment-7c1e0b9d"
KEYS = f"ops-1={base64.b64encode(bytes(range(1, 33))).decode()}"


def payload_text(history_json: str) -> str:
    """Every payload's data in a `temporal workflow show --output json`, base64-decoded."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("data"), str) and isinstance(node.get("metadata"), dict):
                found.append(base64.b64decode(node["data"]).decode(errors="replace"))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(json.loads(history_json))
    assert found, "the history has payloads"
    return "\n".join(found)


async def show_with_codec(settings: Settings, workflow_id: str, *, codec: bool = True) -> str:
    """`temporal workflow show` with the API (uvicorn, this loop) as its codec server."""
    api_settings = settings.model_copy(update={"api_port": free_port()})
    api = ApiServer(api_settings)
    serving = asyncio.create_task(api.serve())
    try:
        while not api.started:  # noqa: ASYNC110 - uvicorn only has a flag
            await asyncio.sleep(0.02)
        token = issue_dev_token(settings, "OPS1", ("ops",))
        endpoint = f"http://127.0.0.1:{api_settings.api_port}/v1/codec"
        args = ["--codec-endpoint", endpoint, "--codec-auth", f"Bearer {token}"] if codec else []
        process = await asyncio.create_subprocess_exec(
            temporal_binary(),
            "workflow",
            "show",
            "--workflow-id",
            workflow_id,
            "--address",
            settings.temporal_address,
            "--namespace",
            settings.temporal_namespace,
            "--output",
            "json",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, err.decode()
        return out.decode()
    finally:
        api.exit()
        await serving


async def test_a_submitted_review_is_never_in_clear_in_the_history_or_the_logs(
    dev_server: WorkflowEnvironment,
    settings: Settings,
    db: str,
    auth: Token,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    keyed = settings.model_copy(
        update={
            "payload_keys": SecretStr(KEYS),
            "temporal_address": dev_server.client.service_client.config.target_host,
            "temporal_namespace": dev_server.client.namespace,
        }
    )
    publish_stock(db)
    with session_scope(db) as session:
        add_cycle(session)
    now = datetime.now(UTC)
    task = make_task(
        "E012",
        phase="evaluation",
        kind="self_review",
        form="self-review",
        due=now + timedelta(days=14),
    )
    add_tasks(db, task)
    fakes = FakeActivities()
    task_queue = f"codec-{uuid.uuid4().hex[:8]}"
    client = await connect(keyed)  # what the worker and the API use: encrypting
    review = {
        "competencies": {"ownership": 4},
        "rating": 4,
        "strengths": f"Led the migration. {SENTINEL}",
        "improvements": "Delegate more.",
    }

    async with Worker(
        client, task_queue=task_queue, workflows=[SubmitProbeWorkflow], activities=fakes.all()
    ):
        handle = await client.start_workflow(
            SubmitProbeWorkflow.run,
            ProbeInput(
                task_id=task.task_id,
                cycle_id=CYCLE_ID,
                assignee_id="E012",
                form_id="self-review",
                form_schema=stock("annual-review", 1).canonical()["forms"]["self-review"],
                due_at=task.due_at,
                clock=ClockSpec(nominal_start=now, real_start=now),
            ),
            id=task.workflow_id,
            task_queue=task_queue,
            memo={"definition": public_memo("annual-review@1"), "note": SENTINEL},
        )
        await asyncio.wait_for(fakes.task_opened.wait(), timeout=30)
        async for http in serve(create_app(keyed)):  # the API's own Temporal client
            submitted = await http.post(
                f"/v1/tasks/{task.task_id}/submit",
                json={"payload": review},
                headers=auth("E012"),
            )
        await handle.signal(SubmitProbeWorkflow.finish)
        assert await handle.result() == 1

    assert submitted.status_code == 200, submitted.text
    # The worker read it in clear: the activity got the review.
    assert [s.payload for s in fakes.submissions] == [review]

    # The raw history, read without the codec (what the server, its database and Temporal
    # UI without a codec server hold): every payload is ciphertext under our key id.
    raw = await dev_server.client.get_workflow_handle(task.workflow_id).fetch_history()
    raw_bytes = b"".join(event.SerializeToString() for event in raw.events)
    assert SENTINEL.encode() not in raw_bytes
    assert SENTINEL not in raw.to_json()
    assert ENCODING in raw_bytes
    assert KEY_ID.encode() in raw_bytes
    assert b"Delegate more" not in raw_bytes
    # The memo's definition ref stays readable without the codec; other memo fields do not.
    described = await dev_server.client.get_workflow_handle(task.workflow_id).describe()
    assert await described.memo_value("definition") == "annual-review@1"
    assert (
        described.raw_description.workflow_execution_info.memo.fields["note"].metadata["encoding"]
        == ENCODING
    )

    # An operator reads it through the codec server, as Temporal UI and CLI do.
    shown = await show_with_codec(keyed, task.workflow_id)
    assert SENTINEL in payload_text(shown)
    assert SENTINEL not in payload_text(await show_with_codec(keyed, task.workflow_id, codec=False))

    # Nothing logged it either, in any format.
    assert caplog.records, "the test captured the stack's logs"
    formatter = JsonFormatter()
    for record in caplog.records:
        assert SENTINEL not in record.getMessage()
        assert SENTINEL not in formatter.format(record)
