"""Goals in the store: the objectives tree with roll-up, who is aligned below an
objective, the change log (propose, decide, apply), lapse, alignment coverage, bulk
assignment and KPI history for target suggestions.

Plain functions over a SQLAlchemy session, shared by the activities (`activities/goals/
records.py`) and the API services (`api/services/goals.py`, `api/services/objectives.py`).
The arithmetic lives in the pure modules `rollup` and `targets`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from activities.goals.rollup import NOT_COUNTED, Node, goal_progress, lapsed_status, roll_up
from activities.goals.targets import Suggestion, suggest
from activities.results.actuals import past_actuals
from definitions.models import GoalSettingPhase
from store.base import utc_now
from store.models import (
    Cycle,
    CycleParticipant,
    Employee,
    Goal,
    GoalChange,
    Objective,
    PerformanceEvent,
)
from store.upsert import insert_if_absent, insert_many_if_absent

EDITABLE_FIELDS = ("title", "description", "weight", "parent_id", "target", "status", "progress")
"""Goal fields a change may touch."""
TARGET_FIELDS = (
    "key_results",
    "metric",
    "unit",
    "direction",
    "threshold",
    "target",
    "stretch",
    "actual",
)
CLOSED = frozenset({"achieved", "missed", "dropped", "closed"})
APPROVED = frozenset({"approved", "in_progress"})
ChangePolicy = Literal["manager", "free", "locked"]


def key_of(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:40]


_GOAL_PHASES: dict[str, GoalSettingPhase | None] = {}
"""Goal setting phase by exact definition ref (`name@version`). A published version never
changes, and decoding one is a millisecond: every goal draft of a launch asks for it."""
_GOAL_PHASES_MAX = 256


def goal_phase(session: Session, cycle_id: str) -> GoalSettingPhase | None:
    """The goal setting phase of the definition the cycle pinned."""
    from definitions.registry import RegistryError
    from perfloop.cycles import resolve_pinned

    ref = session.scalar(select(Cycle.definition_ref).where(Cycle.cycle_id == cycle_id))
    if ref is None:
        return None
    if ref in _GOAL_PHASES:
        return _GOAL_PHASES[ref]
    try:
        pinned = resolve_pinned(session, ref)
    except RegistryError:
        return None
    found = next((p for p in pinned.definition.phases if isinstance(p, GoalSettingPhase)), None)
    if len(_GOAL_PHASES) >= _GOAL_PHASES_MAX:
        _GOAL_PHASES.clear()
    _GOAL_PHASES[ref] = found
    return found


def change_policy(session: Session, cycle_id: str) -> ChangePolicy:
    phase = goal_phase(session, cycle_id)
    return phase.approval.changes_after_approval if phase is not None else "manager"


API_TASK_PREFIX = "api:"
"""`Objective.task_id` of objectives HR created through the API (`api:<employee id>`)."""


def managed_by_api(row: Objective) -> bool:
    """HR created, changed or dropped it through the API: a re-recorded launch (the
    cycle is recorded again at its end) must not overwrite or delete it."""
    return row.status != "active" or (row.task_id or "").startswith(API_TASK_PREFIX)


# --- views ----------------------------------------------------------------------------------


def goal_view(goal: Goal, *, status: str | None = None) -> dict[str, Any]:
    return {
        "id": goal.id,
        "cycle_id": goal.cycle_id,
        "owner_id": goal.owner_id,
        "title": goal.title,
        "description": goal.description,
        "type": goal.type,
        "weight": goal.weight,
        "parent_id": goal.parent_id,
        "target": dict(goal.target or {}),
        "status": status or goal.status,
        "progress": own_progress(goal),
        "confidence": goal.confidence,
        "updated_at": goal.updated_at,
    }


def own_progress(goal: Goal) -> float:
    return goal_progress(goal.type, goal.target or {}, goal.progress)


def effective_status(goal: Goal, cycle: Cycle | None, now: datetime | None = None) -> str:
    """The stored status; an approved goal with progress reported is in progress; once
    the cycle's period is over an open goal is achieved or missed."""
    ends = cycle.nominal_end if cycle is not None else None
    progress = own_progress(goal)
    status = "in_progress" if goal.status == "approved" and progress > 0 else goal.status
    return lapsed_status(status, progress, ends, now or utc_now())


