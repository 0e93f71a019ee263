"""Phase 2, monitoring: check-ins at the definition's cadence; anomaly rules and progress
pulls in a child workflow.

A check-in not submitted by the next tick is closed as missed, so one silent fortnight
never blocks the next check-in.

When the phase has anomaly rules or pulled progress sources (and behind patch
`MONITORING_WATCH`), the phase starts `MonitorWorkflow` (`workflows.monitor`) for the
window, runs the check-ins, waits for the window to end, and cancels it. The monitor
asks for coaching tasks with the participant's `coach` signal (`open_coaching_task`):
tasks live in the participant's book, like every other task of theirs. Coaching tasks
still open when the phase ends are closed with it.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import CancelledError, ChildWorkflowError

from workflows.context import ParticipantContext
from workflows.tasks import DONE_STATUSES

with workflow.unsafe.imports_passed_through():
    from activities.types import CoachSignal, MonitorInput
    from definitions.durations import parse_duration
    from definitions.models import MonitoringPhase
    from workflows.monitor import MonitorWorkflow, monitor_workflow_id

MONITORING_WATCH = "monitoring-anomaly-rules-and-pulls"
"""Patch: the monitoring phase runs `MonitorWorkflow` (anomaly rules, progress pulls)
beside its check-ins."""

COACHING_TASK_TIME = timedelta(days=7)


async def run(ctx: ParticipantContext, phase: MonitoringPhase) -> None:
    pulled = any(source.kind != "webhook" for source in phase.progress_sources)
    if not (phase.anomaly_rules or pulled) or not workflow.patched(MONITORING_WATCH):
        await _checkins(ctx, phase)
        return
    opens, due = ctx.window(phase)
    await ctx.write_phase_record()
    monitor = await workflow.start_child_workflow(
        MonitorWorkflow.run,
        MonitorInput(
            cycle_id=ctx.cycle_id,
            participant_workflow_id=ctx.workflow_id,
            profile=ctx.profile,
            phase=phase,
            clock=ctx.clock.spec,
            opens=opens,
            due=due,
            manager_id=ctx.role_id("manager"),
            local_activities=ctx.book.local_activities,
        ),
        id=monitor_workflow_id(ctx.workflow_id, phase.id),
    )
    try:
        await _checkins(ctx, phase)
        # The window may outlast the last check-in; HR may extend or close it meanwhile.
        while not ctx.closed(phase.id):
            _, due = ctx.window(phase)
            delay = ctx.clock.until(due)
            if delay <= timedelta():
                break
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: ctx.withdrawn is not None or ctx.closed(phase.id), timeout=delay
                )
            ctx.check()
    finally:
        monitor.cancel()
        with contextlib.suppress(CancelledError, ChildWorkflowError):
            await monitor
    for task in list(ctx.book.tasks.values()):
        coaching = task.spec.phase_id == phase.id and task.spec.kind == "coaching"
        if coaching and task.status not in DONE_STATUSES:
            await ctx.book.close(task, "closed", "the monitoring phase ended")


async def open_coaching_task(ctx: ParticipantContext, signal: CoachSignal) -> None:
    """The monitor found an anomaly of a `coach` rule: a task for the manager, prefilled
    with the evidence. Ignored once the phase is over (a signal racing its end)."""
    if (
        ctx.withdrawn is not None
        or ctx.current_phase != signal.phase_id
        or ctx.closed(signal.phase_id)
    ):
        return
    phase = next(p for p in ctx.definition.phases if p.id == signal.phase_id)
    manager = ctx.role_id("manager")
    if manager is None:
        return
    await ctx.open_task(
        phase,
        kind="coaching",
        form_id=signal.form_id,
        assignee_id=manager,
        title=f"Coaching: {signal.description or signal.rule_id}"[:500],
        seq=signal.seq,
        due_at=signal.at + COACHING_TASK_TIME,
        prefill={
            "anomaly": {
                "rule_id": signal.rule_id,
                "description": signal.description,
                "fired_at": signal.at.isoformat(),
                "evidence": signal.evidence,
            }
        },
        reminders=(),
    )


async def _checkins(ctx: ParticipantContext, phase: MonitoringPhase) -> None:
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
