"""The fault drills' stage: a dev server on a SQLite file, a store, worker subprocesses,
simulated people and the checks every drill ends with.

A drill runs a whole `probation-review@1` cycle for the demo organisation on an
accelerated clock (a nominal day every ~0.09 s), with the production worker
(`perfloop worker`) in subprocesses it can SIGKILL, and the demo's simulated people
(`perfloop.demo.People`) submitting tasks through the `submit_task` Update. Every wait is
bounded: a drill that cannot finish fails with what it was waiting for.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from definitions.pinned import PinnedDefinition
from perfloop.demo import HR_ADMIN, People, demo_cycle_options
from perfloop.settings import Settings
from perfloop.temporal import DevServer, connect, free_port
from workflows.messages import cycle_workflow_id

DEFINITION = "probation-review@1"
SPEED = 1_000_000.0
"""Nominal seconds per real second: the six-month cycle takes ~20 s of real time."""

CYCLE_DEADLINE = 110.0
"""Real seconds a drill's cycle may take, faults included, before the drill fails: about
20 s of cycle, plus up to 60 s (`workflows.tasks.ACTIVITY_TIMEOUT`) before Temporal
retries a regular activity a killed worker had started, plus slack for a busy machine."""

STEP = 20.0
"""Real seconds any one step (a server start, a condition to come true) may take."""

FINISHED_PHASE = ("completed", "skipped", "cancelled")


async def until(
    condition: Callable[[], bool | Awaitable[bool]], what: str, within: float = STEP
) -> None:
    """Wait until `condition()` holds, polling; fail naming `what` after `within` s."""
    deadline = time.monotonic() + within
    while True:
        outcome = condition()
        if not isinstance(outcome, bool):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)


class WorkerProcess:
    """`perfloop worker` in a subprocess, with its output in a log file."""

    def __init__(self, env: Mapping[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from perfloop.cli import main; main()", "worker"],
            env=dict(env),
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> int:
        """SIGKILL: no drain, no goodbye to Temporal; activities in flight are abandoned."""
        if self.alive():
            os.kill(self.process.pid, signal.SIGKILL)
        return self.wait()

    def wait(self, timeout: float = STEP) -> int:
        try:
            code = self.process.wait(timeout)
        finally:
            self._out.close()
        return code

    def stop(self) -> None:
        """SIGTERM (a graceful drain), then SIGKILL if it takes too long."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(25)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class ResilientPeople(People):
    """The demo's people, who shrug off an unreachable store or Temporal server and look
    at their inbox again on the next poll, and who try again whatever is still open there.

    A task a dead worker opened can show in the inbox before the workflow (re-run on
    another worker) knows it: the demo's people take that refusal as final, real ones
    submit again, with the same idempotency key, which these do too.
    """

    def _open_tasks(self) -> list[dict[str, Any]]:
        try:
            rows = super()._open_tasks()
        except OperationalError:
            return []
        self._done.clear()  # anything still open gets another try (same update id)
        return rows

    async def _handle(self, task: dict[str, Any]) -> None:
        # Not marked done on these: the next poll tries again.
        with contextlib.suppress(RPCError, OperationalError, RuntimeError):
            await super()._handle(task)


