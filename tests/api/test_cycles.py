"""`POST /v1/cycles` and `GET /v1/cycles/{id}`, against a fake Temporal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.types import CycleProgress, PhaseCounts
from api.auth import DevAuthenticator
from perfloop.settings import Settings
from tests.api.conftest import T0, FakeTemporal, Token, app_for, publish_stock, serve
from workflows.messages import CycleInput, CycleStatus, TaskView


@pytest.fixture
def published(db: str) -> str:
    return publish_stock(db)


async def test_hr_admin_launches_a_cycle(
    client: AsyncClient, published: str, auth: Token, temporal: FakeTemporal, settings: Settings
) -> None:
    body = {
        "definition": "annual-review@latest",
        "cycle_id": "annual-2027",
        "starts": "2027-01-04",
        "org_objectives": [{"id": "O1", "title": "Grow"}],
    }

    response = await client.post("/v1/cycles", json=body, headers=auth("HR1", "hr-admin"))

    assert response.status_code == 201, response.text
    assert response.json() == {
        "cycle_id": "annual-2027",
        "workflow_id": "cycle/annual-2027",
        "definition": "annual-review@1",
        "status": "launching",
    }
    assert response.headers["location"] == "/v1/cycles/annual-2027"
    [started] = temporal.started
    assert started["workflow"] == "CycleWorkflow"
    assert started["id"] == "cycle/annual-2027"
    assert started["task_queue"] == settings.task_queue
    cycle_input: CycleInput = started["arg"]
    assert cycle_input.launched_by == "HR1"
    assert cycle_input.pinned.ref == "annual-review@1"
    assert cycle_input.clock.nominal_start.date().isoformat() == "2027-01-04"
    assert cycle_input.clock.scale == 1.0
    assert cycle_input.org_objectives == ({"id": "O1", "title": "Grow"},)


async def test_a_cycle_id_is_made_up_when_omitted(
    client: AsyncClient, published: str, auth: Token, temporal: FakeTemporal
) -> None:
    response = await client.post(
        "/v1/cycles", json={"definition": "annual-review@1"}, headers=auth("HR1", "hr-admin")
    )

    assert response.status_code == 201, response.text
    assert response.json()["cycle_id"].startswith("annual-review-")


@pytest.mark.parametrize(
    ("body", "status", "type_"),
    [
        ({"definition": "annual-review@9"}, 404, "DefinitionNotFound"),
        ({"definition": "not a ref"}, 422, "InvalidDefinitionRef"),
        ({"definition": "annual-review@1", "population": "all"}, 422, "InvalidRequest"),
        ({"definition": "annual-review@1", "cycle_id": "a/b"}, 422, "InvalidRequest"),
        ({"definition": "annual-review@1", "speed": 0}, 422, "InvalidRequest"),
    ],
)
async def test_bad_launches(
    client: AsyncClient,
    published: str,
    auth: Token,
    temporal: FakeTemporal,
    body: dict[str, Any],
    status: int,
    type_: str,
) -> None:
    response = await client.post("/v1/cycles", json=body, headers=auth("HR1", "hr-admin"))

    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == type_
    assert temporal.started == []


async def test_a_taken_cycle_id_is_409(
    client: AsyncClient, published: str, auth: Token, temporal: FakeTemporal
) -> None:
    temporal.start_error = WorkflowAlreadyStartedError("cycle/annual-2027", "CycleWorkflow")

    response = await client.post(
        "/v1/cycles",
        json={"definition": "annual-review@1", "cycle_id": "annual-2027"},
        headers=auth("HR1", "hr-admin"),
    )

    assert response.status_code == 409
    assert response.json()["error"]["type"] == "CycleExists"


async def test_speed_is_refused_in_production(
    settings: Settings, published: str, auth: Token
) -> None:
    production = settings.model_copy(update={"environment": "production"})
    # Production accepts no dev tokens; stand in for the identity provider of issue 4.
    app = app_for(production, FakeTemporal(), authenticator=DevAuthenticator(settings))
    async for client in serve(app):
        response = await client.post(
            "/v1/cycles",
            json={"definition": "annual-review@1", "speed": 1000},
            headers=auth("HR1", "hr-admin"),
        )

    assert response.status_code == 422
    assert response.json()["error"]["type"] == "SpeedNotAllowed"


def cycle_status() -> CycleStatus:
    due = T0 + timedelta(days=30)
    return CycleStatus(
        cycle_id="annual-2027",
        definition_ref="annual-review@1",
        status="running",
        nominal_now=T0 + timedelta(days=3),
        phases={
            "goals": {
                "kind": "goal_setting",
                "opens": T0.isoformat(),
                "due": due.isoformat(),
                "closed": False,
                "counts": PhaseCounts(active=7, completed=3).model_dump(),
            },
            "review": {
                "kind": "evaluation",
                "opens": (T0 + timedelta(days=300)).isoformat(),
                "due": (T0 + timedelta(days=330)).isoformat(),
                "closed": False,
                "counts": {},
            },
        },
        progress=CycleProgress(participants=10, active=10, finished=0),
        gates_released=("objectives:goals:eng",),
        open_group_tasks=(
            TaskView(
                task_id="annual-2027/@eng/goals/department_objectives",
                phase_id="goals",
                kind="department_objectives",
                form_id="department-objectives",
                assignee_id="HRBP1",
                subject_id="@eng",
                status="open",
                due_at=due,
                opened_at=T0,
            ),
        ),
    )


@pytest.mark.parametrize("role", ["hr-admin", "hrbp", "ops"])
async def test_cycle_progress_phase_by_phase(
    client: AsyncClient, db: str, auth: Token, temporal: FakeTemporal, role: str
) -> None:
    temporal.query_outcomes["status"] = cycle_status()

    response = await client.get("/v1/cycles/annual-2027", headers=auth("X1", role))

    assert response.status_code == 200, response.text
    body = response.json()
    assert temporal.queries[0].workflow_id == "cycle/annual-2027"
    assert body["status"] == "running"
    assert body["definition"] == "annual-review@1"
    assert [phase["id"] for phase in body["phases"]] == ["goals", "review"]
    assert body["phases"][0]["counts"] == {
        "pending": 0,
        "active": 7,
        "waiting": 0,
        "completed": 3,
        "skipped": 0,
    }
    assert body["phases"][1]["counts"]["active"] == 0
    assert body["participants"] == {"participants": 10, "active": 10, "finished": 0}
    assert body["open_group_tasks"] == 1


async def test_an_unknown_cycle_is_404(
    client: AsyncClient, db: str, auth: Token, temporal: FakeTemporal
) -> None:
    temporal.query_outcomes["status"] = RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")

    response = await client.get("/v1/cycles/nope", headers=auth("HR1", "hr-admin"))

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "CycleNotFound"
