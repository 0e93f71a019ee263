"""HR controls on a running cycle and the list of cycles, against a fake Temporal."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from temporalio.service import RPCError, RPCStatusCode

from definitions.loader import load_text
from definitions.registry import publish
from store.db import session_scope
from tests.api.conftest import (
    CYCLE_ID,
    STOCK,
    T0,
    FakeTemporal,
    Token,
    add_cycle,
    add_tasks,
    make_task,
)
from tests.api.test_tasks import rejected
from workflows.messages import (
    CancelCycleInput,
    CancelParticipantInput,
    ClosePhaseInput,
    ControlResult,
    ExtendDeadlineInput,
    MigrateDefinitionInput,
    ReassignTaskInput,
    ReopenTaskInput,
)

BASE = f"/v1/cycles/{CYCLE_ID}"
NEW_DUE = T0 + timedelta(days=60)
DONE = ControlResult(detail="done", affected=3)


def hr(auth: Token, key: str | None = None) -> dict[str, str]:
    headers = auth("HR1", "hr-admin")
    return {**headers, "Idempotency-Key": key} if key else headers


@pytest.fixture
def goal_task(seeded: str) -> str:
    [task_id] = add_tasks(seeded, make_task(status="submitted"))
    return task_id


async def test_extend_a_deadline(
    client: AsyncClient, db: str, auth: Token, temporal: FakeTemporal
) -> None:
    temporal.update_outcomes["extend_deadline"] = DONE
    body = {"phase_id": "goals", "new_due": NEW_DUE.isoformat(), "reason": "  holidays "}

    response = await client.post(f"{BASE}/deadlines", json=body, headers=hr(auth, "x1"))

    assert response.status_code == 200, response.text
    assert response.json() == {
        "cycle_id": CYCLE_ID,
        "accepted": True,
        "detail": "done",
        "affected": 3,
    }
    [call] = temporal.updates
    assert call.workflow_id == f"cycle/{CYCLE_ID}"
    assert call.name == "extend_deadline"
    assert call.arg == ExtendDeadlineInput(
        phase_id="goals", new_due=NEW_DUE, reason="holidays", requested_by="HR1"
    )
    assert call.id == "extend_deadline:goals:HR1:x1", "the Idempotency-Key is the Update id"


@pytest.mark.parametrize(
    ("path", "update", "body", "expected"),
    [
        (
            "/phases/goals/close",
            "close_phase",
            {"reason": "late start"},
            ClosePhaseInput(phase_id="goals", reason="late start", requested_by="HR1"),
        ),
        (
            "/participants/E012/cancel",
            "cancel_participant",
            {"reason": "left"},
            CancelParticipantInput(employee_id="E012", reason="left", requested_by="HR1"),
        ),
        (
            "/cancel",
            "cancel_cycle",
            {"reason": "reorganisation"},
            CancelCycleInput(reason="reorganisation", requested_by="HR1"),
        ),
    ],
)
async def test_cycle_controls_send_their_update(
    client: AsyncClient,
    db: str,
    auth: Token,
    temporal: FakeTemporal,
    path: str,
    update: str,
    body: dict[str, Any],
    expected: object,
) -> None:
    temporal.update_outcomes[update] = DONE

    response = await client.post(f"{BASE}{path}", json=body, headers=hr(auth))

    assert response.status_code == 200, response.text
    [call] = temporal.updates
    assert (call.workflow_id, call.name, call.arg) == (f"cycle/{CYCLE_ID}", update, expected)
    assert call.id is None, "without a key Temporal picks the Update id"


async def test_reopen_goes_to_the_participant_workflow(
    client: AsyncClient, goal_task: str, auth: Token, temporal: FakeTemporal
) -> None:
    temporal.update_outcomes["reopen_task"] = ControlResult(detail="reopened", affected=1)
    body = {"reason": "missing a goal", "new_due": NEW_DUE.isoformat()}

    response = await client.post(
        f"{BASE}/tasks/{goal_task}/reopen", json=body, headers=hr(auth, "r1")
    )

    assert response.status_code == 200, response.text
    [call] = temporal.updates
    assert call.workflow_id == f"cycle/{CYCLE_ID}/E012"
    assert call.arg == ReopenTaskInput(
        task_id=goal_task, reason="missing a goal", requested_by="HR1", new_due=NEW_DUE
    )
    assert call.id == f"reopen_task:{goal_task}:HR1:r1"


async def test_reassign_goes_to_the_participant_workflow(
    client: AsyncClient, seeded: str, auth: Token, temporal: FakeTemporal
) -> None:
    [task_id] = add_tasks(seeded, make_task("M1", subject="E012", kind="manager_review"))
    temporal.update_outcomes["reassign_task"] = ControlResult(detail="reassigned", affected=1)

    response = await client.post(
        f"{BASE}/tasks/{task_id}/reassign",
        json={"new_assignee_id": "M2", "reason": "M1 is on leave"},
        headers=hr(auth),
    )

    assert response.status_code == 200, response.text
    [call] = temporal.updates
    assert call.workflow_id == f"cycle/{CYCLE_ID}/E012"
    assert call.arg == ReassignTaskInput(
        task_id=task_id, new_assignee_id="M2", reason="M1 is on leave", requested_by="HR1"
    )


async def test_group_tasks_and_tasks_of_other_cycles_are_refused(
    client: AsyncClient, seeded: str, auth: Token, temporal: FakeTemporal
) -> None:
    group = make_task("HRBP1", subject="@eng", kind="department_objectives")
    group.workflow_id = f"cycle/{CYCLE_ID}"
    [group_id] = add_tasks(seeded, group)
    body = {"reason": "redo"}

    as_group = await client.post(f"{BASE}/tasks/{group_id}/reopen", json=body, headers=hr(auth))
    elsewhere = await client.post(
        f"/v1/cycles/other/tasks/{group_id}/reopen", json=body, headers=hr(auth)
    )
    unknown = await client.post(
        f"{BASE}/tasks/{CYCLE_ID}/X/p/k/reopen", json=body, headers=hr(auth)
    )

    assert as_group.status_code == 422
    assert as_group.json()["error"]["type"] == "GroupTask"
    assert elsewhere.status_code == 404
    assert unknown.status_code == 404
    assert temporal.updates == []


async def test_migrate_pins_the_newer_version(
    client: AsyncClient, seeded: str, auth: Token, temporal: FakeTemporal
) -> None:
    source = (STOCK / "annual-review" / "v1.yaml").read_text(encoding="utf-8")
    v2 = load_text(re.sub(r"(?m)^  version: 1\b", "  version: 2", source, count=1))
    with session_scope(seeded) as session:
        publish(session, v2)
    temporal.update_outcomes["migrate_definition"] = ControlResult(detail="now on v2", affected=9)

    response = await client.post(
        f"{BASE}/migrate", json={"definition": "annual-review@2"}, headers=hr(auth)
    )

    assert response.status_code == 200, response.text
    [call] = temporal.updates
    assert isinstance(call.arg, MigrateDefinitionInput)
    assert call.arg.pinned.ref == "annual-review@2"
    assert call.arg.pinned.sha256 == v2.sha256
    assert call.arg.requested_by == "HR1"


async def test_a_refused_migration_lists_its_reasons(
    client: AsyncClient, seeded: str, auth: Token, temporal: FakeTemporal
) -> None:
    reasons = ["annual-review@1 is not newer than annual-review@1"]
    temporal.update_outcomes["migrate_definition"] = rejected(
        "MigrationRefused", "cannot migrate", reasons
    )

    response = await client.post(
        f"{BASE}/migrate", json={"definition": "annual-review@1"}, headers=hr(auth)
    )

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["type"] == "MigrationRefused"
    assert error["details"] == {"reasons": reasons}


@pytest.mark.parametrize(
    ("type_", "status"),
    [
        ("CycleOver", 409),
        ("PhaseOver", 409),
        ("InvalidInput", 422),
        ("NotFound", 404),
    ],
)
async def test_validator_refusals_map_to_http(
    client: AsyncClient, db: str, auth: Token, temporal: FakeTemporal, type_: str, status: int
) -> None:
    temporal.update_outcomes["extend_deadline"] = rejected(type_, f"refused: {type_}")
    body = {"phase_id": "goals", "new_due": NEW_DUE.isoformat(), "reason": "r"}

    response = await client.post(f"{BASE}/deadlines", json=body, headers=hr(auth))

    assert response.status_code == status
    assert response.json()["error"] == {
        "type": type_,
        "message": f"refused: {type_}",
        "details": {},
    }


@pytest.mark.parametrize(
    ("message", "status", "type_"),
    [
        ("workflow not found", 404, "CycleNotFound"),
        ("workflow execution already completed", 409, "WorkflowClosed"),
    ],
)
async def test_missing_or_finished_cycles(
    client: AsyncClient,
    db: str,
    auth: Token,
    temporal: FakeTemporal,
    message: str,
    status: int,
    type_: str,
) -> None:
    temporal.update_outcomes["cancel_cycle"] = RPCError(message, RPCStatusCode.NOT_FOUND, b"")

    response = await client.post(f"{BASE}/cancel", json={"reason": "r"}, headers=hr(auth))

    assert response.status_code == status
    assert response.json()["error"]["type"] == type_


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/cancel", {}),
        ("/cancel", {"reason": "   "}),
        ("/phases/goals/close", {"reason": ""}),
        ("/deadlines", {"phase_id": "goals", "new_due": "2027-03-01T00:00:00", "reason": "r"}),
        ("/deadlines", {"phase_id": "goals", "new_due": NEW_DUE.isoformat()}),
        ("/participants/E1/cancel", {"reason": "r", "extra": 1}),
        ("/migrate", {"definition": "annual-review@9"}),
    ],
)
async def test_bad_controls_are_refused_before_the_workflow(
    client: AsyncClient,
    seeded: str,
    auth: Token,
    temporal: FakeTemporal,
    path: str,
    body: dict[str, Any],
) -> None:
    response = await client.post(f"{BASE}{path}", json=body, headers=hr(auth))

    assert response.status_code in (404, 422), response.text
    assert temporal.updates == []


async def test_controls_are_for_hr_admins(
    client: AsyncClient, goal_task: str, auth: Token, temporal: FakeTemporal
) -> None:
    for role in ("hrbp", "ops", "employee"):
        response = await client.post(
            f"{BASE}/cancel", json={"reason": "r"}, headers=auth("X1", role)
        )
        assert response.status_code == 403
    assert temporal.updates == []


async def test_a_repeated_control_is_replayed_not_resent(
    client: AsyncClient, db: str, auth: Token, temporal: FakeTemporal
) -> None:
    temporal.update_outcomes["close_phase"] = DONE
    url, body = f"{BASE}/phases/goals/close", {"reason": "done early"}

    first = await client.post(url, json=body, headers=hr(auth, "close-1"))
    again = await client.post(url, json=body, headers=hr(auth, "close-1"))

    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert len(temporal.updates) == 1


# --- the list -----------------------------------------------------------------------------


async def test_cycles_are_listed_newest_first_with_filters(
    client: AsyncClient, seeded: str, auth: Token
) -> None:
    with session_scope(seeded) as session:
        for n, status in enumerate(("completed", "running", "cancelled")):
            cycle = add_cycle(session, f"older-{n}")
            cycle.status = status
            cycle.created_at = datetime.now(UTC) - timedelta(days=n + 1)

    everything = await client.get("/v1/cycles", headers=auth("X1", "hrbp"))
    running = await client.get("/v1/cycles", params={"status": "running"}, headers=hr(auth))
    of_v2 = await client.get(
        "/v1/cycles", params={"definition": "annual-review@2"}, headers=hr(auth)
    )
    employee = await client.get("/v1/cycles", headers=auth("E012"))

    assert everything.status_code == 200, everything.text
    items = everything.json()["items"]
    assert [item["cycle_id"] for item in items] == [CYCLE_ID, "older-0", "older-1", "older-2"]
    assert items[0]["definition"] == "annual-review@1"
    assert items[0]["launched_by"] == "HR1"
    assert [item["cycle_id"] for item in running.json()["items"]] == [CYCLE_ID, "older-1"]
    assert of_v2.json() == {"items": [], "next_cursor": None}
    assert employee.status_code == 403
