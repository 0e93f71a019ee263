"""`GET /v1/tasks/{id}` and `POST /v1/tasks/{id}/submit`, against a fake Temporal."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from httpx import AsyncClient
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.services.tasks import submission_update_id
from perfloop.settings import Settings
from tests.api.conftest import T0, FakeTemporal, Token, add_tasks, app_for, make_task, serve
from workflows.builtin_forms import BUILTIN_FORMS, RESULTS_APPROVAL
from workflows.messages import SubmitTaskInput, SubmitTaskResult

GOALS = {"goals": [{"title": "Grow as a reviewer", "type": "development", "weight": 100}]}


def rejected(type_: str, message: str, *details: Any) -> WorkflowUpdateFailedError:
    """What the client raises when the workflow's validator refuses an Update."""
    return WorkflowUpdateFailedError(
        ApplicationError(message, *details, type=type_, non_retryable=True)
    )


def accepted(submission: SubmitTaskInput) -> SubmitTaskResult:
    return SubmitTaskResult(
        task_id=submission.task_id, status="submitted", late=False, accepted_at=T0
    )


@pytest.fixture
def goal_task(seeded: str) -> str:
    [task_id] = add_tasks(seeded, make_task(prefill={"goals": [{"title": "Carry over"}]}))
    return task_id


# --- reading ----------------------------------------------------------------------------


async def test_the_assignee_reads_the_task_with_its_form(
    client: AsyncClient, goal_task: str, auth: Token
) -> None:
    response = await client.get(f"/v1/tasks/{goal_task}", headers=auth("E012"))

    assert response.status_code == 200, response.text
    task = response.json()
    assert task["task_id"] == goal_task == "annual-2027/E012/goals/goal_draft"
    assert task["status"] == "open"
    assert task["due_at"] == "2027-02-03T00:00:00Z"
    assert task["prefill"] == {"goals": [{"title": "Carry over"}]}
    assert task["payload"] is None
    form = task["form"]
    assert form["id"] == "goal-draft"
    assert form["schema"]["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator(form["schema"]).validate(GOALS)


async def test_a_percent_encoded_task_id_works_too(
    client: AsyncClient, goal_task: str, auth: Token
) -> None:
    response = await client.get(f"/v1/tasks/{quote(goal_task, safe='')}", headers=auth("E012"))

    assert response.status_code == 200, response.text
    assert response.json()["task_id"] == goal_task


async def test_hr_admins_read_any_task_others_get_the_404_of_a_missing_one(
    client: AsyncClient, goal_task: str, auth: Token
) -> None:
    admin = await client.get(f"/v1/tasks/{goal_task}", headers=auth("HR1", "hr-admin"))
    colleague = await client.get(f"/v1/tasks/{goal_task}", headers=auth("E020", "hrbp"))
    missing = await client.get(f"/v1/tasks/{goal_task}x", headers=auth("E020", "hrbp"))

    assert admin.status_code == 200
    assert colleague.status_code == 404
    body = colleague.json()["error"]
    assert body["type"] == "TaskNotFound"
    assert body["message"] == missing.json()["error"]["message"].removesuffix("x")


async def test_an_unknown_task_is_404(client: AsyncClient, seeded: str, auth: Token) -> None:
    response = await client.get("/v1/tasks/annual-2027/E012/nope/nope", headers=auth("E012"))

    assert response.status_code == 404
    assert response.json()["error"] == {
        "type": "TaskNotFound",
        "message": "no task annual-2027/E012/nope/nope",
        "details": {},
    }


async def test_a_group_task_uses_a_builtin_form(
    client: AsyncClient, seeded: str, auth: Token
) -> None:
    [task_id] = add_tasks(
        seeded,
        make_task(
            "HR1", subject="@eng", phase="results", kind="results_approval", form=RESULTS_APPROVAL
        ),
    )

    response = await client.get(f"/v1/tasks/{task_id}", headers=auth("HR1", "hr-admin"))

    assert response.status_code == 200, response.text
    assert response.json()["form"]["schema"] == BUILTIN_FORMS[RESULTS_APPROVAL]


# --- submitting -------------------------------------------------------------------------


async def test_submit_runs_the_update_and_answers_its_result(
    client: AsyncClient, goal_task: str, auth: Token, temporal: FakeTemporal
) -> None:
    temporal.update_outcomes["submit_task"] = accepted

    response = await client.post(
        f"/v1/tasks/{goal_task}/submit",
        json={"payload": GOALS},
        headers={**auth("E012"), "Idempotency-Key": "req-1"},
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "task_id": goal_task,
        "status": "submitted",
        "late": False,
        "accepted_at": "2027-01-04T00:00:00Z",
    }
    [call] = temporal.updates
    assert call.workflow_id == "cycle/annual-2027/E012"
    assert call.name == "submit_task"
    assert call.arg == SubmitTaskInput(task_id=goal_task, submitter_id="E012", payload=GOALS)
    assert call.id == submission_update_id(goal_task, "E012", "req-1")


async def test_update_ids_are_scoped_to_task_and_submitter(
    client: AsyncClient, goal_task: str, auth: Token, temporal: FakeTemporal
) -> None:
    temporal.update_outcomes["submit_task"] = accepted
    url = f"/v1/tasks/{goal_task}/submit"

    for _ in range(2):
        await client.post(url, json={"payload": GOALS}, headers=auth("E012"))
    await client.post(
        url, json={"payload": GOALS}, headers={**auth("E012"), "Idempotency-Key": "k"}
    )
    repeated = await client.post(
        url, json={"payload": GOALS}, headers={**auth("E012"), "Idempotency-Key": "k"}
    )
    intruder = await client.post(
        url, json={"payload": GOALS}, headers={**auth("E013"), "Idempotency-Key": "k"}
    )

    ids = [call.id for call in temporal.updates]
    assert len(ids) == 3, "a repeated key is answered from the store; an intruder is 404"
    assert repeated.headers["idempotent-replayed"] == "true"
    assert intruder.status_code == 404
    assert ids[0] != ids[1], "without a key every request is a new submission"
    assert ids[2] == submission_update_id(goal_task, "E012", "k"), "the key is the Update id"
    assert submission_update_id(goal_task, "E013", "k") != ids[2], (
        "another person's identical key is another Update"
    )


async def test_a_payload_that_breaks_the_form_is_422_with_paths(
    client: AsyncClient, goal_task: str, auth: Token, temporal: FakeTemporal
) -> None:
    errors = [
        {"path": "/goals/0", "message": "'weight' is a required property"},
        {"path": "/goals/0/type", "message": "'vibes' is not one of ['okr', 'kpi']"},
    ]
    temporal.update_outcomes["submit_task"] = rejected(
        "InvalidPayload", "payload does not match the form", errors
    )

    response = await client.post(
        f"/v1/tasks/{goal_task}/submit",
        json={"payload": {"goals": [{"title": "x", "type": "vibes"}]}},
        headers=auth("E012"),
    )

    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "type": "InvalidPayload",
            "message": "payload does not match the form",
            "details": {"errors": errors},
        }
    }


