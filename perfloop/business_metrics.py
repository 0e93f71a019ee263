"""Business metrics, read from the store when Prometheus scrapes (`/metrics` of the API).

They describe running cycles, so every API replica reports the same numbers: scrape one
(or aggregate with `max`, never `sum`). Labels are ids of cycles, phases and task kinds
only, never an employee id: a cycle has a few dozen (phase, kind) pairs at most.

| metric | type | labels |
|---|---|---|
| `perfloop_tasks_open` | gauge | cycle, phase, kind: tasks not yet submitted (overdue included) |
| `perfloop_tasks_overdue` | gauge | cycle, phase, kind |
| `perfloop_task_submissions_total` | counter | cycle, phase, kind: submissions (revisions) |
| `perfloop_notifications_sent_total` | counter | cycle, kind: reminders, escalations, ... |
| `perfloop_phase_participants` | gauge | cycle, phase: participants who started it |
| `perfloop_phase_completion_ratio` | gauge | cycle, phase: completed or skipped / started |
| `perfloop_phase_deadline_timestamp_seconds` | gauge | cycle, phase: latest task due date |
| `perfloop_results_unsynced` | gauge | cycle: approved results the HRIS has not accepted |
| `perfloop_anomalies_fired_total` | counter | cycle, phase, rule, action: rules that fired |
| `perfloop_cycles_running` | gauge | — |
| `perfloop_business_metrics_up` | gauge | 1 when the store answered this scrape |

HRIS sync *failures* are counted where they happen, by the worker's SDK metrics:
`temporal_activity_execution_failed_total{activity_type=~"sync_results|sync_population"}`.

Counters are counts of rows (task events, notifications) of running cycles: they only
grow while a cycle runs, and Prometheus's `rate`/`increase` handle a cycle's series
ending when it completes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

NOTIFICATION_KINDS = ("reminder", "overdue", "escalation")
"""Notification kinds counted (the engine's nudges); task openings and infos are not."""


def _timestamp(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


class BusinessMetrics(Collector):
    """A Prometheus collector querying the store through `sessions` on every collect."""

    def __init__(self, sessions: Callable[[], Session]) -> None:
        self._sessions = sessions

    def describe(self) -> Iterable[Metric]:
        # Describing without collecting: registering the collector must not hit the store.
        return []

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "perfloop_business_metrics_up", "1 when the store answered this scrape."
        )
        try:
            with self._sessions() as session:
                families = list(self._families(session))
        except Exception as exc:  # a scrape must answer even when the store does not
            log.warning("business metrics: store query failed: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, session: Session) -> Iterable[Metric]:
        from store.models import Cycle, Notification, ParticipantPhase, Task, TaskEvent
        from store.models.records import ResultProposal

        running = select(Cycle.cycle_id).where(Cycle.status == "running").scalar_subquery()

        cycles = GaugeMetricFamily("perfloop_cycles_running", "Cycles running.")
        cycles.add_metric(
            [],
            session.scalar(select(func.count()).select_from(Cycle).where(Cycle.status == "running"))
            or 0,
        )
        yield cycles

        labels = ["cycle", "phase", "kind"]
        open_tasks = GaugeMetricFamily(
            "perfloop_tasks_open", "Tasks not yet submitted (overdue included).", labels=labels
        )
        overdue = GaugeMetricFamily("perfloop_tasks_overdue", "Tasks past due.", labels=labels)
        rows = session.execute(
            select(
                Task.cycle_id,
                Task.phase_id,
                Task.kind,
                func.count(),
                func.sum(case((Task.status == "overdue", 1), else_=0)),
            )
            .where(Task.status.in_(("open", "overdue")), Task.cycle_id.in_(running))
            .group_by(Task.cycle_id, Task.phase_id, Task.kind)
        )
        for cycle_id, phase_id, kind, total, late in rows:
            open_tasks.add_metric([cycle_id, phase_id, kind], total)
            overdue.add_metric([cycle_id, phase_id, kind], late or 0)
        yield open_tasks
        yield overdue

        submissions = CounterMetricFamily(
            "perfloop_task_submissions", "Task submissions (each revision).", labels=labels
        )
        rows = session.execute(
            select(Task.cycle_id, Task.phase_id, Task.kind, func.count())
            .join(TaskEvent, TaskEvent.task_id == Task.task_id)
            .where(TaskEvent.what == "submitted", Task.cycle_id.in_(running))
            .group_by(Task.cycle_id, Task.phase_id, Task.kind)
        )
        for cycle_id, phase_id, kind, total in rows:
            submissions.add_metric([cycle_id, phase_id, kind], total)
        yield submissions

        sent = CounterMetricFamily(
            "perfloop_notifications_sent",
            "Reminders, overdue notices and escalations sent (one per recipient).",
            labels=["cycle", "kind"],
        )
        rows = session.execute(
            select(Notification.cycle_id, Notification.kind, func.count())
            .where(Notification.kind.in_(NOTIFICATION_KINDS), Notification.cycle_id.in_(running))
            .group_by(Notification.cycle_id, Notification.kind)
        )
        for cycle_id, kind, total in rows:
            sent.add_metric([cycle_id or "", kind], total)
        yield sent

        phase_labels = ["cycle", "phase"]
        started = GaugeMetricFamily(
            "perfloop_phase_participants",
            "Participants who started the phase.",
            labels=phase_labels,
        )
        ratio = GaugeMetricFamily(
            "perfloop_phase_completion_ratio",
            "Share of the phase's participants who completed (or skipped) it.",
            labels=phase_labels,
        )
        rows = session.execute(
            select(
                ParticipantPhase.cycle_id,
                ParticipantPhase.phase_id,
                func.count(),
                func.sum(case((ParticipantPhase.status.in_(("completed", "skipped")), 1), else_=0)),
            )
            .where(ParticipantPhase.cycle_id.in_(running), ParticipantPhase.status != "cancelled")
            .group_by(ParticipantPhase.cycle_id, ParticipantPhase.phase_id)
        )
        for cycle_id, phase_id, total, done in rows:
            started.add_metric([cycle_id, phase_id], total)
            ratio.add_metric([cycle_id, phase_id], (done or 0) / total if total else 0.0)
        yield started
        yield ratio

        deadline = GaugeMetricFamily(
            "perfloop_phase_deadline_timestamp_seconds",
            "Latest due date of the phase's tasks (Unix time), for 'phase at risk' alerts.",
            labels=phase_labels,
        )
        rows = session.execute(
            select(Task.cycle_id, Task.phase_id, func.max(Task.due_at))
            .where(Task.cycle_id.in_(running))
            .group_by(Task.cycle_id, Task.phase_id)
        )
        for cycle_id, phase_id, latest in rows:
            if latest is not None:
                deadline.add_metric([cycle_id, phase_id], _timestamp(latest))
        yield deadline

        unsynced = GaugeMetricFamily(
            "perfloop_results_unsynced",
            "Approved results not yet accepted by the HRIS (the results sync is behind or "
            'failing; `temporal_activity_execution_failed{activity_type="sync_results"}` '
            "says which).",
            labels=["cycle"],
        )
        rows = session.execute(
            select(ResultProposal.cycle_id, func.count())
            .where(ResultProposal.status == "approved")
            .group_by(ResultProposal.cycle_id)
        )
        for cycle_id, total in rows:
            unsynced.add_metric([cycle_id], total)
        yield unsynced

        from store.models.monitoring import Anomaly

        anomalies = CounterMetricFamily(
            "perfloop_anomalies_fired",
            "Anomaly rules that fired (one per person and cooldown window).",
            labels=["cycle", "phase", "rule", "action"],
        )
        rows = session.execute(
            select(
                Anomaly.cycle_id, Anomaly.phase_id, Anomaly.rule_id, Anomaly.action, func.count()
            )
            .where(Anomaly.cycle_id.in_(running))
            .group_by(Anomaly.cycle_id, Anomaly.phase_id, Anomaly.rule_id, Anomaly.action)
        )
        for cycle_id, phase_id, rule_id, action, total in rows:
            anomalies.add_metric([cycle_id, phase_id, rule_id, action], total)
        yield anomalies
