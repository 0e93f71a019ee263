"""Strategy change mid-cycle: re-align a participant's goals.

When an org or department objective changes or is dropped, the API signals
`realign_goals` to the participant workflow of every owner of a goal aligned below it
(`api/services/objectives.py` finds them in the store). The workflow opens a
`goal_realign` task for the participant (the goal setting phase's `forms.realign` form,
or its draft form), prefilled with their current goals, the objectives to align to and
what changed; the submission meets the phase's goal rules (count, weights summing to
100, types, alignment) as a draft does. When the definition sends changes after approval
to the manager (`approval.changes_after_approval: manager`) the manager then gets a
`goal_realign_review` task; the store applies the proposed changes only on approval.

Runs as a signal handler beside the phases: the participant may be anywhere in the cycle.
Everything here is new commands behind `REALIGN_PATCH`, so histories of runs before it
replay unchanged (they never received the signal).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from temporalio import workflow

from workflows.context import ParticipantContext, Withdrawn
from workflows.phases.goal_setting import goal_rules

with workflow.unsafe.imports_passed_through():
    from definitions.models import GoalSettingPhase
    from workflows.messages import Message

REALIGN_PATCH = "goals-realign-on-strategy-change"
REALIGN_TIME = timedelta(days=14)
"""How long a participant has to re-align; the task closes unanswered after it."""


class RealignSignal(Message):
    """An objective the participant's goals align to (directly or further up) changed."""

    key: str
    """Unique per strategy change; a repeated signal with the same key is ignored."""
    objective_id: str
    objective_title: str
    change: Literal["changed", "dropped"]
    reason: str
    changed_by: str


def goal_setting_phase(ctx: ParticipantContext) -> GoalSettingPhase | None:
    for phase in ctx.definition.phases:
        if isinstance(phase, GoalSettingPhase):
            return phase
    return None


async def realign(ctx: ParticipantContext, seq: int, signal: RealignSignal) -> None:
    """Open the re-align task (and the manager's review of it) for strategy change `seq`."""
    phase = goal_setting_phase(ctx)
    if phase is None or ctx.withdrawn is not None:
        return
    what = "was dropped" if signal.change == "dropped" else "changed"
    due = ctx.clock.now() + REALIGN_TIME
    change: dict[str, Any] = {
        "objective_id": signal.objective_id,
        "objective_title": signal.objective_title,
        "change": signal.change,
        "reason": signal.reason,
        "changed_by": signal.changed_by,
    }
    try:
        task = await ctx.open_task(
            phase,
            kind="goal_realign",
            form_id=phase.forms.realign or phase.forms.draft,
            assignee_id=ctx.employee_id,
            title=f"Re-align your goals: {signal.objective_title} {what}",
            seq=seq,
            due_at=due,
            prefill={"strategy_change": change},
            prefill_from=ctx.prefill_source("goal_realign", phase.id),
            rules=goal_rules(phase),
        )
        await ctx.wait(task, until=due)
        if not ctx.submitted(task):
            return
        if (
            phase.approval.changes_after_approval != "manager"
            or ctx.manager_id is None
            or phase.forms.review is None
        ):
            return
        review = await ctx.open_task(
            phase,
            kind="goal_realign_review",
            form_id=phase.forms.review,
            assignee_id=ctx.manager_id,
            title=f"Approve the re-aligned goals of {ctx.employee_id}",
            seq=seq,
            due_at=ctx.clock.now() + REALIGN_TIME,
            prefill={
                "goals": (task.payload or {}).get("goals", []),
                "strategy_change": change,
            },
        )
        await ctx.wait(review, until=ctx.clock.now() + REALIGN_TIME)
    except Withdrawn:
        return