@dataclass
class Stage:
    """One drill's world; build it with `Stage.create`, tear it down with `close`."""

    home: Path
    url: str
    server: DevServer
    task_queue: str
    sessions: sessionmaker[Session]
    client: Client | None = None
    workers: list[WorkerProcess] = field(default_factory=list)
    cycle_id: str | None = None
    pinned: PinnedDefinition | None = None
    people: ResilientPeople | None = None
    _people_stop: asyncio.Event = field(default_factory=asyncio.Event)
    _people_task: asyncio.Task[None] | None = None

    @classmethod
    async def create(cls, home: Path, url: str | None = None) -> Stage:
        from perfloop.dev import prepare_store
        from store.db import session_factory

        await asyncio.to_thread((home / "temporal").mkdir, parents=True, exist_ok=True)
        url = url or f"sqlite:///{home / 'perfloop.db'}"
        server = DevServer(home / "temporal", port=free_port(), ui_port=None)
        settings = Settings(home=home, database_url=url)
        await asyncio.to_thread(prepare_store, settings)
        stage = cls(
            home=home,
            url=url,
            server=server,
            task_queue=f"drill-{uuid.uuid4().hex[:8]}",
            sessions=session_factory(url),
        )
        await asyncio.wait_for(server.start(), STEP * 2)
        stage.client = await connect(stage.settings())
        return stage

    def settings(self) -> Settings:
        return Settings(
            home=self.home,
            database_url=self.url,
            temporal_address=self.server.address,
            task_queue=self.task_queue,
        )

    def worker_env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERFLOOP_")}
        env.update(
            PERFLOOP_HOME=str(self.home),
            PERFLOOP_DATABASE_URL=self.url,
            PERFLOOP_TEMPORAL_ADDRESS=self.server.address,
            PERFLOOP_TASK_QUEUE=self.task_queue,
            PERFLOOP_WORKER_MAX_CONCURRENT_ACTIVITIES="20",
            PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
        )
        env.update({f"PERFLOOP_{k.upper()}": v for k, v in extra.items()})
        return env

    def start_worker(self, **extra: str) -> WorkerProcess:
        """A new `perfloop worker`; `extra` adds settings (e.g. fault_kill_after_commit)."""
        index = len(self.workers) + 1
        worker = WorkerProcess(self.worker_env(**extra), self.home / f"worker-{index}.log")
        self.workers.append(worker)
        return worker

    async def launch(self, *, people: bool = True) -> str:
        """Start the cycle (nominal start two real seconds from now) and the people."""
        from perfloop.cycles import resolve_pinned, start_cycle

        assert self.client is not None
        with self.sessions() as session:
            self.pinned = resolve_pinned(session, DEFINITION)
            self.cycle_id = await start_cycle(
                self.client,
                session,
                DEFINITION,
                speed=SPEED,
                launched_by=HR_ADMIN,
                task_queue=self.task_queue,
                options=demo_cycle_options(SPEED),
                real_start=datetime.now(UTC) + timedelta(seconds=2),
            )
        self.people = ResilientPeople(
            self.client,
            self.sessions,
            self.cycle_id,
            self.pinned,
            speed=SPEED,
            seed=11,
            concurrency=16,
        )
        if people:
            self._people_task = asyncio.create_task(self.people.run(self._people_stop))
        return self.cycle_id

    # -- what the store says ---------------------------------------------------------------

    def scalar(self, statement: Any) -> Any:
        with self.sessions() as session:
            return session.scalar(statement)

    def count(self, model: Any, *where: Any) -> int:
        assert self.cycle_id is not None
        return int(
            self.scalar(
                select(func.count())
                .select_from(model)
                .where(model.cycle_id == self.cycle_id, *where)
            )
            or 0
        )

    def cycle_status(self) -> str | None:
        from store.models import Cycle

        assert self.cycle_id is not None
        try:
            return self.scalar(select(Cycle.status).where(Cycle.cycle_id == self.cycle_id))  # type: ignore[no-any-return]
        except OperationalError:
            return None

    def open_tasks(self) -> int:
        from store.models import Task

        try:
            return self.count(Task, Task.status.in_(("open", "overdue")))
        except OperationalError:
            return 0

    def submissions(self) -> int:
        from store.models import Task

        try:
            return self.count(Task, Task.status == "submitted")
        except OperationalError:
            return 0

    async def finish(self, within: float = CYCLE_DEADLINE) -> None:
        """Wait for the cycle to complete (store and Temporal both say so)."""
        assert self.client is not None
        assert self.cycle_id is not None
        try:
            await until(lambda: self.cycle_status() == "completed", "the cycle to complete", within)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; still running: {await self.pending()}") from None
        handle = self.client.get_workflow_handle(cycle_workflow_id(self.cycle_id))

        async def closed() -> bool:
            with contextlib.suppress(RPCError):
                described = await handle.describe()
                return described.status == WorkflowExecutionStatus.COMPLETED
            return False

        await until(closed, "the cycle workflow to close")

    async def restart_server(self, down_for: float = 1.0) -> None:
        """Stop the dev server, wait, start it again on the same SQLite file and port."""
        await asyncio.wait_for(self.server.stop(), STEP)
        await asyncio.sleep(down_for)
        self.server = DevServer(self.server.home, port=self.server.port, ui_port=None)
        await asyncio.wait_for(self.server.start(), STEP * 2)

    async def pending(self) -> list[str]:
        """What the open workflows wait for: their pending activities (for failures)."""
        assert self.client is not None
        found: list[str] = []
        with contextlib.suppress(RPCError):
            async for execution in self.client.list_workflows("ExecutionStatus='Running'"):
                described = await self.client.get_workflow_handle(execution.id).describe()
                activities = [
                    f"{a.activity_type.name} attempt {a.attempt} ({a.last_failure.message!r})"
                    for a in described.raw_description.pending_activities
                ]
                found.append(f"{execution.id}: {', '.join(activities) or 'no activity'}")
                if len(found) >= 10:
                    break
        return found

    async def close(self) -> None:
        self._people_stop.set()
        if self._people_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._people_task, STEP)
        for worker in self.workers:
            if worker.alive():
                await asyncio.to_thread(worker.stop)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.stop(), STEP)
        from store.db import dispose_engines

        dispose_engines()


