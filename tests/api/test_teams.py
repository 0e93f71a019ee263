"""`GET /v1/teams/me`: a manager's direct reports and their progress in a cycle."""

from __future__ import annotations

from httpx import AsyncClient

from store.db import session_scope
from tests.api.conftest import Token, add_tasks, make_task
from tests.api.seed import add, participant, person, phase


def team(url: str) -> None:
    with session_scope(url) as session:
        add(
            session,
            person("M1", "Maja Holm", title="Engineering Manager"),
            person("A1", "Ada Lund", manager="M1"),
            person("B1", "Bo Nyström", manager="M1"),
            person("C1", "Cato Dahl", manager="M1"),  # joined after the cycle's snapshot
            person("X1", "Xia Berg"),
            participant("M1", manager=None),
            participant("A1", manager="M1"),
            participant("B1", manager="M1"),
            participant("X1", manager=None),
            phase("A1", "goals", "completed", day=10),
            phase("A1", "monitoring", "active", day=30),
            phase("B1", "goals", "active", day=1),
        )
    add_tasks(
        url,
        make_task("A1", status="submitted"),
        make_task("A1", phase="monitoring", kind="checkin", form="checkin", status="overdue"),
        make_task("A1", phase="monitoring", kind="checkin", form="checkin", seq=2),
        make_task(
            "A1", phase="monitoring", kind="checkin", form="checkin", seq=3, status="cancelled"
        ),
        make_task("M1", subject="A1", kind="goal_review", form="goal-review"),
        make_task("B1", status="closed"),
        make_task("X1"),
    )


async def test_a_manager_sees_each_report_s_progress(
    client: AsyncClient, seeded: str, auth: Token
) -> None:
    team(seeded)

    response = await client.get("/v1/teams/me", headers=auth("M1"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["manager_id"], body["cycle_id"], body["cycles"]) == (
        "M1",
        "annual-2027",
        ["annual-2027"],
    )
    reports = {r["employee_id"]: r for r in body["reports"]}
    assert list(reports) == ["A1", "B1", "C1"]  # by name
    ada = reports["A1"]
    assert (ada["phase_id"], ada["phase_status"]) == ("monitoring", "active")
    assert (ada["tasks_total"], ada["tasks_done"], ada["tasks_overdue"]) == (3, 1, 1)
    assert ada["waiting_on_me"] == 1
    assert ada["next_due_at"] is not None
    bo = reports["B1"]
    assert (bo["phase_id"], bo["tasks_total"], bo["tasks_done"], bo["waiting_on_me"]) == (
        "goals",
        1,
        0,
        0,
    )
    assert bo["next_due_at"] is None
    cato = reports["C1"]
    assert cato["participating"] is False
    assert (cato["phase_id"], cato["tasks_total"]) == (None, 0)


async def test_someone_without_reports_gets_an_empty_team(
    client: AsyncClient, seeded: str, auth: Token
) -> None:
    team(seeded)

    response = await client.get("/v1/teams/me", headers=auth("X1"))

    assert response.status_code == 200
    assert response.json() == {"manager_id": "X1", "cycle_id": None, "cycles": [], "reports": []}


async def test_a_cycle_without_the_team_is_404(
    client: AsyncClient, seeded: str, auth: Token
) -> None:
    team(seeded)

    response = await client.get("/v1/teams/me?cycle_id=other-cycle", headers=auth("M1"))

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "CycleNotFound"
