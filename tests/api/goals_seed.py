"""Objectives and goals for the API tests: in cycle `annual-2027`, org objective `grow`
<- department objective `eng-1` (Engineering) <- the subject's goal `g-subject`, whose
manager E003 has `g-manager` aligned to `eng-1` too; E005 (peer) aligned to the
manager's goal; E011 (Sales) aligned to org objective `care`. The subject has one pending
change (`PENDING_CHANGE`) waiting for the manager."""

from __future__ import annotations

from store.db import session_scope
from store.models import CycleParticipant, Goal, GoalChange, Objective
from tests.api.conftest import CYCLE_ID, T0

SUBJECT_GOAL = "g-subject"
PENDING_CHANGE = 900_001
"""An explicit id, far from what a sequence hands out (PostgreSQL keeps its sequences
across tests)."""

GOALS = [
    # id, owner, parent, weight, progress, type
    ("g-subject", "E004", "eng-1", 60, 0.5, "okr"),
    ("g-subject-dev", "E004", None, 40, 0.0, "development"),
    ("g-manager", "E003", "eng-1", 100, 0.2, "okr"),
    ("g-peer", "E005", "g-manager", 100, 1.0, "okr"),
    ("g-sales", "E011", "care", 100, 0.4, "kpi"),
]
PARTICIPANTS = [
    ("E002", "Engineering", "E001"),
    ("E003", "Engineering", "E002"),
    ("E004", "Engineering", "E003"),
    ("E005", "Engineering", "E003"),
    ("E010", "Sales", "E001"),
    ("E011", "Sales", "E010"),
]


def add_goals(url: str, *, participants: bool = True) -> None:
    with session_scope(url) as session:
        session.add_all(
            [
                Objective(cycle_id=CYCLE_ID, objective_id="grow", level="org", title="Grow"),
                Objective(cycle_id=CYCLE_ID, objective_id="care", level="org", title="Care"),
                Objective(
                    cycle_id=CYCLE_ID,
                    objective_id="eng-1",
                    level="department",
                    group="Engineering",
                    parent_id="grow",
                    title="Ship the platform",
                ),
            ]
        )
        for employee_id, group, manager in PARTICIPANTS if participants else ():
            session.add(
                CycleParticipant(
                    cycle_id=CYCLE_ID,
                    employee_id=employee_id,
                    group=group,
                    manager_id=manager,
                    joined_at=T0,
                    profile={},
                )
            )
        for position, (goal_id, owner, parent, weight, progress, kind) in enumerate(GOALS):
            session.add(
                Goal(
                    id=goal_id,
                    cycle_id=CYCLE_ID,
                    owner_id=owner,
                    task_id=f"{CYCLE_ID}/{owner}/goals/goal_draft",
                    position=position,
                    title=f"Goal {goal_id}",
                    type=kind,
                    weight=weight,
                    parent_id=parent,
                    status="approved",
                    progress=progress,
                    target={},
                )
            )
        session.flush()
        session.add(
            GoalChange(
                id=PENDING_CHANGE,
                change_key="seed-pending",
                goal_id=SUBJECT_GOAL,
                cycle_id=CYCLE_ID,
                owner_id="E004",
                changed_by="E004",
                action="changed",
                changes={"weight": [60, 50]},
                reason="seed",
                status="pending",
                at=T0,
            )
        )