@dataclass
class TreeNode:
    id: str
    kind: Literal["org", "department", "goal"]
    title: str
    parent_id: str | None
    weight: float
    status: str
    progress: float
    owner_id: str | None = None
    group: str | None = None
    children: list[TreeNode] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "parent_id": self.parent_id,
            "weight": self.weight,
            "status": self.status,
            "progress": round(self.progress, 6),
            "owner_id": self.owner_id,
            "group": self.group,
            "children": [child.as_dict() for child in self.children],
        }


def tree(session: Session, cycle_id: str, now: datetime | None = None) -> list[TreeNode]:
    """The cycle's objectives tree: org objectives, department objectives under them,
    goals under objectives or under the goal they align to, progress rolled up.
    Returns the roots (org objectives, and anything whose parent is unknown)."""
    cycle = session.get(Cycle, cycle_id)
    nodes: dict[str, TreeNode] = {}
    for objective in session.scalars(
        select(Objective).where(Objective.cycle_id == cycle_id).order_by(Objective.id)
    ):
        nodes[objective.objective_id] = TreeNode(
            id=objective.objective_id,
            kind="org" if objective.level == "org" else "department",
            title=objective.title,
            parent_id=objective.parent_id,
            weight=float(objective.weight),
            status=objective.status,
            progress=0.0,
            owner_id=objective.owner_id,
            group=objective.group,
        )
    for goal in session.scalars(
        select(Goal).where(Goal.cycle_id == cycle_id).order_by(Goal.owner_id, Goal.position)
    ):
        nodes.setdefault(
            goal.id,
            TreeNode(
                id=goal.id,
                kind="goal",
                title=goal.title,
                parent_id=goal.parent_id,
                weight=float(goal.weight),
                status=effective_status(goal, cycle, now),
                progress=own_progress(goal),
                owner_id=goal.owner_id,
            ),
        )
    rolled = roll_up(
        [
            Node(
                n.id,
                n.parent_id,
                n.weight,
                n.progress,
                "dropped" if n.status in NOT_COUNTED else n.status,
            )
            for n in nodes.values()
        ]
    )
    roots = []
    for node in nodes.values():
        node.progress = rolled[node.id]
        parent = nodes.get(node.parent_id) if node.parent_id else None
        if parent is not None and parent is not node:
            parent.children.append(node)
        else:
            roots.append(node)
    return roots


def aligned_below(session: Session, cycle_id: str, objective_id: str) -> list[Goal]:
    """Every goal aligned below an objective: directly, through department objectives
    aligned to it, or through a goal aligned below it (a manager's goal), at any depth.
    Closed goals (achieved, missed, dropped) are left out."""
    objectives = {
        row.objective_id: row.parent_id
        for row in session.scalars(select(Objective).where(Objective.cycle_id == cycle_id))
    }
    goals = list(session.scalars(select(Goal).where(Goal.cycle_id == cycle_id)))
    parent_of: dict[str, str | None] = {**objectives, **{g.id: g.parent_id for g in goals}}
    found = []
    for goal in goals:
        if goal.status in CLOSED:
            continue
        seen: set[str] = set()
        node: str | None = goal.parent_id
        while node is not None and node not in seen:
            if node == objective_id:
                found.append(goal)
                break
            seen.add(node)
            node = parent_of.get(node)
    return found


# --- the change log -------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def diff(goal: Goal, wanted: Mapping[str, Any]) -> dict[str, list[Any]]:
    """`{field: [before, after]}` for each field of `wanted` that differs from the goal."""
    changes: dict[str, list[Any]] = {}
    for name in EDITABLE_FIELDS:
        if name not in wanted:
            continue
        before = getattr(goal, name)
        after = wanted[name]
        if name == "target":
            before = dict(before or {})
            after = {**before, **dict(after or {})}
        if before != after:
            changes[name] = [_jsonable(before), _jsonable(after)]
    return changes


