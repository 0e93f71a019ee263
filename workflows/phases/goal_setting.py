"""Phase 1, goal setting: the employee drafts, the manager approves or returns.

Department objectives, when the definition has them written by a task, are an org-level
gate: drafting waits until the cycle says this participant's department has its objectives.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows.context import ONE_WRITE_PHASE_START, ParticipantContext

with workflow.unsafe.imports_passed_through():
    from definitions.models import GoalSettingPhase


def goal_rules(phase: GoalSettingPhase) -> Any:
    """Rules a goal draft must meet beyond its JSON Schema, from the definition."""

    def check(payload: dict[str, Any]) -> list[str]:
        goals = payload.get("goals", [])
        problems: list[str] = []
        if not phase.min_goals <= len(goals) <= phase.max_goals:
            problems.append(
                f"between {phase.min_goals} and {phase.max_goals} goals are needed, "
                f"got {len(goals)}"
            )
        total = sum(int(goal.get("weight", 0)) for goal in goals)
        if goals and total != 100:
            problems.append(f"goal weights must sum to 100, got {total}")
        for index, goal in enumerate(goals):
            if goal.get("type") not in phase.goal_types:
                problems.append(f"goal {index + 1}: type must be one of {list(phase.goal_types)}")
            if int(goal.get("weight", 0)) < phase.min_goal_weight:
                problems.append(
                    f"goal {index + 1}: weight must be at least {phase.min_goal_weight}"
                )
            if (
                phase.alignment.required
                and goal.get("type") != "development"
                and not goal.get("parent_id")
            ):
                problems.append(f"goal {index + 1}: align it to a parent objective (parent_id)")
        return problems

    return check


async def run(ctx: ParticipantContext, phase: GoalSettingPhase) -> None:
    department = phase.objectives.department
    if (
        department is not None
        and department.source == "task"
        and not await ctx.gate("objectives", phase.id)
    ):
        return
    # The first draft's prefill is built by the activity that opens it.
    one_write = workflow.patched(ONE_WRITE_PHASE_START)
    prefill = {} if one_write else await ctx.prefill("goal_draft", phase.id)
    prefill_from = ctx.prefill_source("goal_draft", phase.id) if one_write else None
    rules = goal_rules(phase)
    for round_number in range(1, phase.approval.max_rounds + 1):
        draft = await ctx.task(
            phase,
            kind="goal_draft",
            form_id=phase.forms.draft,
            assignee_id=ctx.employee_id,
            title="Draft your goals",
            seq=round_number,
            prefill=prefill,
            prefill_from=prefill_from if round_number == 1 else None,
            rules=rules,
        )
        if not ctx.submitted(draft) or ctx.closed(phase.id):
            return
        needs_review = phase.approval.by == "manager" and phase.forms.review is not None
        if not needs_review or ctx.manager_id is None:
            return
        assert phase.forms.review is not None
        review = await ctx.task(
            phase,
            kind="goal_review",
            form_id=phase.forms.review,
            assignee_id=ctx.manager_id,
            title=f"Review the goals of {ctx.employee_id}",
            seq=round_number,
            prefill={"goals": (draft.payload or {}).get("goals", [])},
        )
        if not ctx.submitted(review) or ctx.closed(phase.id):
            return
        decision = (review.payload or {}).get("decision")
        if decision == "approve":
            return
        # The returned draft is the next round's starting point; the manager's comments
        # stay on the review task, where the inbox shows them.
        prefill = dict(draft.payload or {})
    # Still returned after the last round: HR or the HRBP takes it from here.
    escalate_to = ctx.role_id(phase.escalation.to if phase.escalation else "hr")
    if escalate_to is not None:
        await ctx.book.notify(
            f"{ctx.cycle_id}/{ctx.employee_id}/{phase.id}:rounds-exhausted",
            escalate_to,
            "escalation",
            f"Goals of {ctx.employee_id} not approved after {phase.approval.max_rounds} rounds",
            cycle_id=ctx.cycle_id,
        )
