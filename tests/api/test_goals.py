"""Objectives and goals through the API: the tree with roll-up and who sees which goals,
strategy change to the right people and no others, changes with a reason and the
manager's approval, the change log, bulk assignment and alignment coverage.

The org is `tests/api/org.py`; goals and objectives are `tests/api/goals_seed.py`."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from store.db import session_scope
from store.models import Goal, PerformanceEvent
from tests.api.conftest import CYCLE_ID, FakeTemporal, Token
from tests.api.goals_seed import PENDING_CHANGE, SUBJECT_GOAL, add_goals
from tests.api.org import SUBJECT, add_org
from workflows.messages import participant_workflow_id

TREE = f"/v1/cycles/{CYCLE_ID}/objectives"


@pytest.fixture
def world(seeded: str) -> str:
    add_org(seeded)
    add_goals(seeded)
    return seeded


def find(nodes: list[dict[str, Any]], node_id: str) -> dict[str, Any]:
    for node in nodes:
        if node["id"] == node_id:
            return node
        try:
            return find(node["children"], node_id)
        except KeyError:
            continue
    raise KeyError(node_id)


async def test_the_tree_rolls_up_and_shows_goals_to_whom_may_read_them(
    client: AsyncClient, world: str, auth: Token
) -> None:
    hr = (await client.get(TREE, headers=auth("H003", "hr-admin"))).json()
    # g-peer (1.0) -> g-manager = 1.0; eng-1 = (60 * 0.5 + 100 * 1.0) / 160 = 0.8125;
    # grow = eng-1; care = g-sales = 0.4. g-subject-dev is not aligned: its own root.
    assert find(hr["roots"], "g-manager")["progress"] == 1.0
    assert find(hr["roots"], "eng-1")["progress"] == pytest.approx(0.8125)
    assert find(hr["roots"], "grow")["progress"] == pytest.approx(0.8125)
    assert find(hr["roots"], "care")["progress"] == pytest.approx(0.4)
    assert hr["hidden_goals"] == 0
    mine = (await client.get(TREE, headers=auth(SUBJECT))).json()
    # The subject sees every objective and their own goals; the others are hidden but
    # still count in the roll-up.
    assert find(mine["roots"], "eng-1")["progress"] == pytest.approx(0.8125)
    assert [c["id"] for c in find(mine["roots"], "eng-1")["children"]] == [SUBJECT_GOAL]
    assert mine["hidden_goals"] == 3
    manager = (await client.get(TREE, headers=auth("E003"))).json()
    assert [c["id"] for c in find(manager["roots"], "g-manager")["children"]] == ["g-peer"]


async def test_a_person_s_goals_say_what_they_align_to(
    client: AsyncClient, world: str, auth: Token
) -> None:
    answer = await client.get(f"/v1/employees/{SUBJECT}/goals", headers=auth("E003"))
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert [(g["id"], g["status"], g["pending_changes"]) for g in items] == [
        (SUBJECT_GOAL, "in_progress", 1),  # approved, with progress reported
        ("g-subject-dev", "approved", 0),
    ]
    assert items[0]["aligned_to"] == {
        "id": "eng-1",
        "kind": "department",
        "title": "Ship the platform",
        "owner_id": None,
    }
    peer = await client.get("/v1/goals/g-peer", headers=auth("E005"))
    assert peer.json()["aligned_to"]["kind"] == "goal"


async def test_a_strategy_change_reaches_the_owners_aligned_below_and_no_others(
    client: AsyncClient, world: str, auth: Token, temporal: FakeTemporal
) -> None:
    hr = auth("H003", "hr-admin")
    temporal.gone.add(participant_workflow_id(CYCLE_ID, "E005"))
    changed = await client.post(
        f"{TREE}/grow/change",
        json={"title": "Grow profitably", "reason": "The board moved to profit"},
        headers=hr,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    # Below grow: eng-1 <- g-subject (E004), g-manager (E003) <- g-peer (E005).
    assert body["realign_sent_to"] == ["E003", "E004"]
    assert body["not_reached"] == ["E005"]
    assert body["objective"]["status"] == "changed"
    signals = [(c.workflow_id, c.name, c.arg.objective_id) for c in temporal.signals]
    assert signals == [
        (participant_workflow_id(CYCLE_ID, e), "realign_goals", "grow")
        for e in ("E003", "E004", "E005")
    ]
    dropped = await client.post(f"{TREE}/care/drop", json={"reason": "Sold"}, headers=hr)
    assert dropped.json()["realign_sent_to"] == ["E011"]
    with session_scope(world) as session:
        events = session.execute(
            select(PerformanceEvent.employee_id, PerformanceEvent.ref).where(
                PerformanceEvent.kind == "strategy_change"
            )
        ).all()
    assert sorted(events) == [
        ("E003", "grow"),
        ("E004", "grow"),
        ("E005", "grow"),
        ("E011", "care"),
    ]
    file = await client.get(f"/v1/employees/{SUBJECT}/performance-file", headers=auth(SUBJECT))
    entries = [e for e in file.json()["items"] if e["kind"] == "event"]
    assert [e["summary"] for e in entries] == ["Objective grow changed: re-align goals"]
    again = await client.post(f"{TREE}/care/drop", json={"reason": "Sold"}, headers=hr)
    assert again.status_code == 409
    refused = await client.post(f"{TREE}/grow/drop", json={"reason": "x"}, headers=auth("E003"))
    assert refused.status_code == 403


async def test_hr_creates_objectives(client: AsyncClient, world: str, auth: Token) -> None:
    hr = auth("H003", "hr-admin")
    created = await client.post(
        TREE,
        json={"level": "department", "group": "Sales", "parent_id": "care", "title": "Renewals"},
        headers=hr,
    )
    assert created.status_code == 201, created.text
    assert created.json()["id"] == "sales-1"
    bad = await client.post(
        TREE, json={"level": "department", "group": "Sales", "parent_id": "eng-1", "title": "x"},
        headers=hr,
    )  # fmt: skip
    assert bad.status_code == 422


async def test_an_owner_s_change_after_approval_waits_for_the_manager(
    client: AsyncClient, world: str, auth: Token
) -> None:
    url = f"/v1/goals/{SUBJECT_GOAL}"
    change = await client.post(
        f"{url}/changes",
        json={"weight": 70, "reason": "Bigger scope after the reorg"},
        headers=auth(SUBJECT),
    )
    assert change.status_code == 201, change.text
    pending = change.json()
    assert (pending["status"], pending["changes"]) == ("pending", {"weight": [60, 70]})
    assert (await client.get(url, headers=auth(SUBJECT))).json()["weight"] == 60
    # The owner cannot approve their own change; the manager can.
    own = await client.post(
        f"{url}/changes/{pending['id']}/decision", json={"decision": "approve"},
        headers=auth(SUBJECT),
    )  # fmt: skip
    assert own.status_code == 403
    decided = await client.post(
        f"{url}/changes/{pending['id']}/decision",
        json={"decision": "approve", "comment": "ok"},
        headers=auth("E003"),
    )
    assert decided.json()["status"] == "applied"
    assert (await client.get(url, headers=auth(SUBJECT))).json()["weight"] == 70
    rejected = await client.post(
        f"{url}/changes/{PENDING_CHANGE}/decision", json={"decision": "reject"},
        headers=auth("E003"),
    )  # fmt: skip
    assert rejected.json()["status"] == "rejected"
    # The manager's own change applies at once; a closed goal stays closed for the owner.
    direct = await client.post(
        f"{url}/changes", json={"status": "dropped", "reason": "Descoped"}, headers=auth("E003")
    )
    assert direct.json()["status"] == "applied"
    late = await client.post(
        f"{url}/changes", json={"title": "Revive", "reason": "please"}, headers=auth(SUBJECT)
    )
    assert late.status_code == 409
    history = (await client.get(f"{url}/history", headers=auth(SUBJECT))).json()["items"]
    # In time order (the seeded pending change is dated at the cycle's start, 2027).
    assert [(c["changed_by"], c["action"], c["status"]) for c in history] == [
        ("E004", "changed", "applied"),
        ("E003", "status", "applied"),
        ("E004", "changed", "rejected"),
    ]
    assert history[0]["reason"] == "Bigger scope after the reorg"
    assert history[0]["decided_by"] == "E003"


async def test_bulk_assignment_gives_goals_only_to_whom_the_caller_may(
    client: AsyncClient, world: str, auth: Token
) -> None:
    body = {
        "template": {"title": "Security training", "type": "development", "weight": 5},
        "to": {"departments": ["Engineering"]},
        "reason": "Company policy",
    }
    manager = await client.post(
        f"/v1/cycles/{CYCLE_ID}/goal-assignments", json=body, headers=auth("E003")
    )
    assert manager.status_code == 201, manager.text
    assert manager.json()["assigned"] == ["E004", "E005"]
    assert manager.json()["skipped"] == ["E002", "E003"]
    hr = await client.post(
        f"/v1/cycles/{CYCLE_ID}/goal-assignments",
        json={**body, "to": {"manager_id": "E010"}},
        headers=auth("H003", "hr-admin"),
    )
    assert hr.json()["assigned"] == ["E011"]
    with session_scope(world) as session:
        titles = sorted(
            session.scalars(select(Goal.owner_id).where(Goal.title == "Security training"))
        )
    assert titles == ["E004", "E005", "E011"]


async def test_alignment_coverage(client: AsyncClient, world: str, auth: Token) -> None:
    url = f"/v1/cycles/{CYCLE_ID}/alignment-coverage"
    everyone = (await client.get(url, headers=auth("H003", "hr-admin"))).json()
    # Non-development goals: g-subject, g-manager, g-peer, g-sales: all aligned.
    # E002 and E010 have none.
    assert (everyone["goals"], everyone["aligned"], everyone["share_aligned"]) == (4, 4, 1.0)
    assert everyone["without_aligned_goal"] == ["E002", "E010"]
    hrbp = auth("H002", "hrbp", departments=["Sales"])
    sales = (await client.get(url, headers=hrbp)).json()
    assert (sales["departments"], sales["participants"]) == (["Sales"], 2)
    assert sales["without_aligned_goal"] == ["E010"]
    other = await client.get(url, params={"department": "Engineering"}, headers=hrbp)
    assert other.status_code == 404


@pytest.mark.parametrize(("policy", "expected"), [("locked", 409), ("free", 201)])
async def test_changes_after_approval_follow_the_definition(
    client: AsyncClient, world: str, auth: Token, monkeypatch: pytest.MonkeyPatch,
    policy: str, expected: int,
) -> None:  # fmt: skip
    from activities.goals import store

    monkeypatch.setattr(store, "change_policy", lambda session, cycle_id: policy)
    answer = await client.post(
        f"/v1/goals/{SUBJECT_GOAL}/changes", json={"weight": 55, "reason": "r"},
        headers=auth(SUBJECT),
    )  # fmt: skip
    assert answer.status_code == expected, answer.text
    if expected == 201:
        assert answer.json()["status"] == "applied"
    else:
        assert answer.json()["error"]["type"] == "GoalsLocked"
    # The manager changes a locked goal all the same.
    manager = await client.post(
        f"/v1/goals/{SUBJECT_GOAL}/changes", json={"weight": 45, "reason": "r"},
        headers=auth("E003"),
    )  # fmt: skip
    assert manager.json()["status"] == "applied"


async def test_the_stock_definition_sends_owner_changes_to_the_manager(world: str) -> None:
    from activities.goals import store

    with session_scope(world) as session:
        assert store.change_policy(session, CYCLE_ID) == "manager"
        phase = store.goal_phase(session, CYCLE_ID)
    assert phase is not None
    assert phase.forms.realign == "goal-realign"
