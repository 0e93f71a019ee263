"""`GET /v1/cycles` (the store's cycles) and `GET /v1/cycles/{id}/analytics` (ratings
against the guideline, the 9-box)."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from store.db import session_scope
from tests.api.conftest import CYCLE_ID, Token
from tests.api.seed import add, participant, proposal, rating


@pytest.fixture
def rated(seeded: str) -> str:
    with session_scope(seeded) as session:
        add(
            session,
            *(participant(e, manager=None) for e in ("A1", "B1", "C1", "D1")),
            participant("S1", manager=None, group="Sales"),
            rating("A1", 3, final=4),
            rating("B1", 4, calibrated=3),
            rating("C1", 5),
            rating("D1", None),
            rating("S1", 2),
            proposal("A1", "high/high"),
            proposal("B1", "medium/medium"),
            proposal("C1", "high/high"),
            proposal("D1", None),
            proposal("S1", "low/medium", group="Sales"),
        )
    return seeded


def bands(body: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {band["rating"]: band for band in body["distribution"]}


async def test_cycles_are_listed_for_hr(client: AsyncClient, rated: str, auth: Token) -> None:
    response = await client.get("/v1/cycles", headers=auth("HR1", "hr-admin"))

    assert response.status_code == 200, response.text
    [cycle] = response.json()["items"]
    assert cycle["cycle_id"] == CYCLE_ID
    assert cycle["definition"] == "annual-review@1"
    assert cycle["title"] == "Annual performance review"
    assert (cycle["status"], cycle["participants"]) == ("running", 5)


async def test_the_distribution_against_the_guideline(
    client: AsyncClient, rated: str, auth: Token
) -> None:
    response = await client.get(f"/v1/cycles/{CYCLE_ID}/analytics", headers=auth("HR1", "hr-admin"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["participants"], body["rated"], body["unrated"]) == (5, 4, 1)
    assert body["groups"] == ["Engineering", "Sales"]
    assert body["tolerance_points"] == 10
    by_rating = bands(body)
    assert list(by_rating) == [5, 4, 3, 2, 1]
    # Final ratings: A1 4 (final), B1 3 (calibrated), C1 5 (computed), S1 2; D1 unrated.
    assert {r: b["count"] for r, b in by_rating.items()} == {5: 1, 4: 1, 3: 1, 2: 1, 1: 0}
    assert by_rating[3]["label"] == "Meets expectations"
    assert (by_rating[3]["percent"], by_rating[3]["guideline_percent"]) == (25.0, 60.0)
    assert by_rating[3]["outside_tolerance"] is True
    assert by_rating[4]["outside_tolerance"] is False  # 25 against 15: within 10 points
    assert by_rating[1]["outside_tolerance"] is False  # 0 against 5

    cells = {(c["performance"], c["potential"]): c["count"] for c in body["nine_box"]}
    assert len(body["nine_box"]) == 9
    assert body["nine_box"][0] == {"performance": "high", "potential": "low", "count": 0}
    assert cells[("high", "high")] == 2
    assert cells[("medium", "medium")] == 1
    assert cells[("low", "medium")] == 1
    assert body["nine_box_placed"] == 4


async def test_one_group(client: AsyncClient, rated: str, auth: Token) -> None:
    response = await client.get(
        f"/v1/cycles/{CYCLE_ID}/analytics?group=Sales", headers=auth("HR1", "hr-admin")
    )

    body = response.json()
    assert (body["group"], body["participants"], body["rated"]) == ("Sales", 1, 1)
    assert bands(body)[2]["percent"] == 100.0
    assert body["nine_box_placed"] == 1


async def test_refusals(client: AsyncClient, rated: str, auth: Token) -> None:
    hr = auth("HR1", "hr-admin")
    employee = await client.get(f"/v1/cycles/{CYCLE_ID}/analytics", headers=auth("A1"))
    listing = await client.get("/v1/cycles", headers=auth("A1"))
    unknown = await client.get("/v1/cycles/nope/analytics", headers=hr)
    group = await client.get(f"/v1/cycles/{CYCLE_ID}/analytics?group=Legal", headers=hr)

    assert employee.status_code == 403
    assert listing.status_code == 403
    assert (unknown.status_code, unknown.json()["error"]["type"]) == (404, "CycleNotFound")
    assert (group.status_code, group.json()["error"]["type"]) == (404, "GroupNotFound")


async def test_an_hrbp_sees_the_departments_they_partner_only(
    client: AsyncClient, rated: str, auth: Token
) -> None:
    hrbp = auth("E010", "hrbp", departments=("Sales",))
    own = await client.get(f"/v1/cycles/{CYCLE_ID}/analytics?group=Sales", headers=hrbp)
    other = await client.get(f"/v1/cycles/{CYCLE_ID}/analytics?group=Engineering", headers=hrbp)
    everyone = await client.get(f"/v1/cycles/{CYCLE_ID}/analytics", headers=hrbp)

    assert own.status_code == 200, own.text
    assert own.json()["participants"] == 1
    assert (other.status_code, other.json()["error"]["type"]) == (403, "NotAllowed")
    assert (everyone.status_code, everyone.json()["error"]["type"]) == (403, "NotAllowed")
