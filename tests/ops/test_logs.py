"""JSON logs: correlation ids from Temporal and from API requests, and nothing else."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from temporalio import activity, workflow

from api.metrics import HttpMetrics
from perfloop.logs import JsonFormatter, configure_logging, cycle_of_workflow

SENTINEL = "private-comment-5b2d"


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("activities.records", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_activity_records_carry_temporal_ids_and_the_cycle() -> None:
    line = JsonFormatter().format(
        record(
            "task %s opened",
            "annual-2027/E1/goals/goal_draft",
            temporal_activity={
                "workflow_id": "cycle/annual-2027/E1",
                "run_id": "r1",
                "activity_type": "open_task",
                "attempt": 2,
                "task_queue": "perfloop",
                "heartbeat_details": [SENTINEL],
            },
            task_id="annual-2027/E1/goals/goal_draft",
            comment=SENTINEL,
        )
    )

    entry = json.loads(line)
    assert entry["message"] == "task annual-2027/E1/goals/goal_draft opened"
    assert entry["level"] == "info"
    assert entry["cycle_id"] == "annual-2027"
    assert entry["task_id"] == "annual-2027/E1/goals/goal_draft"
    assert entry["workflow_id"] == "cycle/annual-2027/E1"
    assert entry["activity_type"] == "open_task"
    assert entry["attempt"] == 2
    assert SENTINEL not in line, "only ids are copied from a record"


def test_workflow_ids_name_their_cycle() -> None:
    assert cycle_of_workflow("cycle/q3") == "q3"
    assert cycle_of_workflow("cycle/q3/E1") == "q3"
    assert cycle_of_workflow("something-else") is None


def test_errors_name_their_type() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        made = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(JsonFormatter().format(made))
    assert entry["error"] == "ValueError"
    assert "Traceback" in entry["traceback"]


async def test_api_requests_set_request_ids_and_route_templates() -> None:
    seen: list[dict[str, object]] = []
    formatter = JsonFormatter()

    async def handler(request: Request) -> PlainTextResponse:
        # Logged after the router matched, like every service's log lines.
        seen.append(json.loads(formatter.format(record("handling"))))
        return PlainTextResponse("ok")

    app = HttpMetrics(Starlette(routes=[Route("/v1/cycles/{cycle_id}", handler)]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/v1/cycles/annual-2027", headers={"X-Request-ID": "req-1"})

    assert response.status_code == 200
    (entry,) = seen
    assert entry["request_id"] == "req-1"
    assert entry["method"] == "GET"
    assert entry["route"] == "/v1/cycles/{cycle_id}"
    assert entry["cycle_id"] == "annual-2027"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = ("perfloop", "activities", "api", "temporalio.activity", "temporalio.workflow")
    levels = {name: logging.getLogger(name).level for name in names}
    on_message = (
        activity.logger.activity_info_on_message,
        workflow.logger.workflow_info_on_message,
    )
    yield
    activity.logger.activity_info_on_message, workflow.logger.workflow_info_on_message = on_message
    for name, previous in levels.items():
        logging.getLogger(name).setLevel(previous)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_logging_is_one_object_a_line(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json")
    logging.getLogger("perfloop.test").info("hello %s", "ops", extra={"cycle_id": "c1"})

    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["message"] == "hello ops"
    assert entry["cycle_id"] == "c1"
    assert entry["logger"] == "perfloop.test"
