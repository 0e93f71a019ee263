"""`GET /v1/tasks/{id}` carries UI hints from the cycle's definition: the keys of map
fields and the rules checked beyond the form's schema."""

from __future__ import annotations

from httpx import AsyncClient

from store.db import session_scope
from store.models import Goal
from tests.api.conftest import CYCLE_ID, Token, add_tasks, make_task
from tests.api.seed import add


def goal(goal_id: str, title: str, position: int, status: str = "approved") -> Goal:
    return Goal(
        id=goal_id,
        cycle_id=CYCLE_ID,
        owner_id="E012",
        task_id=f"{CYCLE_ID}/E012/goals/goal_draft",
        position=position,
        title=title,
        type="okr",
        weight=50,
        status=status,
    )


async def test_hints_follow_the_task_s_phase(client: AsyncClient, seeded: str, auth: Token) -> None:
    draft, review, minutes, checkin = add_tasks(
        seeded,
        make_task("E012"),
        make_task(
            "E010", subject="E012", phase="evaluation", kind="manager_review", form="manager-review"
        ),
        make_task(
            "E010",
            subject="E012",
            phase="interview",
            kind="interview_minutes",
            form="interview-minutes",
        ),
        make_task("E012", phase="monitoring", kind="checkin", form="checkin"),
    )
    with session_scope(seeded) as session:
        add(
            session,
            goal("g-2", "Grow revenue", 1),
            goal("g-1", "Ship the platform", 0),
            goal("g-old", "Dropped", 2, status="closed"),
        )
    hints = {}
    for task_id, who in ((draft, "E012"), (review, "E010"), (minutes, "E010"), (checkin, "E012")):
        response = await client.get(f"/v1/tasks/{task_id}", headers=auth(who))
        assert response.status_code == 200, response.text
        hints[task_id] = response.json()["ui"]

    # annual-review@1: 3 to 7 goals, aligned, OKR/KPI/development weighted 50/30/20.
    assert hints[draft]["keys"] == {}
    assert "Between 3 and 7 goals." in hints[draft]["rules"]
    assert "The goal weights add up to 100." in hints[draft]["rules"]
    assert any("OKR 50%" in rule for rule in hints[draft]["rules"])

    competencies = hints[review]["keys"]["competencies"]
    assert [c["id"] for c in competencies][:2] == ["delivers-results", "collaboration"]
    assert competencies[0]["title"] == "Delivers results"
    assert hints[review]["rules"] == []

    sections = hints[minutes]["keys"]["sections"]
    assert [s["id"] for s in sections] == ["look-back", "contributions", "feedback", "growth"]
    assert sections[0]["description"].startswith("How did the year go")

    # A check-in names the goals it updates: the subject's open goals, in their order.
    assert hints[checkin]["keys"] == {}
    assert hints[checkin]["options"] == {
        "goal_id": [
            {"id": "g-1", "title": "Ship the platform", "description": "okr"},
            {"id": "g-2", "title": "Grow revenue", "description": "okr"},
        ]
    }