@pytest.mark.parametrize(
    ("type_", "status"),
    [("TaskNotOpen", 409), ("NotAssignee", 403), ("TaskNotFound", 404), ("Surprise", 409)],
)
async def test_workflow_refusals_map_to_http(
    client: AsyncClient,
    goal_task: str,
    auth: Token,
    temporal: FakeTemporal,
    type_: str,
    status: int,
) -> None:
    temporal.update_outcomes["submit_task"] = rejected(type_, f"refused: {type_}")

    response = await client.post(
        f"/v1/tasks/{goal_task}/submit", json={"payload": GOALS}, headers=auth("E012")
    )

    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == type_
    assert response.json()["error"]["message"] == f"refused: {type_}"


async def test_a_finished_workflow_is_409(
    client: AsyncClient, goal_task: str, auth: Token, temporal: FakeTemporal
) -> None:
    temporal.update_outcomes["submit_task"] = RPCError(
        "workflow execution already completed", RPCStatusCode.NOT_FOUND, b""
    )

    response = await client.post(
        f"/v1/tasks/{goal_task}/submit", json={"payload": GOALS}, headers=auth("E012")
    )

    assert response.status_code == 409
    assert response.json()["error"]["type"] == "WorkflowClosed"


async def test_a_task_missing_from_the_store_is_404_without_asking_temporal(
    client: AsyncClient, seeded: str, auth: Token, temporal: FakeTemporal
) -> None:
    response = await client.post(
        "/v1/tasks/annual-2027/E012/x/y/submit", json={"payload": GOALS}, headers=auth("E012")
    )

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "TaskNotFound"
    assert temporal.updates == []


@pytest.mark.parametrize(
    ("body", "headers", "path"),
    [
        ({"payload": GOALS, "extra": 1}, {}, "/body/extra"),
        ({}, {}, "/body/payload"),
        ({"payload": [1, 2]}, {}, "/body/payload"),
        ({"payload": GOALS}, {"Idempotency-Key": "x" * 201}, "/header/Idempotency-Key"),
    ],
)
async def test_malformed_submissions_are_422(
    client: AsyncClient,
    goal_task: str,
    auth: Token,
    temporal: FakeTemporal,
    body: dict[str, Any],
    headers: dict[str, str],
    path: str,
) -> None:
    response = await client.post(
        f"/v1/tasks/{goal_task}/submit", json=body, headers={**auth("E012"), **headers}
    )

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "InvalidRequest"
    assert [e["path"] for e in error["details"]["errors"]] == [path]
    assert temporal.updates == []


async def test_temporal_down_is_503(settings: Settings, goal_task: str, auth: Token) -> None:
    async for client in serve(app_for(settings, temporal=None)):
        response = await client.post(
            f"/v1/tasks/{goal_task}/submit", json={"payload": GOALS}, headers=auth("E012")
        )

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"]["type"] == "TemporalUnavailable"


async def test_the_store_down_is_503(settings: Settings, auth: Token) -> None:
    unreachable = settings.model_copy(
        update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"}
    )
    async for client in serve(app_for(unreachable, FakeTemporal())):
        response = await client.get("/v1/me/tasks", headers=auth("E012"))

    assert response.status_code == 503
    assert response.json()["error"]["type"] == "StoreUnavailable"
    assert "nobody" not in response.text


async def test_the_store_down_is_503_for_a_submission_too(
    settings: Settings, auth: Token, temporal: FakeTemporal
) -> None:
    """A submission's statements go to psycopg's own connections on PostgreSQL
    (`store.driver`); the store being down is the same 503, with a key or without."""
    unreachable = settings.model_copy(
        update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"}
    )
    url = "/v1/tasks/c1/E012/goals/goal_draft/submit"
    async for client in serve(app_for(unreachable, temporal)):
        keyed = await client.post(
            url, json={"payload": GOALS}, headers={**auth("E012"), "Idempotency-Key": "k"}
        )
        unkeyed = await client.post(url, json={"payload": GOALS}, headers=auth("E012"))

    for response in (keyed, unkeyed):
        assert response.status_code == 503, response.text
        assert response.json()["error"]["type"] == "StoreUnavailable"
        assert "nobody" not in response.text
    assert temporal.updates == []
