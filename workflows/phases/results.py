"""Phase 5, results: a pay and talent proposal for the participant, then HR's approval.

Budgets and approval are per group (department), so the cycle runs that gate; the
participant proposes and waits.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.context import ParticipantContext

with workflow.unsafe.imports_passed_through():
    from activities.types import ActivityName, ProposeResultsInput, ResultProposal
    from definitions.models import ResultsPhase


async def run(ctx: ParticipantContext, phase: ResultsPhase) -> None:
    await ctx.activity(
        ActivityName.PROPOSE_RESULTS,
        ProposeResultsInput(
            cycle_id=ctx.cycle_id, employee_id=ctx.employee_id, phase=phase, rating=ctx.rating
        ),
        ResultProposal,
    )
    await ctx.record_phase(phase.id, "waiting")
    await ctx.gate("results", phase.id)