# -- the checks every drill ends with --------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """What a drill proves, counted from the store (printed in the drill's output)."""

    participants: int
    phases: int
    tasks: int
    submitted: int
    task_events: int
    notifications: int
    hris_results: int

    def __str__(self) -> str:
        return (
            f"{self.participants} participants, {self.phases} participant phases, "
            f"{self.tasks} tasks ({self.submitted} submitted), {self.task_events} task "
            f"events, {self.notifications} notifications, {self.hris_results} HRIS results"
        )


def duplicates(session: Session, *columns: Any) -> list[tuple[Any, ...]]:
    """Values of `columns` held by more than one row."""
    rows = session.execute(
        select(*columns, func.count()).group_by(*columns).having(func.count() > 1)
    ).all()
    return [tuple(row) for row in rows]


def check_nothing_lost(stage: Stage) -> Figures:
    """Every participant finished every phase; one row per business key, everywhere.

    The unique constraints already forbid a second row per key; what this adds is that
    the keys are all there (nothing lost) and every synced result reached the HRIS once.
    """
    from store.models import (
        CycleParticipant,
        HrisOutbox,
        ParticipantPhase,
        ResultProposal,
        Task,
        TaskEvent,
    )
    from store.models.notifications import Notification

    cycle_id = stage.cycle_id
    assert cycle_id is not None
    assert stage.pinned is not None
    phase_ids = [phase.id for phase in stage.pinned.definition.phases]
    with stage.sessions() as session:
        participants = session.scalars(
            select(CycleParticipant).where(CycleParticipant.cycle_id == cycle_id)
        ).all()
        assert participants, "nobody took part"
        assert {p.status for p in participants} <= {"completed", "left"}, [
            (p.employee_id, p.status) for p in participants if p.status != "completed"
        ]
        phases = session.scalars(
            select(ParticipantPhase).where(ParticipantPhase.cycle_id == cycle_id)
        ).all()
        by_person: dict[str, dict[str, str]] = {}
        for row in phases:
            by_person.setdefault(row.employee_id, {})[row.phase_id] = row.status
        for person in participants:
            statuses = by_person.get(person.employee_id, {})
            assert set(statuses) == set(phase_ids), (person.employee_id, statuses)
            assert all(s in FINISHED_PHASE for s in statuses.values()), (
                person.employee_id,
                statuses,
            )
        assert not duplicates(
            session,
            ParticipantPhase.cycle_id,
            ParticipantPhase.employee_id,
            ParticipantPhase.phase_id,
        )
        tasks = session.scalars(select(Task).where(Task.cycle_id == cycle_id)).all()
        assert tasks, "no task was ever opened"
        assert not [t.task_id for t in tasks if t.status in ("open", "overdue")]
        task_ids = [t.task_id for t in tasks]
        assert len(task_ids) == len(set(task_ids))
        events = session.execute(
            select(TaskEvent.task_id, TaskEvent.event_key, TaskEvent.what).where(
                TaskEvent.task_id.in_(task_ids)
            )
        ).all()
        keys = [(e.task_id, e.event_key) for e in events]
        assert len(keys) == len(set(keys)), "a task event was written twice"
        # One "opened" and at most one "submitted" event per task revision.
        opened = [e.task_id for e in events if e.what == "opened"]
        assert len(opened) == len(set(opened)) == len(task_ids), "a task was opened twice"
        submitted_events = [e.task_id for e in events if e.what == "submitted"]
        for task in tasks:
            assert submitted_events.count(task.task_id) == task.revision, (
                task.task_id,
                task.revision,
                submitted_events.count(task.task_id),
            )
        notifications = session.scalars(
            select(Notification.business_key).where(Notification.cycle_id == cycle_id)
        ).all()
        assert len(notifications) == len(set(notifications)), "a notification was sent twice"
        proposals = session.scalars(
            select(ResultProposal).where(ResultProposal.cycle_id == cycle_id)
        ).all()
        outbox = session.scalars(select(HrisOutbox).where(HrisOutbox.cycle_id == cycle_id)).all()
        outbox_keys = [row.business_key for row in outbox]
        assert len(outbox_keys) == len(set(outbox_keys)), "a result went to the HRIS twice"
        assert proposals, "no results were proposed"
        assert {p.status for p in proposals} == {"synced"}, [p.status for p in proposals]
        sent_for = {row.employee_id for row in outbox}
        assert sent_for == {p.employee_id for p in proposals}, "a result never reached the HRIS"
        assert all(row.attempts == 1 for row in outbox)
        return Figures(
            participants=len(participants),
            phases=len(phases),
            tasks=len(tasks),
            submitted=sum(1 for t in tasks if t.status == "submitted"),
            task_events=len(events),
            notifications=len(notifications),
            hris_results=len(outbox),
        )