def record_change(
    session: Session,
    *,
    key: str,
    goal_id: str,
    cycle_id: str,
    owner_id: str,
    changed_by: str,
    action: str,
    changes: Mapping[str, Any],
    reason: str | None,
    status: Literal["applied", "pending"] = "applied",
    task_id: str | None = None,
    at: datetime | None = None,
) -> GoalChange | None:
    """Append one change to the log once per `key`; the row, or None when it was there."""
    inserted = insert_if_absent(
        session,
        GoalChange,
        {
            "change_key": key,
            "goal_id": goal_id,
            "cycle_id": cycle_id,
            "owner_id": owner_id,
            "changed_by": changed_by,
            "action": action,
            "changes": _jsonable(dict(changes)),
            "reason": reason,
            "status": status,
            "task_id": task_id,
            "at": at or utc_now(),
        },
        ("change_key",),
    )
    if not inserted:
        return None
    return session.scalar(select(GoalChange).where(GoalChange.change_key == key))


def apply_changes(goal: Goal, changes: Mapping[str, Sequence[Any]]) -> None:
    for name, (_, after) in changes.items():
        if name in EDITABLE_FIELDS:
            setattr(goal, name, after)
    goal.updated_at = utc_now()


def decide(
    session: Session, change: GoalChange, decided_by: str, approve: bool, comment: str | None
) -> None:
    """The manager's decision on a pending change: apply it, or keep the goal as it is."""
    change.status = "applied" if approve else "rejected"
    change.decided_by = decided_by
    change.decided_at = utc_now()
    change.decision_comment = comment
    if not approve:
        if change.action == "created":
            goal = session.get(Goal, change.goal_id)
            if goal is not None and goal.status == "proposed":
                goal.status = "dropped"
        return
    goal = session.get(Goal, change.goal_id)
    if goal is None:
        return
    if change.action == "created":
        goal.status = "in_progress"
        goal.updated_at = utc_now()
        return
    apply_changes(goal, change.changes)


def pending_of(session: Session, cycle_id: str, owner_id: str) -> list[GoalChange]:
    return list(
        session.scalars(
            select(GoalChange)
            .where(
                GoalChange.cycle_id == cycle_id,
                GoalChange.owner_id == owner_id,
                GoalChange.status == "pending",
            )
            .order_by(GoalChange.id)
        )
    )


def history(session: Session, goal_id: str) -> list[GoalChange]:
    return list(
        session.scalars(
            select(GoalChange)
            .where(GoalChange.goal_id == goal_id)
            .order_by(GoalChange.at, GoalChange.id)
        )
    )


def change_view(change: GoalChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "goal_id": change.goal_id,
        "cycle_id": change.cycle_id,
        "owner_id": change.owner_id,
        "changed_by": change.changed_by,
        "action": change.action,
        "changes": dict(change.changes),
        "reason": change.reason,
        "status": change.status,
        "decided_by": change.decided_by,
        "decided_at": change.decided_at,
        "decision_comment": change.decision_comment,
        "task_id": change.task_id,
        "at": change.at,
    }


def goal_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    """A form's goal item as goal fields (`target` holds the type's measures)."""
    fields: dict[str, Any] = {
        "title": str(item.get("title", ""))[:500],
        "type": str(item.get("type", "okr")),
        "weight": int(item.get("weight", 0)),
        "parent_id": item.get("parent_id") or None,
        "description": item.get("description") or None,
        "target": {k: item[k] for k in TARGET_FIELDS if k in item},
    }
    return fields


