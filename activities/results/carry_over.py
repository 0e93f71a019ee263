"""Open goals a finished cycle hands to the next one (`carry_over.open_goals: carry`).

Which cycle: the person's latest *completed* cycle before this one (by nominal start)
that they took part in; a running or cancelled cycle hands nothing over. Its own
definition decides: its results phase's `carry_over.open_goals` is `carry`, or nothing
is carried (`drop`, the default, and definitions without a results phase).

Which goals: the ones agreed (approved) and not achieved when that cycle ended, i.e.
status `approved`, `in_progress` or `missed`, with progress below 100 % (once a goal's
period has ended an open goal reads as `missed`, `activities.goals.rollup.lapsed_status`,
so in practice these are the missed ones). Never carried:
`achieved` goals and any goal at 100 %, `dropped` and `closed` ones (deliberately
stopped), and drafts never approved (`draft`, `proposed`, `returned`).

How: as draft goals of the goal-draft form (title, type, description, the type's
measures without what was reached), each description starting with where it came from;
alignment and weight are left to the owner (last cycle's parents are not this cycle's).
`carried_goals` lists the source of each (cycle, goal id, status, progress) for the
form's context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from definitions.models import InterviewPhase, ResultsPhase
from store.models import Cycle, CycleParticipant, Goal

CARRIED_STATUSES = ("approved", "in_progress", "missed")
"""Agreed and not achieved when the cycle ended."""
DESCRIPTION_LENGTH = 2000
"""The goal-draft form's `description` limit."""
KEY_RESULT_FIELDS = ("title", "committed", "target", "unit")
"""What the goal-draft form takes of a key result (not its `current` or `progress`)."""


@dataclass(frozen=True)
class CarryPolicy:
    """What a finished cycle's definition hands to the next cycle of its population."""

    open_goals: str = "drop"
    """`carry_over.open_goals` of its results phase (`drop` without one)."""
    action_items: bool = True
    """Whether the action items of its interview become development goals: its interview
    phase's `action_items.become_development_goals` and its results phase's
    `carry_over.action_items_to_development_goals` (true when it has no results phase).
    Both default to true in the language, and so does a version the store lacks."""


_policies: dict[tuple[str, str], CarryPolicy] = {}
"""Parsed policies by (ref, sha256): a version never changes, so each is parsed once per
process, not once per person (a second cycle of ten thousand would parse it as often)."""


def _policy_of(ref: str, sha256: str, canonical: Mapping[str, Any]) -> CarryPolicy:
    known = _policies.get((ref, sha256))
    if known is not None:
        return known
    from definitions.pinned import PinnedDefinition

    definition = PinnedDefinition.from_canonical(ref, sha256, canonical).definition
    interviews = [p for p in definition.phases if isinstance(p, InterviewPhase)]
    results = [p for p in definition.phases if isinstance(p, ResultsPhase)]
    items = any(p.action_items.become_development_goals for p in interviews) and all(
        p.carry_over.action_items_to_development_goals for p in results
    )
    policy = CarryPolicy(
        open_goals=results[0].carry_over.open_goals if results else "drop", action_items=items
    )
    _policies[(ref, sha256)] = policy
    return policy


def carry_policy(session: Session, definition_ref: str) -> CarryPolicy:
    """The carry-over rules of a definition version (nothing carried when the store does
    not have the version)."""
    from definitions.registry import RegistryError, get_version

    try:
        row = get_version(session, definition_ref)
    except RegistryError:
        return CarryPolicy()
    return _policy_of(row.ref, row.sha256, row.canonical)


def open_goals_policy(session: Session, definition_ref: str) -> str:
    """The definition's `carry_over.open_goals` (`drop` without a results phase, or when
    the store does not have the version)."""
    return carry_policy(session, definition_ref).open_goals


def previous_cycle(session: Session, cycle_id: str, employee_id: str) -> Cycle | None:
    """The person's latest completed cycle that started before `cycle_id`."""
    current = session.get(Cycle, cycle_id)
    query = (
        select(Cycle)
        .join(CycleParticipant, CycleParticipant.cycle_id == Cycle.cycle_id)
        .where(
            CycleParticipant.employee_id == employee_id,
            Cycle.cycle_id != cycle_id,
            Cycle.status == "completed",
        )
        .order_by(Cycle.nominal_start.desc(), Cycle.cycle_id.desc())
        .limit(1)
    )
    if current is not None:
        query = query.where(Cycle.nominal_start <= current.nominal_start)
    return session.scalar(query)


def _percent(progress: float) -> int:
    return round(100 * max(0.0, min(1.0, progress)))


def _measures(target: dict[str, Any]) -> dict[str, Any]:
    """The goal's measures as the form takes them: a new cycle starts from zero."""
    measures = {k: v for k, v in target.items() if k not in ("actual", "key_results")}
    key_results = [
        {k: kr[k] for k in KEY_RESULT_FIELDS if k in kr}
        for kr in target.get("key_results") or ()
        if isinstance(kr, dict)
    ]
    if key_results:
        measures["key_results"] = key_results
    return measures


def carried_open_goals(
    session: Session, previous: Cycle | None, employee_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Draft goals for a goal-draft form from the person's open goals of their previous
    cycle (`previous_cycle`), and where each came from; empty unless that cycle's
    definition says `open_goals: carry`."""
    if previous is None or open_goals_policy(session, previous.definition_ref) != "carry":
        return [], []
    rows = session.scalars(
        select(Goal)
        .where(
            Goal.cycle_id == previous.cycle_id,
            Goal.owner_id == employee_id,
            Goal.status.in_(CARRIED_STATUSES),
            Goal.progress < 1.0,
        )
        .order_by(Goal.position, Goal.id)
    ).all()
    drafts: list[dict[str, Any]] = []
    sources: list[dict[str, Any]] = []
    for goal in rows:
        origin = (
            f"Carried over from {previous.cycle_id} ({goal.status.replace('_', ' ')}, "
            f"{_percent(goal.progress)}% done)."
        )
        description = f"{origin} {goal.description}" if goal.description else origin
        draft: dict[str, Any] = {
            "title": goal.title[:200],
            "type": goal.type,
            "description": description[:DESCRIPTION_LENGTH],
        }
        draft.update(_measures(goal.target or {}))
        drafts.append(draft)
        sources.append(
            {
                "cycle_id": previous.cycle_id,
                "goal_id": goal.id,
                "title": goal.title,
                "status": goal.status,
                "progress": goal.progress,
            }
        )
    return drafts, sources
