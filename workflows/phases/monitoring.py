"""Phase 2, monitoring: check-ins at the definition's cadence, progress pulled from
project tools, and anomaly rules evaluated on a timer.

A check-in not submitted by the next tick is closed as missed, so one silent fortnight
never blocks the next check-in.

Beside the check-ins (behind patch `MONITORING_WATCH`), a watcher runs while the phase
does, when the phase has anomaly rules or pulled progress sources:

- every `evaluate_rules_every` it reads the participant's anomaly-rule variables
  (`monitoring_signals`, a local activity), adds `participant`, and evaluates each rule's
  CEL `when`. A rule that holds and is not resting fires: `coach` opens a coaching task
  for the manager with the evidence as its prefill; every firing is recorded
  (`record_anomaly`: the anomaly row, a significant event on the timeline, and for
  `coach` and `notify` a notification to the manager). The rule then rests for its
  `cooldown`: it does not fire again for this person, however long the condition holds,
  until the cooldown is over. Cooldowns are workflow state (timers), so they survive
  worker restarts and are tested with time skipping.
- every source's `every` (github_issues sources) it pulls the participant's progress
  (`pull_progress`). A failing pull is logged and tried again at the next tick; it never
  fails the participant's workflow.

Why a timer loop here and not a Temporal Schedule: the pull is per participant (the
adapter asks for one person's issues), it must run exactly while this person's
monitoring window is open (HR may extend or close it), and its state (last pull, rules'
cooldowns) belongs to the participant. A Schedule would need its own lifecycle (create at
launch, pause, delete at close) to reproduce what the workflow's timers give for free.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.context import ParticipantContext
from workflows.tasks import DONE_STATUSES

with workflow.unsafe.imports_passed_through():
    from activities.types import (
        ActivityName,
        MonitoringSignals,
        MonitoringSignalsInput,
        PullProgressInput,
        PullProgressResult,
        RecordAnomalyInput,
    )
    from definitions.durations import parse_duration
    from definitions.expressions import (
        CompiledExpression,
        ExpressionError,
        compile_expression,
        evaluate_condition,
    )
    from definitions.models import AnomalyRule, MonitoringPhase, ProgressSource

MONITORING_WATCH = "monitoring-anomaly-rules-and-pulls"
"""Patch: the monitoring phase evaluates anomaly rules and pulls progress sources on
timers beside its check-ins."""

COACHING_TASK_TIME = timedelta(days=7)


async def run(ctx: ParticipantContext, phase: MonitoringPhase) -> None:
    pulled = tuple(source for source in phase.progress_sources if source.kind != "webhook")
    if not (phase.anomaly_rules or pulled) or not workflow.patched(MONITORING_WATCH):
        await _checkins(ctx, phase)
        return
    watcher = Watcher(ctx, phase, pulled)
    background = asyncio.create_task(watcher.run())
    try:
        await _checkins(ctx, phase)
    except BaseException:
        background.cancel()
        raise
    watcher.stopped = True
    await background
    await watcher.close_coaching_tasks()


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


def participant_variables(ctx: ParticipantContext) -> dict[str, Any]:
    profile = ctx.profile
    return {
        "tenure_days": profile.tenure_days(ctx.clock.now().date()),
        "department": profile.department,
        "location": profile.location or "",
        "employment_type": profile.employment_type,
        "is_manager": profile.direct_reports > 0,
        "direct_reports": profile.direct_reports,
        "level": profile.level,
    }


class Watcher:
    """Anomaly rules and progress pulls of one participant's monitoring phase."""

    def __init__(
        self, ctx: ParticipantContext, phase: MonitoringPhase, pulled: tuple[ProgressSource, ...]
    ) -> None:
        self.ctx = ctx
        self.phase = phase
        self.pulled = pulled
        self.stopped = False
        self.rules: list[tuple[AnomalyRule, CompiledExpression]] = [
            (rule, compile_expression(rule.when, "anomaly_rule.when"))
            for rule in phase.anomaly_rules
        ]
        self.resting: dict[str, datetime] = {}
        self.firings = 0
        self.coaching: list[Any] = []

    def _done(self) -> bool:
        return self.stopped or self.ctx.withdrawn is not None or self.ctx.closed(self.phase.id)

    async def run(self) -> None:
        ctx, phase = self.ctx, self.phase
        opens, _ = ctx.window(phase)
        every = parse_duration(phase.evaluate_rules_every)
        next_rules = opens + every if self.rules else None
        next_pull = {source.id: opens for source in self.pulled}
        while not self._done():
            _, due = ctx.window(phase)
            upcoming = [t for t in (next_rules, *next_pull.values()) if t is not None]
            at = min(upcoming)
            if at > due:
                return
            delay = ctx.clock.until(at)
            if delay > timedelta():
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(self._done, timeout=delay)
            if self._done():
                return
            for source in self.pulled:
                if next_pull[source.id] <= at:
                    await self._pull(source, at)
                    next_pull[source.id] = at + parse_duration(source.every)
            if next_rules is not None and next_rules <= at:
                await self._evaluate(at, opens, due)
                next_rules = at + every

    async def _pull(self, source: ProgressSource, at: datetime) -> None:
        assert source.url is not None  # checked by the definition (kind github_issues)
        try:
            await self.ctx.activity(
                ActivityName.PULL_PROGRESS,
                PullProgressInput(
                    cycle_id=self.ctx.cycle_id,
                    employee_id=self.ctx.employee_id,
                    source_id=source.id,
                    kind="github_issues",
                    url=source.url,
                    secret_env=source.secret_env,
                    at=at,
                ),
                PullProgressResult,
            )
        except ActivityError as exc:
            workflow.logger.warning("progress pull %s failed: %s", source.id, exc.cause or exc)

    async def _evaluate(self, at: datetime, opens: datetime, due: datetime) -> None:
        ctx = self.ctx
        found: MonitoringSignals = await ctx.activity(
            ActivityName.MONITORING_SIGNALS,
            MonitoringSignalsInput(
                cycle_id=ctx.cycle_id,
                employee_id=ctx.employee_id,
                phase_id=self.phase.id,
                opens=opens,
                due=due,
                at=at,
            ),
            MonitoringSignals,
        )
        variables: dict[str, Any] = {**found.values, "participant": participant_variables(ctx)}
        for rule, compiled in self.rules:
            if self._done():
                return
            resting = self.resting.get(rule.id)
            if resting is not None and at < resting:
                continue
            try:
                holds = evaluate_condition(compiled, variables)
            except ExpressionError as exc:
                # A runtime error (a division by zero, a variable the store did not
                # give) skips the rule this time; it never fails the participant.
                workflow.logger.warning("anomaly rule %s: %s", rule.id, exc)
                continue
            if holds:
                await self._fire(rule, at, found.values)

    async def _fire(self, rule: AnomalyRule, at: datetime, evidence: dict[str, float]) -> None:
        ctx = self.ctx
        self.firings += 1
        rests_until = at + parse_duration(rule.cooldown)
        self.resting[rule.id] = rests_until
        manager = ctx.role_id("manager")
        task_id: str | None = None
        if rule.action == "coach" and rule.form is not None and manager is not None:
            task = await ctx.open_task(
                self.phase,
                kind="coaching",
                form_id=rule.form,
                assignee_id=manager,
                title=f"Coaching: {rule.description or rule.id}"[:500],
                seq=self.firings,
                due_at=at + COACHING_TASK_TIME,
                prefill={
                    "anomaly": {
                        "rule_id": rule.id,
                        "description": rule.description,
                        "fired_at": at.isoformat(),
                        "evidence": evidence,
                    }
                },
                reminders=(),
            )
            self.coaching.append(task)
            task_id = task.spec.task_id
        await ctx.activity(
            ActivityName.RECORD_ANOMALY,
            RecordAnomalyInput(
                anomaly_key=f"{ctx.cycle_id}/{ctx.employee_id}/{rule.id}/{self.firings}",
                cycle_id=ctx.cycle_id,
                employee_id=ctx.employee_id,
                manager_id=manager,
                phase_id=self.phase.id,
                rule_id=rule.id,
                action=rule.action,
                description=rule.description,
                evidence=evidence,
                task_id=task_id,
                fired_at=at,
                rests_until=rests_until,
            ),
            bool,
        )

    async def close_coaching_tasks(self) -> None:
        """Coaching tasks still open when the phase ends are closed with it."""
        for task in self.coaching:
            if task.status not in DONE_STATUSES:
                await self.ctx.book.close(task, "closed", "the monitoring phase ended")
