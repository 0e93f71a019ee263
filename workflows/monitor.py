"""MonitorWorkflow: anomaly rules and progress pulls of one participant's monitoring phase.

A child of the participant workflow, id `cycle/<cycle-id>/<employee-id>/monitor/<phase-id>`,
started when the phase opens and cancelled when it ends (`workflows.phases.monitoring`).
It lives apart so that its daily ticks (a timer and a local activity each) do not grow
the participant's own history, which stays small enough to cache and replay cheaply at
ten thousand participants (annual-review's participant: about 400 events instead of
3,600 with the ticks inline); Temporal UI shows it under its participant. It continues
as new every `TICKS_PER_RUN` ticks, carrying the rules' cooldowns and firings, so that
its own history stays short too.

- Every `evaluate_rules_every` it reads the participant's anomaly-rule variables
  (`monitoring_signals`), adds `participant`, and evaluates each rule's CEL `when`. A
  rule that holds and is not resting fires: `coach` asks the participant (signal
  `coach`) to open a coaching task for the manager with the evidence; every firing is
  recorded (`record_anomaly`: the anomaly row, a significant event on the timeline and,
  for `coach` and `notify`, a notification to the manager). The rule then rests for its
  `cooldown`: it does not fire again for this person, however long the condition holds,
  until the cooldown is over. Cooldowns are this workflow's state (timers), so they
  survive worker restarts and are tested with time skipping.
- Every source's `every` (github_issues sources) it pulls the participant's progress
  (`pull_progress`, a few bounded retries). A pull that still fails is logged and tried
  again at the next tick; it never fails the workflow nor holds up the rules.

Known limit: the monitor runs on the window it was started with. When HR extends the
monitoring phase, the check-ins follow the new due date but the monitor stops at the
original one (and computes `expected_by_now` against it); forwarding the new due date
(a signal from `phase_control`) is not built yet.

Why workflow timers and not a Temporal Schedule: the pull is per participant (the
adapter asks for one person's issues) and must run exactly while this person's
monitoring window is open (HR may close it early); its state (the rules' cooldowns)
belongs to the participant. A Schedule would need its own lifecycle (create at launch,
pause, delete at close) to reproduce what a child workflow's timers give for free.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.clock import Clock
from workflows.tasks import run_activity

with workflow.unsafe.imports_passed_through():
    from activities.types import (
        ActivityName,
        CoachSignal,
        MonitoringSignals,
        MonitoringSignalsInput,
        MonitorInput,
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
    from definitions.models import AnomalyRule, ProgressSource
    from workflows.messages import task_id

TICKS_PER_RUN = 40
"""Ticks (a timer and an evaluation or pull each) before the monitor continues as new."""
PULL_TIMEOUT = timedelta(seconds=120)
PULL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=4.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=4,
)


def monitor_workflow_id(participant_workflow_id: str, phase_id: str) -> str:
    return f"{participant_workflow_id}/monitor/{phase_id}"


def participant_variables(input: MonitorInput, clock: Clock) -> dict[str, Any]:
    profile = input.profile
    return {
        "tenure_days": profile.tenure_days(clock.now().date()),
        "department": profile.department,
        "location": profile.location or "",
        "employment_type": profile.employment_type,
        "is_manager": profile.direct_reports > 0,
        "direct_reports": profile.direct_reports,
        "level": profile.level,
    }


@workflow.defn(name="MonitorWorkflow")
class MonitorWorkflow:
    @workflow.init
    def __init__(self, input: MonitorInput) -> None:
        self.input = input
        self.clock = Clock(input.clock)
        self.rules: list[tuple[AnomalyRule, CompiledExpression]] = [
            (rule, compile_expression(rule.when, "anomaly_rule.when"))
            for rule in input.phase.anomaly_rules
        ]
        self.pulled: tuple[ProgressSource, ...] = tuple(
            source for source in input.phase.progress_sources if source.kind != "webhook"
        )
        self.resting: dict[str, datetime] = dict(input.resting)
        self.firings = input.firings

    @workflow.run
    async def run(self, input: MonitorInput) -> int:
        """Tick until the window is over (or the participant cancels); the firings."""
        every = parse_duration(input.phase.evaluate_rules_every)
        next_rules = input.next_rules or (input.opens + every if self.rules else None)
        next_pull = {
            source.id: input.next_pull.get(source.id, input.opens) for source in self.pulled
        }
        for ticks in range(TICKS_PER_RUN + 1):
            upcoming = [t for t in (next_rules, *next_pull.values()) if t is not None]
            if not upcoming:
                return self.firings
            at = min(upcoming)
            if at > input.due:
                return self.firings
            if ticks == TICKS_PER_RUN:
                break
            await self.clock.sleep_until(at)
            for source in self.pulled:
                if next_pull[source.id] <= at:
                    await self._pull(source, at)
                    next_pull[source.id] = at + parse_duration(source.every)
            if next_rules is not None and next_rules <= at:
                await self._evaluate(at)
                next_rules = at + every
        # A fresh run every TICKS_PER_RUN ticks keeps each history short: cheap to replay
        # when a worker restarts or evicts it from its cache.
        workflow.continue_as_new(
            input.model_copy(
                update={
                    "resting": self.resting,
                    "firings": self.firings,
                    "next_rules": next_rules,
                    "next_pull": next_pull,
                }
            )
        )

    async def _pull(self, source: ProgressSource, at: datetime) -> None:
        assert source.url is not None  # checked by the definition (kind github_issues)
        try:
            # Bounded retries, unlike the store writes: a tool that is down must not hold
            # up the rules; the next tick pulls again.
            await workflow.execute_activity(
                ActivityName.PULL_PROGRESS,
                PullProgressInput(
                    cycle_id=self.input.cycle_id,
                    employee_id=self.input.profile.employee_id,
                    source_id=source.id,
                    kind="github_issues",
                    url=source.url,
                    secret_env=source.secret_env,
                    at=at,
                ),
                result_type=PullProgressResult,
                start_to_close_timeout=PULL_TIMEOUT,
                retry_policy=PULL_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.warning("progress pull %s failed: %s", source.id, exc.cause or exc)

    async def _evaluate(self, at: datetime) -> None:
        input = self.input
        found: MonitoringSignals = await run_activity(
            ActivityName.MONITORING_SIGNALS,
            MonitoringSignalsInput(
                cycle_id=input.cycle_id,
                employee_id=input.profile.employee_id,
                phase_id=input.phase.id,
                opens=input.opens,
                due=input.due,
                at=at,
            ),
            MonitoringSignals,
            local=input.local_activities,
        )
        variables: dict[str, Any] = {
            **found.values,
            "participant": participant_variables(input, self.clock),
        }
        for rule, compiled in self.rules:
            resting = self.resting.get(rule.id)
            if resting is not None and at < resting:
                continue
            try:
                holds = evaluate_condition(compiled, variables)
            except ExpressionError as exc:
                # A runtime error (a division by zero, a variable the store did not
                # give) skips the rule this time; it never fails the workflow.
                workflow.logger.warning("anomaly rule %s: %s", rule.id, exc)
                continue
            if holds:
                await self._fire(rule, at, found.values)

    async def _fire(self, rule: AnomalyRule, at: datetime, evidence: dict[str, float]) -> None:
        input = self.input
        employee_id = input.profile.employee_id
        self.firings += 1
        rests_until = at + parse_duration(rule.cooldown)
        self.resting[rule.id] = rests_until
        coaching: str | None = None
        if rule.action == "coach" and rule.form is not None and input.manager_id is not None:
            participant = workflow.get_external_workflow_handle(input.participant_workflow_id)
            try:
                await participant.signal(
                    "coach",
                    CoachSignal(
                        phase_id=input.phase.id,
                        rule_id=rule.id,
                        description=rule.description,
                        form_id=rule.form,
                        seq=self.firings,
                        at=at,
                        evidence=evidence,
                    ),
                )
            except Exception as exc:  # the participant is gone: record the anomaly alone
                workflow.logger.warning("cannot ask for coaching: %s", exc)
            else:
                coaching = task_id(
                    input.cycle_id, employee_id, input.phase.id, "coaching", self.firings
                )
        await run_activity(
            ActivityName.RECORD_ANOMALY,
            RecordAnomalyInput(
                anomaly_key=f"{input.cycle_id}/{employee_id}/{rule.id}/{self.firings}",
                cycle_id=input.cycle_id,
                employee_id=employee_id,
                manager_id=input.manager_id,
                phase_id=input.phase.id,
                rule_id=rule.id,
                action=rule.action,
                description=rule.description,
                evidence=evidence,
                task_id=coaching,
                fired_at=at,
                rests_until=rests_until,
            ),
            bool,
            local=input.local_activities,
        )