def propose_realign(
    session: Session,
    *,
    cycle_id: str,
    owner_id: str,
    changed_by: str,
    task_id: str,
    goals: Sequence[Mapping[str, Any]],
    reason: str | None,
    needs_approval: bool,
    at: datetime,
) -> int:
    """Turn a re-align submission (the complete updated list) into logged changes: edits
    of kept goals, new goals, and goals left out dropped. Pending when the manager must
    approve (new goals wait as `proposed`), applied at once otherwise. Returns the count."""
    status: Literal["applied", "pending"] = "pending" if needs_approval else "applied"

    def log(goal_id: str, action: str, changes: dict[str, list[Any]]) -> GoalChange | None:
        """One change of this re-align, keyed by the task and goal (a retry logs nothing)."""
        return record_change(
            session,
            key=key_of("realign", task_id, goal_id),
            goal_id=goal_id,
            cycle_id=cycle_id,
            owner_id=owner_id,
            changed_by=changed_by,
            action=action,
            changes=changes,
            reason=reason,
            status=status,
            task_id=task_id,
            at=at,
        )

    current = {
        g.id: g
        for g in session.scalars(
            select(Goal).where(
                Goal.cycle_id == cycle_id,
                Goal.owner_id == owner_id,
                Goal.status.not_in(tuple(CLOSED)),
            )
        )
    }
    kept: set[str] = set()
    count = 0
    for index, item in enumerate(goals):
        fields = goal_fields(item)
        given = item.get("id")
        goal = current.get(given) if isinstance(given, str) else None
        if goal is not None:
            kept.add(goal.id)
            changes = diff(goal, {k: v for k, v in fields.items() if k != "type"})
            if not changes:
                continue
            row = log(goal.id, "realign", changes)
            if row is not None and not needs_approval:
                apply_changes(goal, changes)
            count += 1
            continue
        goal_id = "g-" + key_of("realign-goal", task_id, index)[:20]
        if session.get(Goal, goal_id) is None:
            session.add(
                Goal(
                    id=goal_id,
                    cycle_id=cycle_id,
                    owner_id=owner_id,
                    task_id=task_id,
                    seq=1,
                    position=len(current) + index,
                    status="proposed" if needs_approval else "in_progress",
                    progress=0.0,
                    confidence=None,
                    updated_at=at,
                    **fields,
                )
            )
            session.flush()
        log(goal_id, "created", {"goal": [None, _jsonable(fields)]})
        count += 1
    for goal in current.values():
        if goal.id in kept or goal.status in ("draft", "returned", "proposed"):
            continue
        changes = {"status": [goal.status, "dropped"]}
        row = log(goal.id, "dropped", changes)
        if row is not None and not needs_approval:
            apply_changes(goal, changes)
        count += 1
    return count


def decide_realign(
    session: Session,
    cycle_id: str,
    owner_id: str,
    decided_by: str,
    approve: bool,
    comment: str | None,
) -> int:
    """The manager's review of a re-align: every pending re-align change of the owner."""
    changes = [c for c in pending_of(session, cycle_id, owner_id) if c.task_id is not None]
    for change in changes:
        decide(session, change, decided_by, approve, comment)
    return len(changes)


def log_goal_set(
    session: Session, cycle_id: str, owner_id: str, changed_by: str, task_id: str, action: str
) -> None:
    """Log drafting (`created`) or approval (`status`) of the owner's goals by a task.

    The entries go in as one statement (once per key, as `record_change` would): a draft of
    five goals was ten round trips to the store on every submission.
    """
    now = utc_now()
    rows: list[dict[str, Any]] = []
    for goal in session.scalars(
        select(Goal).where(Goal.cycle_id == cycle_id, Goal.owner_id == owner_id)
    ):
        changes: dict[str, list[Any]]
        if action == "created" and goal.task_id == task_id:
            fields = {
                "title": goal.title,
                "type": goal.type,
                "weight": goal.weight,
                "parent_id": goal.parent_id,
                "target": dict(goal.target or {}),
            }
            changes = {"goal": [None, _jsonable(fields)]}
        elif action == "status" and goal.status in ("approved", "returned"):
            changes = {"status": ["proposed", goal.status]}
        else:
            continue
        rows.append(
            {
                "change_key": key_of(action, task_id, goal.id),
                "goal_id": goal.id,
                "cycle_id": cycle_id,
                "owner_id": owner_id,
                "changed_by": changed_by,
                "action": action,
                "changes": _jsonable(changes),
                "reason": None,
                "status": "applied",
                "task_id": task_id,
                "at": now,
            }
        )
    if rows:
        insert_many_if_absent(session, GoalChange, rows, ("change_key",))


