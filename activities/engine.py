"""Activities that drive Temporal itself: launch participant workflows and signal them.

`CycleWorkflow` never starts 10,000 children or sends 10,000 signals from its own
history: it hands a batch to one of these activities, which makes the calls with bounded
concurrency, heartbeats its progress, and resumes after a retry where the last attempt
left off. Every call is idempotent, so a retried batch never fails and never duplicates:

- a launch uses the participant's deterministic workflow id with `USE_EXISTING` (a running
  participant is left as it is) and `REJECT_DUPLICATE` (a participant that already ran
  to the end is never started a second time);
- the participant workflows' signal handlers are idempotent (a gate opened twice is open,
  a second withdrawal is ignored), and a participant that has finished or never existed
  is counted as `missing`, not an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.types import (
    ActivityName,
    BroadcastSignalInput,
    BroadcastSignalResult,
    LaunchParticipantsInput,
    LaunchParticipantsResult,
    ParticipantProfile,
)
from perfloop.codec import public_memo
from workflows.messages import ParticipantInput, participant_workflow_id
from workflows.participant import participant_search_attributes

log = logging.getLogger(__name__)

PARTICIPANT_WORKFLOW = "ParticipantWorkflow"
DEFAULT_CONCURRENCY = 50
LAUNCH_BACKLOG_LIMIT = 500
"""Workflow tasks waiting on the task queue above which a launch batch waits to start.

Starting workflows is cheaper than running their first task, so a launch that does not
wait gets thousands of first tasks ahead of the workers. The dev server keeps a long
backlog in its database rather than in memory and then hands tasks out at a few a second
while it spends a core reading them back: a 10,000-person launch on PostgreSQL, whose
writes no longer slowed the starts, went from 23 first tasks a second at 3,000 people to
11 at 10,000, with 7,300 tasks queued."""
BACKLOG_WAIT_SECONDS = 180.0
"""The longest a batch waits for the backlog (then it starts anyway: never a stall)."""
BACKLOG_POLL_SECONDS = 0.5
"""Start or signal calls in flight per activity: enough to launch 10,000 people in well
under a minute on the dev server, few enough to leave room for everyone else's calls."""

INACTIVE_STATUSES = ("left", "cancelled", "completed")
"""Snapshot rows (`CycleParticipant.status`) that get no workflow and no broadcast."""


class EngineConfig(Protocol):
    """What the engine activities read from the settings."""

    @property
    def task_queue(self) -> str: ...


SessionFactory = Callable[[], Session]


@dataclass(frozen=True)
class _Target:
    employee_id: str
    profile: dict[str, Any] | None = None


