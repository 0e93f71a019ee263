"""Phase 3, evaluation: self and manager reviews, a score and a rating, then calibration.

Calibration is an org-level gate: the participant waits until the cycle has calibrated
its group, then reads its final rating.

With peer or upward sources (patch `evaluation-360-reviews`), the 360 runs while the self
and manager reviews are open: the employee nominates peers (within the definition's
`min_peers`..`max_peers`), the manager approves, removes or adds, reviewers are assigned
under `max_requests_per_reviewer` (counting the whole cycle's load), and each reviewer
gets a peer-review task in this participant's workflow (direct reports an upward-review
task). A reviewer may decline with a reason (`{"decline": true, "reason": ...}` through
the same submit); a replacement under the cap is then asked. See `workflows.phases.reviews360`.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.context import ParticipantContext
from workflows.phases import reviews360

with workflow.unsafe.imports_passed_through():
    from activities.types import ActivityName, FinalRatingInput, ScoreParticipantInput, ScoreResult
    from definitions.models import EvaluationPhase


EVIDENCE_PREFILL = "evaluation-evidence-prefill"
"""Patch: self and manager review tasks open with the evidence about the person."""


async def run(ctx: ParticipantContext, phase: EvaluationPhase) -> None:
    tasks = []
    # Review tasks open with the evidence about the person (goals, milestones, check-in
    # regularity, significant events, collaboration) in their prefill: the same open
    # activity builds it, so only its input changes.
    evidence = workflow.patched(EVIDENCE_PREFILL)
    if phase.sources.self_review > 0 and phase.forms.self_review is not None:
        tasks.append(
            await ctx.open_task(
                phase,
                kind="self_review",
                form_id=phase.forms.self_review,
                assignee_id=ctx.employee_id,
                title="Write your self-review",
                prefill_from=ctx.prefill_source("self_review", phase.id) if evidence else None,
            )
        )
    reviewer = ctx.manager_id or ctx.role_id("hr")
    if reviewer is not None:
        tasks.append(
            await ctx.open_task(
                phase,
                kind="manager_review",
                form_id=phase.forms.manager_review,
                assignee_id=reviewer,
                title=f"Review {ctx.employee_id}",
                prefill_from=(ctx.prefill_source("manager_review", phase.id) if evidence else None),
            )
        )
    if reviews360.wanted(ctx, phase) and workflow.patched(reviews360.REVIEWS_360):
        await reviews360.run(ctx, phase, others=tasks)
    await ctx.wait(*tasks)
    result: ScoreResult = await ctx.activity(
        ActivityName.SCORE_PARTICIPANT,
        ScoreParticipantInput(cycle_id=ctx.cycle_id, employee_id=ctx.employee_id, phase=phase),
        ScoreResult,
    )
    ctx.score, ctx.rating = result.score, result.rating
    if phase.calibration is not None and phase.calibration.enabled:
        await ctx.record_phase(phase.id, "waiting")
        if await ctx.gate("calibration", phase.id):
            final: int | None = await ctx.activity(
                ActivityName.FINAL_RATING,
                FinalRatingInput(cycle_id=ctx.cycle_id, employee_id=ctx.employee_id),
                int,
            )
            ctx.rating = final if final is not None else ctx.rating
