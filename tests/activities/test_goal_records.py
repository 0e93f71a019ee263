"""Goals in the store beyond phase 1's draft and review (`activities/goals/`): the
change log, re-align and its approval, the objectives tree with roll-up, who is aligned
below an objective, the lapse at the cycle's end, coverage, bulk assignment and target
suggestions from a hand-computed history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.goals import store as goals
from activities.records import RecordActivities
from activities.types import BuildPrefillInput, CloseCycleInput
from definitions.pinned import PinnedDefinition
from store.models import Employee, Goal, GoalChange, Objective
from tests.activities.conftest import CYCLE, END, cycle_input, launched, open_input
from tests.activities.test_records_tasks import fresh, opened, submit

pytestmark = pytest.mark.usefixtures("employees")

DRAFT = [
    {"title": "Ship billing", "type": "okr", "weight": 60, "parent_id": "grow",
     "key_results": [{"title": "Invoices out", "committed": True, "target": 10}]},
    {"title": "Learn Rust", "type": "development", "weight": 40},
]  # fmt: skip


async def approved_goals(records: RecordActivities, employee: str = "E101") -> None:
    draft = await opened(records, open_input(employee, "goals", "goal_draft"))
    await submit(records, draft, {"goals": DRAFT})
    review = await opened(records, open_input(employee, "goals", "goal_review", assignee="E100"))
    await submit(records, review, {"decision": "approve"})


def goals_of(session: Session, owner: str) -> list[Goal]:
    return list(
        fresh(session).scalars(
            select(Goal).where(Goal.owner_id == owner).order_by(Goal.position, Goal.id)
        )
    )


async def test_drafting_and_approval_are_in_the_change_log(
    records: RecordActivities, pinned: PinnedDefinition, sessions: sessionmaker[Session]
) -> None:
    await launched(records, pinned)
    await approved_goals(records)
    with sessions() as session:
        first = goals_of(session, "E101")[0]
        log = goals.history(session, first.id)
    assert [(c.action, c.changed_by, c.status) for c in log] == [
        ("created", "E101", "applied"),
        ("status", "E100", "applied"),
    ]
    assert log[0].changes["goal"][1]["title"] == "Ship billing"
    assert log[1].changes == {"status": ["proposed", "approved"]}


async def test_realign_waits_for_the_manager_then_applies(
    records: RecordActivities, pinned: PinnedDefinition, sessions: sessionmaker[Session]
) -> None:
    await launched(records, pinned)
    await approved_goals(records)
    with sessions() as session:
        billing, rust = goals_of(session, "E101")
    realign = await opened(records, open_input("E101", "goals", "goal_realign"))
    prefill = await records.build_prefill(
        BuildPrefillInput(cycle_id=CYCLE, employee_id="E101", phase_id="goals", kind="goal_realign")
    )
    assert [g["id"] for g in prefill["goals"]] == [billing.id, rust.id]
    payload: dict[str, Any] = {
        "reason": "strategy_change",
        "explanation": "Billing moved to the platform team.",
        "goals": [
            {"id": rust.id, "title": "Learn Rust", "type": "development", "weight": 50},
            {"title": "Cut churn", "type": "okr", "weight": 50, "parent_id": "org-2"},
        ],
    }
    await submit(records, realign, payload)
    with sessions() as session:
        # Nothing changed yet: the definition sends changes after approval to the manager.
        assert [(g.title, g.weight, g.status) for g in goals_of(session, "E101")] == [
            ("Ship billing", 60, "approved"),
            ("Learn Rust", 40, "approved"),
            ("Cut churn", 50, "proposed"),
        ]
        pending = goals.pending_of(session, CYCLE, "E101")
        assert sorted(c.action for c in pending) == ["created", "dropped", "realign"]
        assert all(c.reason and "platform team" in c.reason for c in pending)
    review = await opened(
        records, open_input("E101", "goals", "goal_realign_review", assignee="E100")
    )
    await submit(records, review, {"decision": "approve"})
    with sessions() as session:
        assert [(g.title, g.weight, g.status) for g in goals_of(session, "E101")] == [
            ("Ship billing", 60, "dropped"),
            ("Learn Rust", 50, "approved"),
            ("Cut churn", 50, "in_progress"),
        ]
        assert goals.pending_of(session, CYCLE, "E101") == []
        log = goals.history(session, rust.id)
        assert log[-1].changes == {"weight": [40, 50]}
        assert log[-1].decided_by == "E100"


async def test_a_returned_realign_changes_nothing(
    records: RecordActivities, pinned: PinnedDefinition, sessions: sessionmaker[Session]
) -> None:
    await launched(records, pinned)
    await approved_goals(records)
    realign = await opened(records, open_input("E101", "goals", "goal_realign"))
    await submit(
        records,
        realign,
        {"reason": "other", "explanation": "Try something else.",
         "goals": [{"title": "Other", "type": "development", "weight": 100}]},
    )  # fmt: skip
    review = await opened(
        records, open_input("E101", "goals", "goal_realign_review", assignee="E100")
    )
    await submit(records, review, {"decision": "return", "comments": "Keep billing"})
    with sessions() as session:
        assert [(g.title, g.status) for g in goals_of(session, "E101")] == [
            ("Ship billing", "approved"),
            ("Learn Rust", "approved"),
            ("Other", "dropped"),
        ]
        statuses = set(fresh(session).scalars(select(GoalChange.status).where(
            GoalChange.task_id == realign.task_id)))  # fmt: skip
        assert statuses == {"rejected"}


def build_tree(session: Session) -> None:
    """org `grow` <- dept `eng-1` (weight 2) <- E100's goal (60, progress 0.5) <- E101's
    goal aligned to it (100, progress 1.0); `org-2` <- E200's goal (100, 0.3)."""
    session.add(
        Objective(cycle_id=CYCLE, objective_id="eng-1", level="department",
                  group="Engineering", parent_id="grow", title="Ship platform", weight=2)
    )  # fmt: skip
    rows = [
        ("m1", "E100", 60, "eng-1", 0.5),
        ("m2", "E100", 40, None, 0.0),
        ("r1", "E101", 100, "m1", 1.0),
        ("s1", "E200", 100, "org-2", 0.3),
    ]
    for goal_id, owner, weight, parent, progress in rows:
        session.add(
            Goal(id=goal_id, cycle_id=CYCLE, owner_id=owner, task_id="t", title=goal_id,
                 type="okr", weight=weight, parent_id=parent, status="approved",
                 progress=progress, target={})
        )  # fmt: skip


