"""Goal progress and its roll-up through the objectives tree. Pure functions, no I/O.

The formulas are documented for HR in `definitions/README.md` ("Goal roll-up and scoring
formulas"); the tests compute hand-made trees against them.

- A key result's *ratio* is how far its value went from its start to its target,
  `(current - start) / (target - start)` clamped to 0..1 (a key result that gives
  `progress` directly uses that, clamped). A **committed** key result scores 1 when the
  ratio reaches 1 and 0 otherwise; an **aspirational** one scores its ratio.
- An OKR goal's progress is the weighted mean of its key results' scores (each key
  result's `weight`, 1 when absent).
- A KPI goal's progress is how far its `actual` went from `threshold` to `target`,
  clamped to 0..1, in the KPI's `direction` (`lower`: less is better).
- A parent (org objective, department objective, or a manager's goal that other goals
  align to) has the weighted mean of its aligned children's progress, each child weighted
  by its own `weight`; children are rolled up first. Dropped children do not count. A
  node with no counted child keeps its own progress.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GOAL_STATUSES = (
    "draft",
    "proposed",
    "returned",
    "approved",
    "in_progress",
    "achieved",
    "missed",
    "dropped",
    "closed",
)
"""Every status a goal row may hold (`returned` and `closed` are kept for old rows)."""
OPEN_STATUSES = frozenset({"draft", "proposed", "returned", "approved", "in_progress"})
"""Statuses that lapse when the goal's period ends."""
NOT_COUNTED = frozenset({"dropped", "closed"})
"""Statuses left out of roll-ups and attainment."""


def clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return min(max(value, low), high)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def key_result_ratio(key_result: Mapping[str, Any]) -> float:
    """How far a key result went from its start to its target, 0..1."""
    progress = _number(key_result.get("progress"))
    if progress is not None:
        return clamp(progress)
    target = _number(key_result.get("target"))
    current = _number(key_result.get("current"))
    start = _number(key_result.get("start")) or 0.0
    if target is None or current is None:
        return 0.0
    if target == start:
        return 1.0 if current >= target else 0.0
    return clamp((current - start) / (target - start))


def key_result_score(key_result: Mapping[str, Any]) -> float:
    """Committed: 0 or 1 (all or nothing). Aspirational (the default): 0..1."""
    ratio = key_result_ratio(key_result)
    if key_result.get("committed") is True:
        return 1.0 if ratio >= 1.0 else 0.0
    return ratio


def okr_progress(key_results: Iterable[Mapping[str, Any]]) -> float | None:
    """Weighted mean of the key results' scores; None without key results."""
    pairs = []
    for key_result in key_results:
        weight = _number(key_result.get("weight"))
        pairs.append((1.0 if weight is None else weight, key_result_score(key_result)))
    total = sum(weight for weight, _ in pairs if weight > 0)
    if total <= 0:
        return None
    return sum(weight * score for weight, score in pairs if weight > 0) / total


def kpi_progress(
    actual: float, threshold: float, target: float, direction: str = "higher"
) -> float:
    """How far `actual` went from threshold (0) to target (1), clamped to 0..1."""
    if direction == "lower":
        actual, threshold, target = -actual, -threshold, -target
    if target == threshold:
        return 1.0 if actual >= target else 0.0
    return clamp((actual - threshold) / (target - threshold))


def goal_progress(goal_type: str, target: Mapping[str, Any], reported: float) -> float:
    """A goal's own progress: from its key results (OKR) or its actual (KPI) when they
    carry values, else the progress last reported (a check-in), clamped."""
    if goal_type == "okr":
        key_results = [kr for kr in target.get("key_results") or () if isinstance(kr, dict)]
        if any("current" in kr or "progress" in kr for kr in key_results):
            value = okr_progress(key_results)
            if value is not None:
                return value
    if goal_type == "kpi":
        actual = _number(target.get("actual"))
        threshold = _number(target.get("threshold"))
        goal = _number(target.get("target"))
        if actual is not None and threshold is not None and goal is not None:
            return kpi_progress(actual, threshold, goal, str(target.get("direction", "higher")))
    return clamp(reported)


@dataclass(frozen=True)
class Node:
    """One objective or goal in the tree."""

    id: str
    parent_id: str | None
    weight: float
    progress: float
    status: str = "approved"


def roll_up(nodes: Sequence[Node]) -> dict[str, float]:
    """Every node's rolled-up progress: a parent's is the weighted mean of its counted
    children's (rolled up first); a node with no counted child keeps its own. Cycles in
    the parent links are cut where they close (the node keeps its own progress)."""
    by_id = {node.id: node for node in nodes}
    children: dict[str, list[Node]] = defaultdict(list)
    for node in nodes:
        if node.parent_id is not None and node.parent_id in by_id and node.parent_id != node.id:
            children[node.parent_id].append(node)
    result: dict[str, float] = {}

    def visit(node: Node, path: frozenset[str]) -> float:
        if node.id in result:
            return result[node.id]
        counted = [
            child
            for child in children.get(node.id, ())
            if child.status not in NOT_COUNTED and child.weight > 0 and child.id not in path
        ]
        total = sum(child.weight for child in counted)
        if total <= 0:
            value = clamp(node.progress)
        else:
            inner = path | {node.id}
            value = sum(child.weight * visit(child, inner) for child in counted) / total
        result[node.id] = value
        return value

    for node in nodes:
        visit(node, frozenset())
    return result


def lapsed_status(status: str, progress: float, ends_at: datetime | None, now: datetime) -> str:
    """The status a goal has at `now`: once its period ended, an open goal is achieved
    (approved or in progress, and fully done) or missed, never still "in progress"."""
    if ends_at is None or now < ends_at or status not in OPEN_STATUSES:
        return status
    if status in ("approved", "in_progress") and progress >= 1.0:
        return "achieved"
    return "missed"
