"""Phase 2, monitoring: a check-in task at every cadence tick of the window.

A check-in not submitted by the next tick is closed as missed, so one silent fortnight
never blocks the next check-in.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.context import ParticipantContext

with workflow.unsafe.imports_passed_through():
    from definitions.durations import parse_duration
    from definitions.models import MonitoringPhase


async def run(ctx: ParticipantContext, phase: MonitoringPhase) -> None:
    cadence = parse_duration(phase.checkins.cadence)
    grace = parse_duration(phase.checkins.grace)
    opens, _ = ctx.window(phase)
    tick = opens + cadence
    number = 1
    while not ctx.closed(phase.id):
        _, due = ctx.window(phase)  # re-read: HR may have extended the phase
        if tick > due:
            return
        await ctx.sleep_until(tick)
        ctx.check()
        if ctx.closed(phase.id):
            return
        checkin = await ctx.open_task(
            phase,
            kind="checkin",
            form_id=phase.checkins.form,
            assignee_id=ctx.employee_id,
            title=f"Check-in {number}",
            seq=number,
            due_at=tick + grace,
            escalation=None,
        )
        next_tick = tick + cadence
        await ctx.wait(checkin, until=min(next_tick, due))
        if checkin.status not in ("submitted", "closed", "cancelled"):
            await ctx.book.close(checkin, "closed", "missed: the next check-in is due")
        tick = next_tick
        number += 1
