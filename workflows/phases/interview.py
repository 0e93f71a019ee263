"""Phase 4, interview: the manager records minutes on a prefilled agenda; the employee
acknowledges or disagrees. If neither happens in time, the definition's role is told.

Behind patch `ACKNOWLEDGMENT_FOLLOW_UP`: an acknowledgment closed unanswered also enters
the employee's performance file ("not acknowledged in time"), and a disagreement is told
to the manager who recorded the minutes and to the `on_timeout` role, who follow up.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.context import ONE_WRITE_PHASE_START, ParticipantContext

with workflow.unsafe.imports_passed_through():
    from definitions.durations import parse_duration
    from definitions.models import Escalation, InterviewPhase

ACKNOWLEDGMENT_FOLLOW_UP = "interview-acknowledgment-follow-up"
"""Patch: an unanswered acknowledgment is recorded in the performance file when it is
closed, and a disagreement notifies the manager and the `on_timeout` role."""
NOT_ACKNOWLEDGED = "not acknowledged in time"


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
    follow_up = workflow.patched(ACKNOWLEDGMENT_FOLLOW_UP)
    if acknowledgment.status not in ("submitted", "closed", "cancelled"):
        await ctx.book.close(
            acknowledgment,
            "closed",
            NOT_ACKNOWLEDGED,
            file_note="Interview minutes not acknowledged in time" if follow_up else None,
        )
        return
    payload = acknowledgment.payload or {}
    if follow_up and ctx.submitted(acknowledgment) and payload.get("decision") == "disagree":
        told = dict.fromkeys(r for r in (recorder, ctx.role_id(ack.on_timeout)) if r)
        for recipient in told:
            await ctx.book.notify(
                f"{acknowledgment.spec.task_id}:disagreed:{recipient}",
                recipient,
                "info",
                f"{ctx.employee_id} disagrees with their interview minutes",
                cycle_id=ctx.cycle_id,
                task_id=acknowledgment.spec.task_id,
            )
