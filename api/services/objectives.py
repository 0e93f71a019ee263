"""Objectives through the API: the cycle's objectives tree (objectives and the goals
aligned to them, progress rolled up), and HR's changes of org and department objectives.

A change or drop mid-cycle is a strategy change: every owner of a goal aligned below the
objective (directly, through a department objective, or through a manager's goal) gets
an entry in their performance file and a `realign_goals` signal to their participant
workflow, which opens a re-align task (`workflows/phases/realign.py`). Nobody else does.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.service import RPCError

from activities.goals import store as goals
from api.errors import Conflict, NotFound, Unprocessable
from api.permissions import EMPLOYEE_READERS, Access, relations
from api.schemas.goals import (
    ObjectiveChange,
    ObjectiveCreate,
    ObjectiveDrop,
    ObjectivePublic,
    ObjectiveTree,
    StrategyChangePublic,
    TreeNodePublic,
)
from api.services.goals import find_cycle
from store.base import utc_now
from store.models import Objective
from workflows.messages import participant_workflow_id
from workflows.phases.realign import RealignSignal

REALIGN_SIGNAL = "realign_goals"
_SLUG = re.compile(r"[^a-z0-9]+")


def objective_not_found(objective_id: str) -> NotFound:
    return NotFound(f"no objective {objective_id}", type="ObjectiveNotFound")


def _find(session: Session, cycle_id: str, objective_id: str) -> Objective:
    row = session.scalar(
        select(Objective).where(
            Objective.cycle_id == cycle_id, Objective.objective_id == objective_id
        )
    )
    if row is None:
        raise objective_not_found(objective_id)
    return row


def public(row: Objective) -> ObjectivePublic:
    return ObjectivePublic(
        id=row.objective_id,
        cycle_id=row.cycle_id,
        level=row.level,
        group=row.group,
        parent_id=row.parent_id,
        title=row.title,
        description=row.description,
        owner_id=row.owner_id,
        weight=row.weight,
        status=row.status,
        key_results=list(row.key_results or []),
    )


def objective_tree(session: Session, access: Access, cycle_id: str) -> ObjectiveTree:
    """Objectives for everyone; goals of the people the caller may read (themselves, the
    people below them, their HRBP departments, everyone for HR admins). Hidden goals
    still count in the roll-up, and the tree says how many there are."""
    find_cycle(session, cycle_id)
    roots = goals.tree(session, cycle_id)
    visible: dict[str, bool] = {}

    def may_see(owner: str) -> bool:
        if owner not in visible:
            found = relations(session, access.user, owner, wanted=EMPLOYEE_READERS)
            visible[owner] = bool(found & EMPLOYEE_READERS)
        return visible[owner]

    hidden = 0

    def prune(node: goals.TreeNode) -> TreeNodePublic | None:
        nonlocal hidden
        if node.kind == "goal" and node.owner_id is not None and not may_see(node.owner_id):
            hidden += 1 + _count(node)
            return None
        children = [c for c in (prune(child) for child in node.children) if c is not None]
        view = node.as_dict()
        view["children"] = children
        return TreeNodePublic.model_validate(view)

    kept = [p for p in (prune(root) for root in roots) if p is not None]
    return ObjectiveTree(cycle_id=cycle_id, roots=kept, hidden_goals=hidden)


def _count(node: goals.TreeNode) -> int:
    return sum(1 + _count(child) for child in node.children)


def create_objective(
    session: Session, access: Access, cycle_id: str, body: ObjectiveCreate
) -> ObjectivePublic:
    find_cycle(session, cycle_id)
    if body.level == "department" and body.group is None:
        raise Unprocessable("a department objective needs its group", type="InvalidObjective")
    if body.parent_id is not None:
        parent = _find_or_none(session, cycle_id, body.parent_id)
        if parent is None or parent.level != "org":
            raise Unprocessable(
                f"parent {body.parent_id} is not an org objective of the cycle",
                type="InvalidObjective",
            )
    taken = set(
        session.scalars(select(Objective.objective_id).where(Objective.cycle_id == cycle_id))
    )
    objective_id = body.id
    if objective_id is None:
        base = _SLUG.sub("-", (body.group or body.level).lower()).strip("-")[:40] or "objective"
        number = 1
        while f"{base}-{number}" in taken:
            number += 1
        objective_id = f"{base}-{number}"
    elif objective_id in taken:
        raise Conflict(f"objective {objective_id} exists", type="ObjectiveExists")
    row = Objective(
        cycle_id=cycle_id,
        objective_id=objective_id,
        level=body.level,
        group=body.group if body.level == "department" else None,
        parent_id=body.parent_id,
        title=body.title,
        description=body.description,
        owner_id=body.owner_id,
        weight=body.weight,
        status="active",
        task_id=f"{goals.API_TASK_PREFIX}{access.user.subject}",
        key_results=[kr.model_dump(exclude_none=True) for kr in body.key_results],
    )
    session.add(row)
    session.commit()
    return public(row)


def _find_or_none(session: Session, cycle_id: str, objective_id: str) -> Objective | None:
    return session.scalar(
        select(Objective).where(
            Objective.cycle_id == cycle_id, Objective.objective_id == objective_id
        )
    )


async def change_objective(
    session: Session,
    temporal: Client,
    access: Access,
    cycle_id: str,
    objective_id: str,
    body: ObjectiveChange,
) -> StrategyChangePublic:
    find_cycle(session, cycle_id)
    row = _find(session, cycle_id, objective_id)
    if row.status == "dropped":
        raise Conflict(f"objective {objective_id} was dropped", type="ObjectiveDropped")
    fields = body.model_dump(exclude_none=True, exclude={"reason", "realign"})
    if "key_results" in fields:
        fields["key_results"] = [kr.model_dump(exclude_none=True) for kr in body.key_results or []]
    if not fields:
        raise Unprocessable("the change changes nothing", type="NothingToChange")
    for name, value in fields.items():
        setattr(row, name, value)
    row.status = "changed"
    return await _strategy_change(
        session, temporal, access, row, "changed", body.reason, realign=body.realign
    )


async def drop_objective(
    session: Session,
    temporal: Client,
    access: Access,
    cycle_id: str,
    objective_id: str,
    body: ObjectiveDrop,
) -> StrategyChangePublic:
    find_cycle(session, cycle_id)
    row = _find(session, cycle_id, objective_id)
    if row.status == "dropped":
        raise Conflict(f"objective {objective_id} was dropped", type="ObjectiveDropped")
    row.status = "dropped"
    return await _strategy_change(session, temporal, access, row, "dropped", body.reason)


async def _strategy_change(
    session: Session,
    temporal: Client,
    access: Access,
    row: Objective,
    change: str,
    reason: str,
    *,
    realign: bool = True,
) -> StrategyChangePublic:
    """Record the change in the file of each owner aligned below, commit, then signal
    their participant workflows. A signal that finds no running workflow is reported."""
    key = uuid.uuid4().hex
    now = utc_now()
    aligned = goals.aligned_below(session, row.cycle_id, row.objective_id) if realign else []
    by_owner: dict[str, list[str]] = defaultdict(list)
    for goal in aligned:
        by_owner[goal.owner_id].append(goal.id)
    for owner, goal_ids in sorted(by_owner.items()):
        goals.strategy_event(
            session,
            key=key,
            employee_id=owner,
            cycle_id=row.cycle_id,
            objective_id=row.objective_id,
            change=change,
            reason=reason,
            changed_by=access.user.subject,
            goals=goal_ids,
            at=now,
        )
    session.commit()
    sent, missed = [], []
    for owner in sorted(by_owner):
        handle = temporal.get_workflow_handle(participant_workflow_id(row.cycle_id, owner))
        signal = RealignSignal(
            key=key,
            objective_id=row.objective_id,
            objective_title=row.title,
            change="dropped" if change == "dropped" else "changed",
            reason=reason,
            changed_by=access.user.subject,
        )
        try:
            await handle.signal(REALIGN_SIGNAL, signal)
        except RPCError:
            missed.append(owner)
        else:
            sent.append(owner)
    return StrategyChangePublic(
        objective=public(row),
        change="dropped" if change == "dropped" else "changed",
        realign_sent_to=sent,
        not_reached=missed,
    )