class EngineActivities:
    """`LAUNCH_PARTICIPANTS` and `BROADCAST_SIGNAL`, bound to a client and the store."""

    def __init__(
        self,
        client: Client,
        config: EngineConfig,
        session_factory: SessionFactory | None = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.client = client
        self.task_queue = config.task_queue
        self._session_factory = session_factory
        self.concurrency = concurrency

    @property
    def session_factory(self) -> SessionFactory:
        if self._session_factory is None:
            from store.db import session_factory

            self._session_factory = session_factory()
        return self._session_factory

    # -- launch ------------------------------------------------------------------------

    @activity.defn(name=ActivityName.LAUNCH_PARTICIPANTS)
    async def launch_participants(self, input: LaunchParticipantsInput) -> LaunchParticipantsResult:
        """Start the participant workflows of snapshot rows `[offset, offset+limit)` (by
        employee id) or of the employees in `only`."""
        targets, next_offset = await asyncio.to_thread(self._launch_targets, input)
        progress = _Progress.resume(started=0, already_running=0)
        await self._wait_for_backlog(progress)
        search_attributes = (
            participant_search_attributes(input.cycle_id, input.pinned.ref)
            if input.use_search_attributes
            else None
        )
        # Readable in Temporal UI without the codec server (the ref is no personal data).
        memo = {"definition": public_memo(input.pinned.ref)}

        async def launch(target: _Target) -> None:
            profile = ParticipantProfile.model_validate(
                {**(target.profile or {}), "employee_id": target.employee_id}
            )
            try:
                handle = await self.client.start_workflow(
                    PARTICIPANT_WORKFLOW,
                    ParticipantInput(
                        cycle_id=input.cycle_id,
                        profile=profile,
                        pinned=input.pinned,
                        clock=input.clock,
                        joined_late=input.joined_late,
                        use_search_attributes=input.use_search_attributes,
                        hr_admins=input.hr_admins,
                    ),
                    id=participant_workflow_id(input.cycle_id, target.employee_id),
                    task_queue=self.task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    search_attributes=search_attributes,
                    memo=memo,
                )
            except WorkflowAlreadyStartedError:
                # Ran before and finished: REJECT_DUPLICATE keeps it at one run.
                progress.count("already_running")
                return
            progress.count("started" if _newly_started(handle) else "already_running")

        await progress.run(targets, launch, self.concurrency)
        activity.logger.info(
            "launched %s participants of %s (%s already there)",
            progress.counts["started"],
            input.cycle_id,
            progress.counts["already_running"],
        )
        return LaunchParticipantsResult(
            started=progress.counts["started"],
            already_running=progress.counts["already_running"],
            next_offset=next_offset,
        )

    async def _wait_for_backlog(self, progress: _Progress) -> None:
        """Wait (heartbeating) until the task queue's workflow backlog is at most
        `LAUNCH_BACKLOG_LIMIT`, for at most `BACKLOG_WAIT_SECONDS`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BACKLOG_WAIT_SECONDS
        while loop.time() < deadline:
            backlog = await self._workflow_backlog()
            if backlog is None or backlog <= LAUNCH_BACKLOG_LIMIT:
                return
            progress.beat()
            await asyncio.sleep(BACKLOG_POLL_SECONDS)
        activity.logger.warning("launching with %s workflow tasks still queued", backlog)

    async def _workflow_backlog(self) -> int | None:
        """The approximate number of workflow tasks waiting on the task queue, or None when
        the server does not say (an older server, or the time-skipping test server)."""
        request = DescribeTaskQueueRequest(
            namespace=self.client.namespace,
            task_queue=TaskQueue(name=self.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            report_stats=True,
        )
        try:
            response = await self.client.workflow_service.describe_task_queue(request)
        except RPCError:
            return None
        if not response.HasField("stats"):
            return None
        return int(response.stats.approximate_backlog_count)

    def _launch_targets(self, input: LaunchParticipantsInput) -> tuple[list[_Target], int | None]:
        from store.models import CycleParticipant

        query = select(
            CycleParticipant.employee_id, CycleParticipant.status, CycleParticipant.profile
        ).where(CycleParticipant.cycle_id == input.cycle_id)
        if input.only is not None:
            query = query.where(CycleParticipant.employee_id.in_(input.only))
        else:
            # One row more than the batch tells whether another batch follows.
            query = query.offset(input.offset).limit(input.limit + 1)
        query = query.order_by(CycleParticipant.employee_id)
        with self.session_factory() as session:
            rows = session.execute(query).all()
        next_offset: int | None = None
        if input.only is None and len(rows) > input.limit:
            rows = rows[: input.limit]
            next_offset = input.offset + input.limit
        targets = [
            _Target(employee_id, dict(profile or {}))
            for employee_id, status, profile in rows
            if status not in INACTIVE_STATUSES
        ]
        return targets, next_offset

    # -- broadcast ---------------------------------------------------------------------

    @activity.defn(name=ActivityName.BROADCAST_SIGNAL)
    async def broadcast_signal(self, input: BroadcastSignalInput) -> BroadcastSignalResult:
        """Send one signal to many participant workflows of a cycle.

        Targets: `employee_ids` when given, else the active participants of `group`, else
        every active participant. A participant whose workflow is gone (finished, or never
        started) counts as `missing`.
        """
        targets = await asyncio.to_thread(self._broadcast_targets, input)
        progress = _Progress.resume(signalled=0, missing=0)

        async def send(target: _Target) -> None:
            handle = self.client.get_workflow_handle(
                participant_workflow_id(input.cycle_id, target.employee_id)
            )
            try:
                await handle.signal(input.signal, input.payload)
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                progress.count("missing")
                return
            progress.count("signalled")

        await progress.run(targets, send, self.concurrency)
        return BroadcastSignalResult(
            signalled=progress.counts["signalled"], missing=progress.counts["missing"]
        )

    def _broadcast_targets(self, input: BroadcastSignalInput) -> list[_Target]:
        if input.employee_ids is not None:
            return [_Target(employee_id) for employee_id in dict.fromkeys(input.employee_ids)]
        from store.models import CycleParticipant

        query = (
            select(CycleParticipant.employee_id)
            .where(
                CycleParticipant.cycle_id == input.cycle_id,
                CycleParticipant.status.not_in(INACTIVE_STATUSES),
            )
            .order_by(CycleParticipant.employee_id)
        )
        if input.group is not None:
            query = query.where(CycleParticipant.group == input.group)
        with self.session_factory() as session:
            return [_Target(employee_id) for employee_id in session.scalars(query)]


def _newly_started(handle: Any) -> bool:
    """Whether `start_workflow` made a new run or found a running one (USE_EXISTING).

    The server says so in `StartWorkflowExecutionResponse.started`; the SDK keeps that
    response on the handle without a public accessor, so read it defensively and assume a
    new run if it is ever missing (only the counts would be off, never the behaviour).
    """
    response = getattr(handle, "_start_workflow_response", None)
    started = getattr(response, "started", None)
    return True if started is None else bool(started)


class _Progress:
    """Counts and a resume point that survive an activity retry through heartbeats.

    Items finish out of order under concurrency; the heartbeat carries the *watermark*,
    the index below which every item is done, with the counts so far. A retry skips to the
    watermark; items past it that were done already are done again, which is safe because
    every operation here is idempotent (their counts may be off by those few).
    """

    def __init__(self, start: int, counts: dict[str, int]) -> None:
        self.watermark = start
        self.counts = counts
        self._done: set[int] = set()

    @classmethod
    def resume(cls, **counts: int) -> _Progress:
        details = activity.info().heartbeat_details if activity.in_activity() else ()
        if details:
            last = details[0]
            if isinstance(last, dict) and isinstance(last.get("next"), int):
                saved = last.get("counts") or {}
                merged = {key: int(saved.get(key, value)) for key, value in counts.items()}
                return cls(int(last["next"]), merged)
        return cls(0, dict(counts))

    def count(self, key: str) -> None:
        self.counts[key] += 1

    def beat(self) -> None:
        """Heartbeat where the work stands, while waiting before any of it."""
        if activity.in_activity():
            activity.heartbeat({"next": self.watermark, "counts": dict(self.counts)})

    def _finished(self, index: int) -> None:
        self._done.add(index)
        while self.watermark in self._done:
            self._done.discard(self.watermark)
            self.watermark += 1
        self.beat()

    async def run(
        self,
        items: Sequence[_Target],
        operation: Callable[[_Target], Awaitable[None]],
        concurrency: int,
    ) -> None:
        pending = iter(range(self.watermark, len(items)))

        async def lane() -> None:
            # The lanes share one iterator; taking the next index never awaits, so no two
            # lanes take the same one.
            for index in pending:
                await operation(items[index])
                self._finished(index)

        lanes = min(concurrency, max(len(items) - self.watermark, 0))
        async with asyncio.TaskGroup() as group:
            for _ in range(lanes):
                group.create_task(lane())
