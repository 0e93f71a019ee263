"""The monitoring phase under time skipping: anomaly rules fire, rest for their
cooldown, open coaching tasks with the evidence; progress sources are pulled on their
schedule, and a failing pull never fails the participant."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.types import (
    ActivityName,
    BuildPrefillInput,
    ClockSpec,
    MonitoringSignals,
    MonitoringSignalsInput,
    NotifyInput,
    OpenTaskInput,
    OpenTaskResult,
    ParticipantProfile,
    PullProgressInput,
    PullProgressResult,
    RecordAnomalyInput,
    RecordPhaseInput,
    RecordSubmissionInput,
    UpdateTaskInput,
)
from definitions.loader import load_file, pin
from definitions.pinned import PinnedDefinition
from store.monitoring import expected_by_now
from workflows.messages import ParticipantInput, ParticipantStatus, participant_workflow_id
from workflows.monitor import MonitorWorkflow, monitor_workflow_id
from workflows.participant import ParticipantWorkflow

DEFINITION = Path(__file__).parent / "monitoring-test" / "cycles" / "monitoring-test" / "v1.yaml"
NOMINAL_START = datetime(2027, 1, 4, tzinfo=UTC)
OPENS = NOMINAL_START + timedelta(days=7)
DUE = NOMINAL_START + timedelta(days=60)


@pytest.fixture(scope="module")
def pinned() -> PinnedDefinition:
    return pin(load_file(DEFINITION))


@dataclass
class Monitor:
    """Fake store: the participant's progress is `progress` until `caught_up_at`."""

    progress: float = 0.0
    caught_up_at: datetime | None = None
    fail_pulls: int = 0
    signals_at: list[datetime] = field(default_factory=list)
    anomalies: list[RecordAnomalyInput] = field(default_factory=list)
    pulls: list[PullProgressInput] = field(default_factory=list)
    tasks: dict[str, OpenTaskInput] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    history_lengths: dict[str, int] = field(default_factory=dict)
    continued: bool = False

    def activities(self) -> list[Any]:
        return [
            self.record_phase,
            self.open_task,
            self.update_task,
            self.record_submission,
            self.build_prefill,
            self.notify,
            self.monitoring_signals,
            self.record_anomaly,
            self.pull_progress,
        ]

    @activity.defn(name=ActivityName.RECORD_PHASE)
    async def record_phase(self, input: RecordPhaseInput) -> None:
        return None

    @activity.defn(name=ActivityName.OPEN_TASK)
    async def open_task(self, input: OpenTaskInput) -> OpenTaskResult:
        self.tasks.setdefault(input.task_id, input)
        self.statuses.setdefault(input.task_id, "open")
        return OpenTaskResult(prefill=dict(input.prefill))

    @activity.defn(name=ActivityName.UPDATE_TASK)
    async def update_task(self, input: UpdateTaskInput) -> None:
        if input.status is not None:
            self.statuses[input.task_id] = input.status

    @activity.defn(name=ActivityName.RECORD_SUBMISSION)
    async def record_submission(self, input: RecordSubmissionInput) -> None:
        self.statuses[input.task_id] = "submitted"

    @activity.defn(name=ActivityName.BUILD_PREFILL)
    async def build_prefill(self, input: BuildPrefillInput) -> dict[str, Any]:
        return {}

    @activity.defn(name=ActivityName.NOTIFY)
    async def notify(self, input: NotifyInput) -> bool:
        return True

    @activity.defn(name=ActivityName.MONITORING_SIGNALS)
    async def monitoring_signals(self, input: MonitoringSignalsInput) -> MonitoringSignals:
        self.signals_at.append(input.at)
        caught_up = self.caught_up_at is not None and input.at >= self.caught_up_at
        return MonitoringSignals(
            values={
                "progress": 1.0 if caught_up else self.progress,
                "expected_by_now": expected_by_now(input.opens, input.due, input.at),
                "days_since_checkin": float((input.at - input.opens).days),
                "checkins_missed": 0.0,
                "confidence": 3.0,
                "confidence_trend": 0.0,
                "blocked_count": 0.0,
                "open_goals": 0.0 if caught_up else 2.0,
                "overdue_tasks": 0.0,
                "collaboration_events": 0.0,
            }
        )

    @activity.defn(name=ActivityName.RECORD_ANOMALY)
    async def record_anomaly(self, input: RecordAnomalyInput) -> bool:
        self.anomalies.append(input)
        return True

    @activity.defn(name=ActivityName.PULL_PROGRESS)
    async def pull_progress(self, input: PullProgressInput) -> PullProgressResult:
        self.pulls.append(input)
        if self.fail_pulls > 0:
            self.fail_pulls -= 1
            raise ApplicationError("bad token", type="IntegrationConfigError", non_retryable=True)
        return PullProgressResult(seen=1, stored=1)


