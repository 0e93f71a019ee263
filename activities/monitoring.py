"""Monitoring activities: the anomaly-rule variables, a rule's firing, progress pulls.

- `monitoring_signals` reads a participant's goals, check-ins, tasks and timeline and
  returns the documented anomaly-rule variables (`store.monitoring.signals`); the
  workflow evaluates the rules' CEL conditions and keeps their cooldowns, so rule
  evaluation is deterministic and testable with time skipping.
- `record_anomaly` stores one firing (`Anomaly`, keyed by `anomaly_key`), puts it on the
  person's timeline as a significant event, and notifies the manager (actions `coach`
  and `notify`). Idempotent: a retry stores and sends nothing twice.
- `pull_progress` runs a pull adapter (`activities.progress`) for one participant and
  stores what it finds as `ProgressEvent` rows, keyed by (source, event id).

Logs carry ids and counts only.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio import activity

from activities.errors import IntegrationConfigError
from activities.notify.base import Notifier, OutgoingNotification
from activities.progress.base import ProgressAdapter
from activities.progress.github import GitHubIssuesAdapter
from activities.types import (
    ActivityName,
    MonitoringSignals,
    MonitoringSignalsInput,
    PullProgressInput,
    PullProgressResult,
    RecordAnomalyInput,
)
from store.db import writer_lock
from store.models import Anomaly, Employee, PerformanceEvent, ProgressEvent
from store.monitoring import signals
from store.upsert import insert_if_absent

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]
AdapterFactory = Callable[[PullProgressInput], ProgressAdapter]


def default_adapter(input: PullProgressInput) -> ProgressAdapter:
    """The adapter a source's `kind` names; its token from the environment variable the
    definition names (`secret_env`), read in the worker, never stored or logged."""
    token = os.environ.get(input.secret_env) if input.secret_env else None
    if input.secret_env and not token:
        raise IntegrationConfigError(
            input.kind, f"progress source {input.source_id}: ${input.secret_env} is not set"
        )
    return GitHubIssuesAdapter(input.url, token)


def login_of(employee: Employee | None, employee_id: str) -> str:
    """A person's login in project tools: the local part of their e-mail address."""
    if employee is None or "@" not in employee.email:
        return employee_id
    return employee.email.split("@", 1)[0]


def evidence_text(evidence: dict[str, float]) -> str:
    return ", ".join(f"{name} = {value:g}" for name, value in sorted(evidence.items()))


class MonitoringActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        notifier: Notifier,
        adapter: AdapterFactory = default_adapter,
    ) -> None:
        self._sessions = sessions
        self._notifier = notifier
        self._adapter = adapter

    def activities(self) -> list[Callable[..., Any]]:
        return [self.monitoring_signals, self.record_anomaly, self.pull_progress]

    @activity.defn(name=ActivityName.MONITORING_SIGNALS)
    async def monitoring_signals(self, input: MonitoringSignalsInput) -> MonitoringSignals:
        def read() -> MonitoringSignals:
            with self._sessions() as session:
                values = signals(
                    session,
                    input.cycle_id,
                    input.employee_id,
                    opens=input.opens,
                    due=input.due,
                    at=input.at,
                )
            return MonitoringSignals(values=values)

        return await asyncio.to_thread(read)

    @activity.defn(name=ActivityName.RECORD_ANOMALY)
    async def record_anomaly(self, input: RecordAnomalyInput) -> bool:
        """Store the firing and its timeline event; notify the manager. True if new."""

        def write() -> bool:
            with self._sessions() as session, writer_lock(session.get_bind()), session.begin():
                inserted = insert_if_absent(
                    session,
                    Anomaly,
                    {
                        "anomaly_key": input.anomaly_key,
                        "cycle_id": input.cycle_id,
                        "employee_id": input.employee_id,
                        "manager_id": input.manager_id,
                        "phase_id": input.phase_id,
                        "rule_id": input.rule_id,
                        "action": input.action,
                        "description": input.description,
                        "evidence": dict(input.evidence),
                        "task_id": input.task_id,
                        "fired_at": input.fired_at,
                        "rests_until": input.rests_until,
                    },
                    ["anomaly_key"],
                )
                insert_if_absent(
                    session,
                    PerformanceEvent,
                    {
                        "event_key": f"anomaly/{input.anomaly_key}",
                        "employee_id": input.employee_id,
                        "cycle_id": input.cycle_id,
                        "at": input.fired_at,
                        "kind": "significant_event",
                        "ref": input.task_id,
                        "summary": f"Anomaly rule {input.rule_id} fired"[:500],
                        "data": {
                            "category": "anomaly",
                            "rule_id": input.rule_id,
                            "action": input.action,
                            "evidence": dict(input.evidence),
                        },
                    },
                    ["event_key"],
                )
                return inserted

        inserted = await asyncio.to_thread(write)
        if input.action in ("coach", "notify") and input.manager_id:
            what = input.description or f"rule {input.rule_id}"
            await self._notifier.send(
                OutgoingNotification(
                    business_key=f"anomaly/{input.anomaly_key}",
                    recipient_id=input.manager_id,
                    kind="coaching",
                    subject=f"Coaching prompt for {input.employee_id}: {what}"[:200],
                    body=f"Why: {evidence_text(input.evidence)}",
                    task_id=input.task_id,
                    cycle_id=input.cycle_id,
                )
            )
        log.info(
            "anomaly %s for %s in %s (%s)",
            input.rule_id,
            input.employee_id,
            input.cycle_id,
            "new" if inserted else "again",
        )
        return inserted

    @activity.defn(name=ActivityName.PULL_PROGRESS)
    async def pull_progress(self, input: PullProgressInput) -> PullProgressResult:
        def employee() -> Employee | None:
            with self._sessions() as session:
                return session.scalar(
                    select(Employee).where(Employee.employee_id == input.employee_id)
                )

        login = login_of(await asyncio.to_thread(employee), input.employee_id)
        events = await self._adapter(input).pull(login, today=input.at.date())

        def store() -> int:
            stored = 0
            with self._sessions() as session, writer_lock(session.get_bind()), session.begin():
                for event in events:
                    stored += insert_if_absent(
                        session,
                        ProgressEvent,
                        {
                            "source_id": input.source_id,
                            "event_id": event.event_id,
                            "employee_id": input.employee_id,
                            "cycle_id": input.cycle_id,
                            "kind": event.kind,
                            "title": event.title,
                            "milestone_id": event.milestone_id,
                            "due_on": event.due_on,
                            "achieved": event.achieved,
                            "occurred_at": event.occurred_at,
                            "data": dict(event.data),
                        },
                        ["source_id", "event_id"],
                    )
            return stored

        stored = await asyncio.to_thread(store) if events else 0
        log.info(
            "pulled %d progress events (%d new) for %s from %s",
            len(events),
            stored,
            input.employee_id,
            input.source_id,
        )
        return PullProgressResult(seen=len(events), stored=stored)
