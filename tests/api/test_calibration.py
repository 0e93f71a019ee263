"""`GET /v1/cycles/{id}/calibration/{group}` and `GET /v1/cycles/{id}/bias`: what a
calibrator weighs, who may see it, and that peer reviewers never appear in it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from store.db import session_scope
from store.models import AuditEvent, CalibrationChange, Rating, Review
from tests.api.conftest import CYCLE_ID, T0, Token, add_tasks, make_task
from tests.api.org import BY_NAME, ENGINEERING, SUBJECT, add_org
from tests.api.seed import participant

URL = f"/v1/cycles/{CYCLE_ID}/calibration/{ENGINEERING}"
PEER = "E005"


def review(subject: str, reviewer: str, kind: str, overall: float, n: int) -> Review:
    return Review(
        task_id=f"{CYCLE_ID}/{subject}/evaluation/{kind}_review-{n}",
        cycle_id=CYCLE_ID,
        subject_id=subject,
        reviewer_id=reviewer,
        kind=kind,
        ratings={"a": overall, "b": overall, "c": overall},
        overall=overall,
        comments={},
        at=T0 + timedelta(days=300 + n),
    )


@pytest.fixture
def world(seeded: str) -> str:
    add_org(seeded)
    with session_scope(seeded) as session:
        session.add_all(
            [
                participant("E003", manager="E002"),
                participant(SUBJECT, manager="E003"),
                participant(PEER, manager="E003"),
                participant("E010", manager="E001", group="Sales"),
                Rating(
                    cycle_id=CYCLE_ID,
                    employee_id="E003",
                    score=3.0,
                    rating=3,
                    sources={"manager_review": 3.0},
                ),
                Rating(
                    cycle_id=CYCLE_ID,
                    employee_id=SUBJECT,
                    score=4.6,
                    rating=5,
                    final_rating=4,
                    calibrated_rating=4,
                    sources={"manager_review": 5.0, "goal_attainment": 3.0},
                ),
                Rating(cycle_id=CYCLE_ID, employee_id=PEER, score=3.2, rating=3, sources={}),
                CalibrationChange(
                    cycle_id=CYCLE_ID,
                    employee_id=SUBJECT,
                    task_id=f"{CYCLE_ID}/@Engineering/evaluation/calibration",
                    group=ENGINEERING,
                    from_rating=5,
                    to_rating=4,
                    reason="strong, but the goals were light",
                    calibrator_id="E002",
                    at=T0 + timedelta(days=320),
                ),
                review(SUBJECT, "E003", "manager", 5, 1),
                review(PEER, "E003", "manager", 5, 2),
                review("E003", "E002", "manager", 3, 3),
                review(SUBJECT, PEER, "peer", 2, 4),
            ]
        )
    add_tasks(
        seeded,
        make_task(
            "E002",
            subject="@Engineering",
            phase="evaluation",
            kind="calibration",
            form="calibration-adjustment",
        ),
    )
    return seeded


def headers(auth: Token, name: str) -> dict[str, str]:
    caller = BY_NAME[name]
    return auth(caller.employee_id, *caller.roles, departments=caller.departments)


async def test_a_calibrator_sees_the_distribution_outliers_changes_and_task(
    client: AsyncClient, world: str, auth: Token
) -> None:
    response = await client.get(URL, headers=headers(auth, "skip-level"))

    assert response.status_code == 200, response.text
    body = response.json()
    members = {m["employee_id"]: m for m in body["members"]}
    assert set(members) == {"E003", SUBJECT, PEER}
    assert members[SUBJECT]["final_rating"] == 4
    assert members[SUBJECT]["name"] == "Sam Subject"
    assert members[SUBJECT]["outlier"] is True  # manager 5 and goals 3 disagree by 2
    by_rating = {row["rating"]: row for row in body["distribution"]}
    assert by_rating[3]["count"] == 2
    assert by_rating[4]["count"] == 1
    assert by_rating[3]["guideline"] == 60
    assert body["tolerance_points"] == 10
    [change] = body["changes"]
    assert change["reason"] == "strong, but the goals were light"
    assert body["task"]["task_id"] == f"{CYCLE_ID}/@Engineering/evaluation/calibration"
    # Managers' statistics only: the peer reviewer is nowhere in the picture.
    assert [m["reviewer_id"] for m in body["managers"]] == ["E002", "E003"]
    assert PEER not in {m["reviewer_id"] for m in body["managers"]}
    with session_scope(world) as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "rating.read" in actions


@pytest.mark.parametrize(
    ("caller", "status"),
    [
        ("skip-level", 200),
        ("hrbp", 200),
        ("hr-admin", 200),
        ("self", 404),
        ("manager", 404),
        ("hrbp-other-dept", 404),
        ("ops", 404),
    ],
)
async def test_who_may_calibrate(
    client: AsyncClient, world: str, auth: Token, caller: str, status: int
) -> None:
    response = await client.get(URL, headers=headers(auth, caller))
    assert response.status_code == status, response.text


async def test_an_unknown_group_or_cycle_is_404(
    client: AsyncClient, world: str, auth: Token
) -> None:
    admin = headers(auth, "hr-admin")
    group = await client.get(f"/v1/cycles/{CYCLE_ID}/calibration/Nowhere", headers=admin)
    cycle = await client.get(f"/v1/cycles/nope/calibration/{ENGINEERING}", headers=admin)
    assert group.json()["error"]["type"] == "GroupNotFound"
    assert cycle.json()["error"]["type"] == "CycleNotFound"


async def test_bias_statistics_are_for_hr_admins(
    client: AsyncClient, world: str, auth: Token
) -> None:
    admin = await client.get(f"/v1/cycles/{CYCLE_ID}/bias", headers=headers(auth, "hr-admin"))
    hrbp = await client.get(f"/v1/cycles/{CYCLE_ID}/bias", headers=headers(auth, "hrbp"))

    assert admin.status_code == 200, admin.text
    assert hrbp.status_code == 403
    body = admin.json()
    reviewers = {r["reviewer_id"]: r for r in body["reviewers"]}
    assert set(reviewers) == {"E002", "E003", PEER}
    assert reviewers["E003"]["mean"] == 5.0
    assert reviewers["E003"]["halo_spread"] == 0.0
    assert "halo" in reviewers["E003"]["flags"]
    assert [m["reviewer_id"] for m in body["managers"]] == ["E002", "E003"]
    assert body["population_mean"] == pytest.approx(3.75)