async def run_participant(
    env: WorkflowEnvironment, pinned: PinnedDefinition, task_queue: str, monitor: Monitor
) -> ParticipantStatus:
    now = await env.get_current_time()
    cycle_id = f"mon-{task_queue}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[ParticipantWorkflow, MonitorWorkflow],
        activities=monitor.activities(),
    ):
        handle = await env.client.start_workflow(
            ParticipantWorkflow.run,
            ParticipantInput(
                cycle_id=cycle_id,
                profile=ParticipantProfile(
                    employee_id="E010", manager_id="E002", department="Engineering"
                ),
                pinned=pinned,
                clock=ClockSpec(nominal_start=NOMINAL_START, real_start=now),
                use_search_attributes=False,
                hr_admins=("E001",),
            ),
            id=participant_workflow_id(cycle_id, "E010"),
            task_queue=task_queue,
        )
        result: ParticipantStatus = await handle.result()
        latest = await env.client.get_workflow_handle(
            monitor_workflow_id(handle.id, "monitor")
        ).fetch_history()
        started = latest.events[0].workflow_execution_started_event_attributes
        monitor.continued = bool(started.continued_execution_run_id)
        monitor.history_lengths = {
            name: len((await env.client.get_workflow_handle(wid).fetch_history()).events)
            for name, wid in (
                ("participant", handle.id),
                ("monitor", monitor_workflow_id(handle.id, "monitor")),
            )
        }
        return result


def days(at: datetime) -> int:
    return (at - OPENS).days


async def test_a_rule_fires_then_rests_for_its_cooldown(
    time_skipping_env: WorkflowEnvironment, pinned: PinnedDefinition, task_queue: str
) -> None:
    monitor = Monitor()
    status = await run_participant(time_skipping_env, pinned, task_queue, monitor)

    assert status.status == "completed"
    # Rules are evaluated once a day through the window (53 days).
    assert [days(at) for at in monitor.signals_at] == list(range(1, 54))
    behind = [a for a in monitor.anomalies if a.rule_id == "behind-plan"]
    # Behind plan from the day expected progress passes 0.2 (day 11 of 53), every day
    # after; the 10-day cooldown lets it fire only every tenth day.
    assert [days(a.fired_at) for a in behind] == [11, 21, 31, 41, 51]
    for anomaly in behind:
        assert anomaly.rests_until - anomaly.fired_at == timedelta(days=10)
        assert anomaly.action == "coach"
        assert anomaly.manager_id == "E002"
        assert anomaly.evidence["progress"] == 0.0
        assert anomaly.evidence["expected_by_now"] > 0.2
        assert anomaly.task_id is not None
        task = monitor.tasks[anomaly.task_id]
        assert task.kind == "coaching"
        assert task.assignee_id == "E002"
        assert task.subject_id == "E010"
        assert task.form_id == "coaching"
        assert task.prefill["anomaly"]["evidence"] == anomaly.evidence
    assert len({a.anomaly_key for a in monitor.anomalies}) == len(monitor.anomalies)
    # The silent rule (no check-in for 21 days) fires once: its cooldown outlasts the phase.
    silent = [a for a in monitor.anomalies if a.rule_id == "silent"]
    assert [days(a.fired_at) for a in silent] == [21]
    assert silent[0].task_id is None
    assert silent[0].action == "notify"
    # Coaching tasks still open when the phase ends are closed with it.
    coaching = [tid for tid, t in monitor.tasks.items() if t.kind == "coaching"]
    assert len(coaching) == 5
    assert all(monitor.statuses[tid] == "closed" for tid in coaching)
    # The daily ticks live in the monitor's history, not the participant's; the monitor
    # continued as new after 40 ticks (day 39), its cooldowns carried over (days 41, 51).
    assert monitor.history_lengths["participant"] < 120
    assert monitor.continued


async def test_a_rule_stops_firing_once_the_condition_is_gone(
    time_skipping_env: WorkflowEnvironment, pinned: PinnedDefinition, task_queue: str
) -> None:
    monitor = Monitor(caught_up_at=OPENS + timedelta(days=25))
    await run_participant(time_skipping_env, pinned, task_queue, monitor)

    behind = [a for a in monitor.anomalies if a.rule_id == "behind-plan"]
    assert [days(a.fired_at) for a in behind] == [11, 21]


async def test_progress_is_pulled_on_the_sources_schedule_and_a_failing_pull_is_survived(
    time_skipping_env: WorkflowEnvironment, pinned: PinnedDefinition, task_queue: str
) -> None:
    monitor = Monitor(progress=1.0, fail_pulls=2)
    status = await run_participant(time_skipping_env, pinned, task_queue, monitor)

    assert status.status == "completed"
    # Only the pulled source (the webhook one is pushed): when the phase opens, then
    # every 7 days while it runs.
    assert [(p.source_id, days(p.at)) for p in monitor.pulls] == [
        ("tracker", d) for d in range(0, 53, 7)
    ]
    assert monitor.pulls[0].url == "http://127.0.0.1:9/repos/o/r"
    assert monitor.pulls[0].employee_id == "E010"