async def test_tree_rolls_up_and_finds_who_is_aligned_below(
    records: RecordActivities, pinned: PinnedDefinition, sessions: sessionmaker[Session]
) -> None:
    await launched(records, pinned)
    with sessions() as session, session.begin():
        build_tree(session)
    with sessions() as session:
        roots = {root.id: root for root in goals.tree(session, CYCLE)}
        below_grow = sorted(g.id for g in goals.aligned_below(session, CYCLE, "grow"))
        below_m1 = [g.id for g in goals.aligned_below(session, CYCLE, "m1")]
        below_org2 = [g.id for g in goals.aligned_below(session, CYCLE, "org-2")]
    # m1 rolls up from r1 (1.0); eng-1 = m1 = 1.0; grow = eng-1 = 1.0. org-2 = s1 = 0.3.
    grow = roots["grow"]
    assert grow.progress == 1.0
    assert [c.id for c in grow.children] == ["eng-1"]
    assert grow.children[0].children[0].id == "m1"
    assert roots["org-2"].progress == pytest.approx(0.3)
    assert roots["m2"].progress == 0.0  # not aligned: a root of its own
    assert below_grow == ["m1", "r1"]
    assert below_m1 == ["r1"]
    assert below_org2 == ["s1"]


async def test_goals_lapse_when_the_cycle_completes(
    records: RecordActivities, pinned: PinnedDefinition, sessions: sessionmaker[Session]
) -> None:
    await launched(records, pinned)
    with sessions() as session, session.begin():
        build_tree(session)
        session.get_one(Goal, "m2").status = "dropped"
    with sessions() as session:
        assert goals.effective_status(session.get_one(Goal, "m1"), None) == "in_progress"
    await records.close_cycle(CloseCycleInput(cycle_id=CYCLE, status="completed"))
    with sessions() as session:
        statuses = {g.id: g.status for g in fresh(session).scalars(select(Goal))}
        lapse = goals.history(session, "s1")
    assert statuses == {"m1": "missed", "m2": "dropped", "r1": "achieved", "s1": "missed"}
    assert [(c.action, c.changed_by, c.changes) for c in lapse] == [
        ("status", "system", {"status": ["approved", "missed"]})
    ]


async def test_coverage_and_bulk_assignment(
    records: RecordActivities, pinned: PinnedDefinition, sessions: sessionmaker[Session]
) -> None:
    await launched(records, pinned)  # participants E001, E100, E101, E102, E200
    with sessions() as session, session.begin():
        build_tree(session)
    with sessions() as session:
        everyone = goals.coverage(session, CYCLE)
        sales = goals.coverage(session, CYCLE, ["Sales"])
    # 4 goals, 3 aligned (m2 is not); E001 and E102 have none.
    assert (everyone.goals, everyone.aligned, everyone.participants) == (4, 3, 5)
    assert everyone.share_aligned == 0.75
    assert everyone.without_aligned_goal == ["E001", "E102"]
    assert sales.without_aligned_goal == []
    template = {"title": "Security training", "type": "development", "weight": 10}
    given: dict[str, Any] = {"cycle_id": CYCLE, "owners": ["E001", "E102"], "template": template}
    with sessions() as session, session.begin():
        created = goals.assign(session, **given, assigned_by="E900", key="k1", reason="policy")
    with sessions() as session, session.begin():
        again = goals.assign(session, **given, assigned_by="E900", key="k1", reason="policy")
    assert len(created) == 2
    assert again == []
    with sessions() as session:
        assert [(g.title, g.status) for g in goals_of(session, "E102")] == [
            ("Security training", "approved")
        ]
        assert goals.history(session, created[1])[0].action == "assigned"