def lapse(session: Session, cycle_id: str, now: datetime) -> int:
    """Persist the end of the cycle's period: open goals become achieved or missed,
    each with a logged change. Returns how many goals changed."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        return 0
    changed = 0
    for goal in session.scalars(select(Goal).where(Goal.cycle_id == cycle_id)):
        status = effective_status(goal, cycle, now)
        if status == goal.status:
            continue
        changes = {"status": [goal.status, status]}
        record_change(
            session,
            key=key_of("lapse", goal.id, status),
            goal_id=goal.id,
            cycle_id=cycle_id,
            owner_id=goal.owner_id,
            changed_by="system",
            action="status",
            changes=changes,
            reason="the cycle's period ended",
        )
        apply_changes(goal, changes)
        changed += 1
    return changed


# --- coverage and bulk assignment -------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    goals: int
    aligned: int
    participants: int
    without_aligned_goal: list[str]

    @property
    def share_aligned(self) -> float | None:
        return self.aligned / self.goals if self.goals else None


def coverage(session: Session, cycle_id: str, departments: Iterable[str] | None = None) -> Coverage:
    """The share of the cycle's goals aligned to a parent (development goals excluded:
    they need none), and the participants with no aligned goal."""
    query = select(CycleParticipant.employee_id, CycleParticipant.group).where(
        CycleParticipant.cycle_id == cycle_id, CycleParticipant.status.in_(("active", "completed"))
    )
    wanted = set(departments) if departments is not None else None
    people = [e for e, group in session.execute(query) if wanted is None or group in wanted]
    chosen = set(people)
    goals = [
        g
        for g in session.scalars(select(Goal).where(Goal.cycle_id == cycle_id))
        if g.owner_id in chosen
        and g.status not in ("dropped", "closed")
        and g.type != "development"
    ]
    aligned_owners = {g.owner_id for g in goals if g.parent_id}
    return Coverage(
        goals=len(goals),
        aligned=sum(1 for g in goals if g.parent_id),
        participants=len(people),
        without_aligned_goal=sorted(chosen - aligned_owners),
    )


def assign(
    session: Session,
    *,
    cycle_id: str,
    owners: Sequence[str],
    template: Mapping[str, Any],
    assigned_by: str,
    key: str,
    reason: str | None,
) -> list[str]:
    """Give a goal template to each owner: a goal approved at once (it comes from HR or
    the manager), logged as `assigned`. A repeat with the same key assigns nothing new."""
    fields = goal_fields(template)
    created = []
    for owner in owners:
        goal_id = "g-" + key_of("assign", key, owner)[:20]
        if session.get(Goal, goal_id) is not None:
            continue
        position = len(
            list(
                session.scalars(
                    select(Goal.id).where(Goal.cycle_id == cycle_id, Goal.owner_id == owner)
                )
            )
        )
        session.add(
            Goal(
                id=goal_id,
                cycle_id=cycle_id,
                owner_id=owner,
                task_id=f"assign:{key}"[:255],
                seq=1,
                position=position,
                status="approved",
                progress=0.0,
                confidence=None,
                updated_at=utc_now(),
                **fields,
            )
        )
        session.flush()
        record_change(
            session,
            key=key_of("assign", key, owner),
            goal_id=goal_id,
            cycle_id=cycle_id,
            owner_id=owner,
            changed_by=assigned_by,
            action="assigned",
            changes={"goal": [None, _jsonable(fields)]},
            reason=reason,
        )
        created.append(goal_id)
    return created


# --- targets from history ----------------------------------------------------------------------


def kpi_history(
    session: Session, cycle_id: str, employee_id: str, metric: str, lookback: int
) -> dict[str, list[float]]:
    """Past actuals of a KPI metric by basis: the person's, their role's (same job
    title), their department's, from the `lookback` most recent other cycles.

    A finished cycle records its actuals (`kpi_actuals`, written when it closes): those
    are the history. Cycles that recorded none (still running, or closed before the
    table existed) are read from their goals' reported actuals instead.
    """
    recorded = past_actuals(session, cycle_id, employee_id, metric, lookback)
    if any(recorded.values()):
        return recorded
    person = session.get(Employee, employee_id)
    cycles = list(
        session.scalars(
            select(Cycle.cycle_id)
            .where(Cycle.cycle_id != cycle_id)
            .order_by(Cycle.nominal_start.desc())
            .limit(lookback)
        )
    )
    history: dict[str, list[float]] = {"person": [], "role": [], "department": []}
    if not cycles:
        return history
    rows = session.execute(
        select(Goal, Employee)
        .join(Employee, Employee.employee_id == Goal.owner_id)
        .where(Goal.cycle_id.in_(cycles), Goal.type == "kpi")
        .order_by(Goal.id)
    ).all()
    for goal, owner in rows:
        target = goal.target or {}
        actual = target.get("actual")
        if target.get("metric") != metric or not isinstance(actual, int | float):
            continue
        if owner.employee_id == employee_id:
            history["person"].append(float(actual))
        if person is not None and person.job_title and owner.job_title == person.job_title:
            history["role"].append(float(actual))
        if person is not None and owner.department == person.department:
            history["department"].append(float(actual))
    return history


def suggest_targets(
    session: Session,
    cycle_id: str,
    employee_id: str,
    metric: str,
    direction: str = "higher",
    phase: GoalSettingPhase | None = None,
) -> Suggestion | None:
    """Threshold / target / stretch for a KPI from history, at the definition's
    percentiles (`goal_setting.target_ranges`), or None."""
    phase = phase or goal_phase(session, cycle_id)
    ranges = phase.target_ranges if phase is not None else None
    if ranges is not None and not ranges.from_history:
        return None
    lookback = ranges.lookback_cycles if ranges is not None else 3
    history = kpi_history(session, cycle_id, employee_id, metric, lookback)
    if ranges is None:
        return suggest(history, direction=direction)
    p = ranges.percentiles
    return suggest(
        history,
        basis=ranges.basis,
        min_data_points=ranges.min_data_points,
        percentiles=(p.threshold, p.target, p.stretch),
        direction=direction,
    )


def past_metrics(session: Session, cycle_id: str, employee_id: str) -> list[tuple[str, str]]:
    """The KPI metrics (and direction) the person had in other cycles, newest first."""
    rows = session.scalars(
        select(Goal)
        .join(Cycle, Cycle.cycle_id == Goal.cycle_id)
        .where(Goal.owner_id == employee_id, Goal.type == "kpi", Goal.cycle_id != cycle_id)
        .order_by(Cycle.nominal_start.desc(), Goal.position)
    )
    seen: dict[str, str] = {}
    for goal in rows:
        metric = (goal.target or {}).get("metric")
        if isinstance(metric, str) and metric not in seen:
            seen[metric] = str((goal.target or {}).get("direction", "higher"))
    return list(seen.items())


def strategy_event(
    session: Session,
    *,
    key: str,
    employee_id: str,
    cycle_id: str,
    objective_id: str,
    change: str,
    reason: str,
    changed_by: str,
    goals: Sequence[str],
    at: datetime,
) -> bool:
    """The strategy change in the person's performance file."""
    return insert_if_absent(
        session,
        PerformanceEvent,
        {
            "event_key": f"strategy:{key}:{employee_id}",
            "employee_id": employee_id,
            "cycle_id": cycle_id,
            "at": at,
            "kind": "strategy_change",
            "ref": objective_id,
            "summary": f"Objective {objective_id} {change}: re-align goals"[:500],
            "data": {
                "objective_id": objective_id,
                "change": change,
                "reason": reason,
                "changed_by": changed_by,
                "goals": list(goals),
            },
        },
        ("event_key",),
    )
