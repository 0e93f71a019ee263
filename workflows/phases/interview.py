"""Phase 4, interview: the manager records minutes on a prefilled agenda; the employee
acknowledges or disagrees. If neither happens in time, the definition's role is told.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.context import ONE_WRITE_PHASE_START, ParticipantContext

with workflow.unsafe.imports_passed_through():
    from definitions.durations import parse_duration
    from definitions.models import Escalation, InterviewPhase


async def run(ctx: ParticipantContext, phase: InterviewPhase) -> None:
    sections = tuple(item for section in phase.template for item in section.prefill)
    # The agenda is built by the activity that opens the minutes task.
    one_write = workflow.patched(ONE_WRITE_PHASE_START)
    agenda = {} if one_write else await ctx.prefill("interview_minutes", phase.id, sections)
    recorder = ctx.manager_id or ctx.role_id("hr")
    if recorder is None:
        return
    minutes = await ctx.task(
        phase,
        kind="interview_minutes",
        form_id=phase.minutes.form,
        assignee_id=recorder,
        title=f"Interview with {ctx.employee_id}: record the minutes",
        prefill=agenda,
        prefill_from=(
            ctx.prefill_source("interview_minutes", phase.id, sections) if one_write else None
        ),
    )
    ack = phase.acknowledgment
    if not ctx.submitted(minutes) or ack is None or not ack.required or ctx.closed(phase.id):
        return
    due = ctx.clock.now() + parse_duration(ack.due)
    acknowledgment = await ctx.open_task(
        phase,
        kind="acknowledgment",
        form_id=ack.form,
        assignee_id=ctx.employee_id,
        title="Read and acknowledge your interview minutes",
        due_at=due,
        prefill={"minutes": minutes.payload or {}},
        escalation=Escalation(after="PT0S", to=ack.on_timeout),
    )
    # Wait through the escalation at the due date, then give it one more day.
    await ctx.wait(acknowledgment, until=due + parse_duration("P1D"))
    if acknowledgment.status not in ("submitted", "closed", "cancelled"):
        await ctx.book.close(acknowledgment, "closed", "not acknowledged in time")
