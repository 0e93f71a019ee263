"""Closing the loop: two consecutive cycles of the same population. When the first ends,
its action items become draft development goals of the second, and its KPI actuals are
recorded as the history the second suggests target ranges from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from activities.goals.store import kpi_history
from activities.records import RecordActivities
from activities.results.actuals import past_actuals
from activities.types import BuildPrefillInput, CloseCycleInput
from definitions.loader import load_file, load_text
from definitions.pinned import PinnedDefinition
from definitions.registry import publish
from store.models import Goal, KpiActual
from tests.activities.conftest import CYCLE, cycle_input, launched, open_input
from tests.activities.test_records_tasks import GOALS, fresh, opened, submit

FIRST = "ar-2026"
STOCK = Path(__file__).resolve().parents[2] / "definitions" / "cycles"


async def first_cycle(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    """ar-2026: E101 and E102 keep p95 latency low (E101 reached 280 ms, E102 340 ms);
    E101's conversation agreed a tech talk (E101's action) and a course (the manager's)."""
    await launched(records, pinned, FIRST)
    for employee in ("E101", "E102"):
        draft = await opened(records, open_input(employee, "goals", "goal_draft", cycle_id=FIRST))
        await submit(records, draft, {"goals": GOALS})
        review = await opened(
            records,
            open_input(employee, "goals", "goal_review", assignee="E100", cycle_id=FIRST),
        )
        await submit(records, review, {"decision": "approve"})
    # The actual as the goals API records it on the KPI goal (`target.actual`).
    kpis = [(g.id, g.owner_id, g.target) for g in fresh(session).scalars(select(Goal))]
    session.rollback()
    with session.begin():
        for goal_id, owner_id, target in kpis:
            if "metric" in target:
                actual = 280 if owner_id == "E101" else 340
                session.execute(
                    update(Goal)
                    .where(Goal.id == goal_id)
                    .values(target={**target, "actual": actual})
                )
    minutes = await opened(
        records,
        open_input("E101", "interview", "interview_minutes", assignee="E100", cycle_id=FIRST),
    )
    payload: dict[str, Any] = {
        "strengths": "Owns incidents end to end",
        "development_areas": "Sharing knowledge",
        "action_items": [
            {"title": "Give a tech talk on the billing rewrite", "owner": "employee"},
            {"title": "Budget a course", "owner": "manager"},
        ],
        "agreed_next_goals": ["Lead the payments migration"],
    }
    await submit(records, minutes, payload)


async def test_two_consecutive_cycles_carry_action_items_and_actuals_over(
    records: RecordActivities, pinned: PinnedDefinition, session: Session, employees: None
) -> None:
    await first_cycle(records, pinned, session)

    await records.close_cycle(CloseCycleInput(cycle_id=FIRST, status="completed"))
    await records.close_cycle(CloseCycleInput(cycle_id=FIRST, status="completed"))  # a retry
    await launched(records, pinned, CYCLE)

    # Action items: E101's own becomes a draft development goal of ar-2027.
    prefill = await records.build_prefill(
        BuildPrefillInput(cycle_id=CYCLE, employee_id="E101", phase_id="goals", kind="goal_draft")
    )
    assert prefill["goals"] == [
        {
            "title": "Give a tech talk on the billing rewrite",
            "type": "development",
            "description": f"Agreed in the performance conversation of {FIRST}.",
        }
    ]
    assert prefill["suggested_goals"] == ["Lead the payments migration"]

    # Actuals: recorded once per person and metric, with the basis of that time ...
    rows = fresh(session).scalars(select(KpiActual).order_by(KpiActual.employee_id)).all()
    assert [
        (r.cycle_id, r.employee_id, r.metric, r.unit, r.direction, r.actual, r.target) for r in rows
    ] == [
        (FIRST, "E101", "p95 latency", "ms", "lower", 280.0, {"target": 300}),
        (FIRST, "E102", "p95 latency", "ms", "lower", 340.0, {"target": 300}),
    ]
    assert {r.department for r in rows} == {"Engineering"}
    # ... and read back by ar-2027 as the history of its target ranges.
    history = past_actuals(session, CYCLE, "E101", "p95 latency")
    assert history["person"] == [280.0]
    assert sorted(history["department"]) == [280.0, 340.0]
    assert past_actuals(session, CYCLE, "E101", "uptime") == {
        "person": [],
        "role": [],
        "department": [],
    }
    # The goal-draft suggestions of ar-2027 read this recorded history.
    assert kpi_history(session, CYCLE, "E101", "p95 latency", 3) == history
    # The first cycle does not read its own actuals as history.
    assert past_actuals(session, FIRST, "E101", "p95 latency")["person"] == []


async def test_a_cancelled_cycle_records_no_actuals(
    records: RecordActivities, pinned: PinnedDefinition, session: Session, employees: None
) -> None:
    await first_cycle(records, pinned, session)

    await records.close_cycle(CloseCycleInput(cycle_id=FIRST, status="cancelled"))

    assert fresh(session).scalars(select(KpiActual)).all() == []


async def test_a_definition_can_keep_actuals_out_of_the_history(
    records: RecordActivities,
    pinned: PinnedDefinition,
    sessions: sessionmaker[Session],
    session: Session,
    employees: None,
) -> None:
    """probation-review@1 says `actuals_to_target_history: false`."""
    with sessions() as writing, writing.begin():
        for name in ("annual-review", "probation-review"):
            publish(writing, load_file(STOCK / name / "v1.yaml"))
    await first_cycle(records, pinned, session)
    await records.record_cycle(cycle_input(FIRST, definition_ref="probation-review@1"))

    await records.close_cycle(CloseCycleInput(cycle_id=FIRST, status="completed"))

    assert fresh(session).scalars(select(KpiActual)).all() == []


# --- open goals (`carry_over.open_goals`) ------------------------------------------------------


async def first_cycle_ends_with_open_goals(
    records: RecordActivities,
    pinned: PinnedDefinition,
    sessions: sessionmaker[Session],
    session: Session,
    definition_ref: str,
) -> None:
    """ar-2026 under `definition_ref` ends with E101's OKR in progress (40 %, a key
    result half reached), the KPI missed and the development goal achieved."""
    with sessions() as writing, writing.begin():
        for name in ("annual-review", "probation-review"):
            publish(writing, load_file(STOCK / name / "v1.yaml"))
    await first_cycle(records, pinned, session)
    await records.record_cycle(cycle_input(FIRST, definition_ref=definition_ref))
    with sessions() as writing, writing.begin():
        for goal in writing.scalars(select(Goal).where(Goal.owner_id == "E101")):
            if goal.type == "okr":
                goal.status, goal.progress = "in_progress", 0.4
                goal.target = {
                    **goal.target,
                    "key_results": [{**goal.target["key_results"][0], "current": 25}],
                }
            elif goal.type == "kpi":
                goal.status = "missed"
            else:
                goal.status, goal.progress = "achieved", 1.0
    await records.close_cycle(CloseCycleInput(cycle_id=FIRST, status="completed"))
    await launched(records, pinned, CYCLE)


async def goal_draft_prefill(records: RecordActivities, employee_id: str) -> dict[str, Any]:
    return await records.build_prefill(
        BuildPrefillInput(
            cycle_id=CYCLE, employee_id=employee_id, phase_id="goals", kind="goal_draft"
        )
    )


async def test_open_goals_carry_offers_the_goals_not_achieved_as_drafts(
    records: RecordActivities,
    pinned: PinnedDefinition,
    sessions: sessionmaker[Session],
    session: Session,
    employees: None,
) -> None:
    """probation-review@1 says `open_goals: carry`."""
    await first_cycle_ends_with_open_goals(records, pinned, sessions, session, "probation-review@1")
    ids = {
        g.type: g.id
        for g in fresh(session).scalars(
            select(Goal).where(Goal.cycle_id == FIRST, Goal.owner_id == "E101")
        )
    }

    prefill = await goal_draft_prefill(records, "E101")

    # After the action item's development goal: the OKR (in progress at 40 %, which lapsed
    # to missed when its period ended) and the missed KPI, measures kept, progress not;
    # the achieved development goal stays behind.
    assert prefill["goals"][0]["title"] == "Give a tech talk on the billing rewrite"
    carried = [g for g in prefill["goals"][1:] if g["description"].startswith("Carried")]
    assert carried == [
        {
            "title": "Ship the billing rewrite",
            "type": "okr",
            "description": f"Carried over from {FIRST} (missed, 40% done).",
            "key_results": [
                {"title": "Cut invoice errors by half", "committed": True, "target": 50}
            ],
        },
        {
            "title": "Keep p95 latency low",
            "type": "kpi",
            "description": f"Carried over from {FIRST} (missed, 0% done).",
            "metric": "p95 latency",
            "unit": "ms",
            "direction": "lower",
            "target": 300,
        },
    ]
    assert prefill["carried_goals"] == [
        {
            "cycle_id": FIRST,
            "goal_id": ids["okr"],
            "title": "Ship the billing rewrite",
            "status": "missed",
            "progress": 0.4,
        },
        {
            "cycle_id": FIRST,
            "goal_id": ids["kpi"],
            "title": "Keep p95 latency low",
            "status": "missed",
            "progress": 0.0,
        },
    ]
    # E102's goals were approved and never moved: all three lapsed open, all carried.
    other = await goal_draft_prefill(records, "E102")
    assert [s["title"] for s in other["carried_goals"]] == [g["title"] for g in GOALS]


async def test_open_goals_drop_offers_none(
    records: RecordActivities,
    pinned: PinnedDefinition,
    sessions: sessionmaker[Session],
    session: Session,
    employees: None,
) -> None:
    """annual-review@1 says `open_goals: drop` (the default)."""
    await first_cycle_ends_with_open_goals(records, pinned, sessions, session, "annual-review@1")

    prefill = await goal_draft_prefill(records, "E101")

    assert "carried_goals" not in prefill
    assert not any(g["description"].startswith("Carried") for g in prefill["goals"])
    assert "carried_goals" not in await goal_draft_prefill(records, "E102")


async def test_a_cancelled_cycle_carries_no_open_goals(
    records: RecordActivities,
    pinned: PinnedDefinition,
    sessions: sessionmaker[Session],
    session: Session,
    employees: None,
) -> None:
    with sessions() as writing, writing.begin():
        publish(writing, load_file(STOCK / "probation-review" / "v1.yaml"))
    await first_cycle(records, pinned, session)
    await records.record_cycle(cycle_input(FIRST, definition_ref="probation-review@1"))
    await records.close_cycle(CloseCycleInput(cycle_id=FIRST, status="cancelled"))
    await launched(records, pinned, CYCLE)

    assert "carried_goals" not in await goal_draft_prefill(records, "E101")


# --- action items (`action_items.become_development_goals`) -----------------------------------


@pytest.mark.parametrize(
    ("switch", "carried"),
    [
        ("    action_items:\n      become_development_goals: true", True),
        ("    action_items:\n      become_development_goals: false", False),
        ("      action_items_to_development_goals: true", True),
        ("      action_items_to_development_goals: false", False),
    ],
)
async def test_the_finished_cycles_definition_decides_whether_action_items_carry(
    records: RecordActivities,
    pinned: PinnedDefinition,
    sessions: sessionmaker[Session],
    session: Session,
    employees: None,
    switch: str,
    carried: bool,
) -> None:
    """The interview's `action_items.become_development_goals` and the results phase's
    `carry_over.action_items_to_development_goals` of the cycle that ended, both true in
    annual-review@1: either one false and the action items stay where they were."""
    path = STOCK / "annual-review" / "v1.yaml"
    text = path.read_text()
    default = switch.replace("false", "true")
    assert default in text
    with sessions() as writing, writing.begin():
        publish(writing, load_text(text.replace(default, switch), path=path))
    await first_cycle(records, pinned, session)
    await records.close_cycle(CloseCycleInput(cycle_id=FIRST, status="completed"))
    await launched(records, pinned, CYCLE)

    prefill = await records.build_prefill(
        BuildPrefillInput(cycle_id=CYCLE, employee_id="E101", phase_id="goals", kind="goal_draft")
    )

    development = [g["title"] for g in prefill.get("goals", []) if g["type"] == "development"]
    assert development == (["Give a tech talk on the billing rewrite"] if carried else [])
    assert ("suggested_goals" in prefill) is carried
