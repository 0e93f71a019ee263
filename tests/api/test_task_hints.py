"""`GET /v1/tasks/{id}` carries UI hints from the cycle's definition: the keys of map
fields and the rules checked beyond the form's schema."""

from __future__ import annotations

from httpx import AsyncClient

from tests.api.conftest import Token, add_tasks, make_task


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

    assert hints[checkin] == {"keys": {}, "rules": []}