async def test_kpi_targets_are_suggested_from_history_with_their_source(
    records: RecordActivities, pinned: PinnedDefinition, sessions: sessionmaker[Session]
) -> None:
    # Three past cycles; E101 closed 10 / 20 / 40 deals (person basis: 3 points, enough).
    # Role history (same job title, "AE") adds E102's 30 in the last one.
    with sessions() as session, session.begin():
        session.get_one(Employee, "E101").job_title = "AE"
        session.get_one(Employee, "E102").job_title = "AE"
    history = [("c-2024", 10.0), ("c-2025", 20.0), ("c-2026", 40.0)]
    for index, (cycle_id, actual) in enumerate(history):
        await records.record_cycle(
            cycle_input(
                cycle_id,
                nominal_start=END - timedelta(days=365 * (4 - index)),
                nominal_end=END - timedelta(days=365 * (3 - index)),
            )
        )
        with sessions() as session, session.begin():
            session.add(
                Goal(id=f"k-{cycle_id}", cycle_id=cycle_id, owner_id="E101", task_id="t",
                     title="Deals", type="kpi", weight=100, status="achieved", progress=1.0,
                     target={"metric": "deals", "direction": "higher", "actual": actual})
            )  # fmt: skip
    with sessions() as session, session.begin():
        session.add(
            Goal(id="k-peer", cycle_id="c-2026", owner_id="E102", task_id="t", title="Deals",
                 type="kpi", weight=100, status="achieved", progress=1.0,
                 target={"metric": "deals", "actual": 30.0})
        )  # fmt: skip
    await launched(records, pinned)
    prefill = await records.build_prefill(
        BuildPrefillInput(cycle_id=CYCLE, employee_id="E101", phase_id="goals", kind="goal_draft")
    )
    # annual-review: percentiles 25 / 50 / 90 over 10, 20, 40: positions 0.5, 1, 1.8
    # -> 15, 20, 20 + 0.8 * 20 = 36.
    [suggestion] = prefill["suggested_targets"]
    assert suggestion["metric"] == "deals"
    assert (suggestion["threshold"], suggestion["target"], suggestion["stretch"]) == (
        15.0,
        20.0,
        36.0,
    )
    assert suggestion["source"]["basis"] == "person"
    assert suggestion["source"]["data_points"] == 3
    # The form opens with the KPI goal, its targets filled in and their source said.
    [kpi] = [g for g in prefill["goals"] if g["type"] == "kpi"]
    assert (kpi["metric"], kpi["threshold"], kpi["target"], kpi["stretch"]) == (
        "deals",
        15.0,
        20.0,
        36.0,
    )
    assert "3 past results of your own history" in kpi["description"]
    with sessions() as session:
        role = goals.kpi_history(session, CYCLE, "E101", "deals", 3)
    assert sorted(role["role"]) == [10.0, 20.0, 30.0, 40.0]


async def test_recording_the_cycle_again_keeps_what_hr_changed_through_the_api(
    records: RecordActivities, pinned: PinnedDefinition, sessions: sessionmaker[Session]
) -> None:
    await launched(records, pinned)  # org objectives `grow` and `org-2` from the launch
    with sessions() as session, session.begin():
        grow = session.scalars(select(Objective).where(Objective.objective_id == "grow")).one()
        grow.title, grow.status = "Grow profitably", "changed"
        session.add(
            Objective(cycle_id=CYCLE, objective_id="asia", level="org", title="Asia",
                      task_id=f"{goals.API_TASK_PREFIX}E900")
        )  # fmt: skip
    # At its end the cycle is recorded again with the launch's list.
    await records.record_cycle(cycle_input(status="completed"))
    with sessions() as session:
        rows = {
            row.objective_id: (row.title, row.status)
            for row in fresh(session).scalars(select(Objective).where(Objective.level == "org"))
        }
    assert rows == {
        "grow": ("Grow profitably", "changed"),
        "org-2": ("Happy customers", "active"),
        "asia": ("Asia", "active"),
    }


async def test_the_draft_offers_the_manager_s_goals_to_align_to(
    records: RecordActivities, pinned: PinnedDefinition, sessions: sessionmaker[Session]
) -> None:
    await launched(records, pinned)
    draft = await opened(records, open_input("E100", "goals", "goal_draft"))
    await submit(records, draft, {"goals": DRAFT})
    review = await opened(records, open_input("E100", "goals", "goal_review", assignee="E001"))
    await submit(records, review, {"decision": "approve"})
    with sessions() as session, session.begin():
        session.scalars(
            select(Objective).where(Objective.objective_id == "org-2")
        ).one().status = "dropped"
    prefill = await records.build_prefill(
        BuildPrefillInput(cycle_id=CYCLE, employee_id="E101", phase_id="goals", kind="goal_draft")
    )
    offered = [(o["level"], o["title"]) for o in prefill["objectives"]]
    # The dropped objective is not offered; the manager's development goal is not either.
    assert offered == [("org", "Grow revenue 20%"), ("manager", "Ship billing")]
