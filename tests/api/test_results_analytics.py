"""`GET /v1/cycles/{id}/analytics`, what the results phase adds: per-group distributions,
calibration shifts, the high-performer profile, pay spend against the budget (3.5% of
payroll per department in annual-review@1), succession slates and talent decisions.
Every figure below is computed by hand from the seed."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient

from store.db import session_scope
from store.models import AuditEvent, Goal, ResultProposal, TalentDecision
from tests.api.conftest import CYCLE_ID, T0, Token, make_task
from tests.api.seed import add, participant, person, rating


def proposal(
    employee_id: str,
    box: str,
    *,
    group: str = "Engineering",
    merit: str = "0",
    requested: str | None = None,
    bonus: str = "0",
    lump_sum: str = "0",
    flags: tuple[str, ...] = (),
) -> ResultProposal:
    return ResultProposal(
        cycle_id=CYCLE_ID,
        employee_id=employee_id,
        group=group,
        nine_box=box,
        merit_amount=Decimal(merit),
        base_merit_amount=Decimal(requested or merit),
        bonus=Decimal(bonus),
        lump_sum=Decimal(lump_sum),
        flags=list(flags),
    )


def goal(owner: str, n: int, weight: int, progress: float) -> Goal:
    return Goal(
        id=f"g-{owner}-{n}", cycle_id=CYCLE_ID, owner_id=owner, task_id=f"t-{owner}",
        title="Goal", type="okr", weight=weight, progress=progress, status="approved",
    )  # fmt: skip


def checkin(subject: str, seq: int, *, submitted: bool, late: bool = False) -> Any:
    return make_task(
        subject, phase="monitoring", kind="checkin", form="checkin", seq=seq,
        status="submitted" if submitted else "open", late=late,
    )  # fmt: skip


@pytest.fixture
def results(seeded: str) -> str:
    people = [
        person("R1", "Rosa", title="Engineer"),
        person("R2", "Raj", title="Engineer"),
        person("R3", "Rui", title="Engineer"),
        person("R4", "Rita", title="Account Executive", department="Sales"),
    ]
    for employee, hired, level in zip(
        people,
        (date(2020, 1, 4), date(2026, 1, 4), None, date(2024, 1, 4)),
        (3, 2, 2, 4),
        strict=True,
    ):
        employee.hire_date = hired
        employee.level = level
    with session_scope(seeded) as session:
        add(
            session,
            *people,
            *(participant(e, manager=None) for e in ("R1", "R2", "R3")),
            participant("R4", manager=None, group="Sales"),
            rating("R1", 4, calibrated=5),
            rating("R2", 3),
            rating("R3", 4, calibrated=3),
            rating("R4", 5),
            proposal(
                "R1", "high/high", merit="3000", bonus="9000", flags=("succession_candidate",)
            ),
            proposal("R2", "medium/medium", merit="1800", requested="2000"),
            proposal("R3", "medium/medium", merit="1800"),
            proposal(
                "R4", "high/medium", group="Sales", merit="1500", bonus="9000", lump_sum="500",
                flags=("succession_candidate",),
            ),
            goal("R1", 1, 50, 1.0),
            goal("R1", 2, 50, 0.8),
            goal("R4", 1, 100, 0.7),
            goal("R2", 1, 100, 0.5),
            checkin("R1", 1, submitted=True),
            checkin("R1", 2, submitted=True),
            checkin("R4", 1, submitted=True, late=True),
            checkin("R4", 2, submitted=False),
            checkin("R2", 1, submitted=False),
            TalentDecision(
                cycle_id=CYCLE_ID, employee_id="R4", group="Sales", decision="key_position",
                position="Head of Engineering", decided_by="HR1", task_id="t-approve",
                at=T0 + timedelta(days=340),
            ),
        )  # fmt: skip
    return seeded


async def test_results_analytics_for_everyone(
    client: AsyncClient, results: str, auth: Token
) -> None:
    response = await client.get(f"/v1/cycles/{CYCLE_ID}/analytics", headers=auth("HR1", "hr-admin"))

    assert response.status_code == 200, response.text
    body = response.json()["results"]

    groups = {g["group"]: g for g in body["by_group"]}
    assert {g: (v["participants"], v["rated"]) for g, v in groups.items()} == {
        "Engineering": (3, 3),
        "Sales": (1, 1),
    }
    engineering = {b["rating"]: b["count"] for b in groups["Engineering"]["distribution"]}
    assert engineering == {5: 1, 4: 0, 3: 2, 2: 0, 1: 0}

    assert body["calibration"] == {
        "changed": 2, "up": 1, "down": 1, "net_points": 0,
        "moves": [{"from_rating": 4, "to_rating": 3, "count": 1},
                  {"from_rating": 4, "to_rating": 5, "count": 1}],
        "by_group": [{"group": "Engineering", "changed": 2, "up": 1, "down": 1}],
    }  # fmt: skip

    profile = body["high_performers"]
    assert profile["top_ratings"] == [4, 5]  # the 9-box's high performance
    # Top: R1 (8 years, attainment 0.9, 2 of 2 check-ins on time, level 3) and R4 (4 years,
    # 0.7, 1 submitted late and 1 open, level 4).
    assert profile["top"] == {
        "people": 2, "tenure_years": 6.0, "goal_attainment": 0.8, "checkins_per_person": 1.5,
        "checkins_on_time": 0.5, "level": 3.5, "roles": {"Account Executive": 1, "Engineer": 1},
    }  # fmt: skip
    # Rest: R2 (730 days = 1.999 years, 0.5, one open check-in) and R3 (no hire date, no goals).
    assert profile["rest"] == {
        "people": 2, "tenure_years": 1.999, "goal_attainment": 0.5, "checkins_per_person": 0.0,
        "checkins_on_time": 0.0, "level": 2.0, "roles": {"Engineer": 2},
    }  # fmt: skip

    pay = {p["group"]: p for p in body["pay"]}
    assert list(pay) == ["Engineering", "Sales", "*"]
    # Engineering: payroll 3 x 60,000; budget 3.5% = 6,300.00; merit 6,600.00 (requested
    # 6,800.00): 104.8% of the budget.
    assert pay["Engineering"] == {
        "group": "Engineering", "currency": "EUR", "payroll": "180000.00", "budget": "6300.00",
        "merit": "6600.00", "requested": "6800.00", "lump_sum": "0.00", "bonus": "9000.00",
        "used_percent": 104.8, "over_budget": True,
    }  # fmt: skip
    assert (pay["Sales"]["budget"], pay["Sales"]["used_percent"]) == ("2100.00", 71.4)
    # Department budgets: the company total's budget is their sum.
    assert (pay["*"]["payroll"], pay["*"]["budget"], pay["*"]["merit"]) == (
        "240000.00", "8400.00", "8100.00",
    )  # fmt: skip
    assert (pay["*"]["used_percent"], pay["*"]["over_budget"]) == (96.4, False)
    assert (pay["*"]["bonus"], pay["*"]["lump_sum"]) == ("18000.00", "500.00")

    slates = {
        s["position"]: [c["employee_id"] for c in s["candidates"]] for s in body["succession"]
    }
    # HR named R4 for Head of Engineering; otherwise the preferred cell (high/high) first.
    assert slates == {
        "Head of Engineering": ["R4", "R1"],
        "Head of Sales": ["R1", "R4"],
        "Finance Controller": ["R1", "R4"],
    }
    assert body["succession"][0]["candidates"][0]["nominated"] is True
    assert body["talent_decisions"] == {"key_position": 1}

    with session_scope(results) as session:
        audited = session.query(AuditEvent).filter_by(resource_type="cycle_analytics").all()
        assert [(a.action, a.actor_id, a.resource_id) for a in audited] == [
            ("pay.read", "HR1", CYCLE_ID)
        ]


async def test_results_analytics_of_one_group(
    client: AsyncClient, results: str, auth: Token
) -> None:
    hrbp = auth("E010", "hrbp", departments=("Sales",))
    response = await client.get(f"/v1/cycles/{CYCLE_ID}/analytics?group=Sales", headers=hrbp)

    assert response.status_code == 200, response.text
    body = response.json()["results"]
    assert [g["group"] for g in body["by_group"]] == ["Sales"]
    assert [p["group"] for p in body["pay"]] == ["Sales", "*"]
    assert body["calibration"]["changed"] == 0
    assert body["high_performers"]["rest"]["people"] == 0
    assert [[c["employee_id"] for c in s["candidates"]] for s in body["succession"]] == [
        ["R4"],
        ["R4"],
        ["R4"],
    ]
