"""UI hints for a task's form, from the phase of the definition it belongs to: the keys
of map fields (competencies to rate, conversation sections to minute), the choices for
id fields (the goals a check-in is about) and the rules the workflow checks beyond the
JSON Schema, in words."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.schemas.tasks import HintKey, TaskHints
from definitions.models import EvaluationPhase, GoalSettingPhase, InterviewPhase
from definitions.pinned import PinnedDefinition
from store.models import Goal, Task

GOAL_KINDS = ("goal_draft", "goal_realign")
GOAL_TYPE_NAMES = {"okr": "OKR", "kpi": "KPI", "development": "development"}


def _goal_rules(phase: GoalSettingPhase) -> list[str]:
    rules = [
        f"Between {phase.min_goals} and {phase.max_goals} goals."
        if phase.min_goals != phase.max_goals
        else f"Exactly {phase.min_goals} goals.",
        "The goal weights add up to 100.",
        f"Each goal weighs at least {phase.min_goal_weight}.",
        "Goal types: " + ", ".join(GOAL_TYPE_NAMES.get(t, t) for t in phase.goal_types) + ".",
    ]
    if phase.alignment.required:
        rules.append("Every goal but a development goal supports an objective.")
    if phase.type_weights:
        shares = ", ".join(
            f"{GOAL_TYPE_NAMES.get(t, t)} {share}%" for t, share in phase.type_weights.items()
        )
        rules.append(f"Suggested split of the weight by type: {shares}.")
    return rules


def goal_options(session: Session, task: Task) -> list[HintKey]:
    """The goals of the task's subject in its cycle, for fields that name one (`goal_id`)."""
    goals = session.scalars(
        select(Goal)
        .where(
            Goal.cycle_id == task.cycle_id,
            Goal.owner_id == task.subject_id,
            Goal.status != "closed",
        )
        .order_by(Goal.position, Goal.id)
    ).all()
    return [HintKey(id=g.id, title=g.title, description=g.type) for g in goals]


def task_hints(session: Session, pinned: PinnedDefinition, task: Task) -> TaskHints:
    hints = _phase_hints(pinned, task.phase_id, task.kind)
    if not task.subject_id.startswith("@"):
        goals = goal_options(session, task)
        if goals:
            hints.options["goal_id"] = goals
    return hints


def _phase_hints(pinned: PinnedDefinition, phase_id: str, kind: str) -> TaskHints:
    phase = next((p for p in pinned.definition.phases if p.id == phase_id), None)
    if isinstance(phase, EvaluationPhase) and phase.competencies:
        return TaskHints(
            keys={
                "competencies": [
                    HintKey(id=c.id, title=c.title, description=c.description)
                    for c in phase.competencies
                ]
            }
        )
    if isinstance(phase, InterviewPhase):
        return TaskHints(
            keys={
                "sections": [
                    HintKey(id=s.id, title=s.title, description=s.prompt) for s in phase.template
                ]
            }
        )
    if isinstance(phase, GoalSettingPhase) and kind in GOAL_KINDS:
        return TaskHints(rules=_goal_rules(phase))
    return TaskHints()
