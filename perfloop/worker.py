"""The worker: both workflows and every activity on one task queue.

A worker is stateless: run as many as the load needs, against the same Temporal
namespace and store. `perfloop worker` runs one until SIGINT/SIGTERM, then drains (lets
activities in flight finish for up to `GRACEFUL_SHUTDOWN`) before exiting.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import RPCError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.hris.base import Hris
from activities.notify.base import Notifier
from perfloop.runner import ContextFreeSandboxRunner, ignores_context
from perfloop.settings import Settings
from workflows.cycle import CycleWorkflow
from workflows.monitor import MonitorWorkflow
from workflows.participant import ParticipantWorkflow

log = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN = timedelta(seconds=20)
"""How long a stopping worker lets activities in flight finish before cancelling them."""

PASSTHROUGH_MODULES = (
    # Pure, import-time-heavy and side-effect-free: loaded once, outside the sandbox,
    # instead of once per workflow run.
    "activities.types",
    "definitions",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "jsonschema",
    "jsonschema_specifications",
    "referencing",
    "rpds",
    "cel",
    # Our own workflow code too: re-importing it for every run (compiling it, applying
    # the workflow decorators) was most of a launch's cost per participant. The
    # sandbox still guards builtins and imports at run time here, and the test suite
    # runs every workflow under the strict default sandbox (nothing passed through) and
    # replays the saved histories, which is where non-determinism is caught.
    "workflows",
)

SessionFactory = sessionmaker[Session]


def workflow_runner(
    *, sandbox: bool = True, converter: DataConverter | None = None
) -> WorkflowRunner:
    """The sandbox with our pure modules passed through, or, with `sandbox=False`
    (`PERFLOOP_WORKER_SANDBOX=false`), no sandbox.

    When `converter` ignores serialization contexts (ours does, encrypted or not), the
    sandbox is wrapped so that the SDK's context lookup for every payload sequence it
    encodes or decodes is answered without entering the sandbox (`perfloop.runner`):
    that lookup was most of a worker's own CPU for an Update (bench/README.md). Without
    the sandbox a workflow task also skips the sandbox's entry and exit around each
    activation; what is lost is the run-time refusal of non-deterministic calls. The
    tests run every workflow in the strict sandbox and replay the saved histories, where
    such calls are caught before release.
    """
    if not sandbox:
        return UnsandboxedWorkflowRunner()
    runner = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )
    if converter is not None and ignores_context(converter):
        return ContextFreeSandboxRunner(runner)
    return runner


def activity_methods(*holders: object) -> list[Callable[..., Any]]:
    """Every `@activity.defn` method of the given objects, in definition order."""
    found: list[Callable[..., Any]] = []
    for holder in holders:
        for _, member in inspect.getmembers(holder, callable):
            if getattr(member, "__temporal_activity_definition", None) is not None:
                found.append(member)
    return found


def build_activities(
    client: Client,
    settings: Settings,
    *,
    session_factory: SessionFactory | None = None,
    hris: Hris | None = None,
    notifier: Notifier | None = None,
) -> list[Callable[..., Any]]:
    """The engine's activities, wired to the store, the HRIS and the notifier."""
    from activities.engine import EngineActivities
    from activities.monitoring import MonitoringActivities
    from activities.notify.activity import NotifyActivities
    from activities.records import RecordActivities
    from activities.reviews360 import Review360Activities
    from activities.sync import ResultsSyncActivities
    from activities.wiring import build_hris, build_notifier
    from perfloop.faults import after_commit_hook

    if session_factory is None:
        from store.db import session_factory as default_factory

        session_factory = default_factory(settings.effective_database_url)
    hris = hris if hris is not None else build_hris(settings, session_factory)
    notifier = notifier if notifier is not None else build_notifier(settings, session_factory)
    after_commit = after_commit_hook(settings.fault_kill_after_commit)
    if after_commit is not None:
        log.warning("fault injection on: %s", settings.fault_kill_after_commit)
    return activity_methods(
        RecordActivities(session_factory, hris, notifier, after_commit=after_commit),
        MonitoringActivities(session_factory, notifier),
        Review360Activities(session_factory),
        ResultsSyncActivities(session_factory, hris, after_commit=after_commit),
        NotifyActivities(notifier),
        EngineActivities(client, settings, session_factory),
    )


def activity_names(activities: Sequence[Callable[..., Any]]) -> list[str]:
    return [getattr(fn, "__temporal_activity_definition").name for fn in activities]


def missing_activities(activities: Sequence[Callable[..., Any]]) -> list[str]:
    """Names in `activities.types.ActivityName` that nothing in `activities` implements.

    A workflow calling one of them would retry forever, so the worker says so at start.
    """
    from activities.types import ActivityName

    wanted = {
        value
        for key, value in vars(ActivityName).items()
        if key.isupper() and isinstance(value, str)
    }
    return sorted(wanted - set(activity_names(activities)))


def build_worker(
    client: Client,
    settings: Settings,
    *,
    session_factory: SessionFactory | None = None,
    hris: Hris | None = None,
    notifier: Notifier | None = None,
    activities: Sequence[Callable[..., Any]] | None = None,
    task_queue: str | None = None,
    graceful_shutdown: timedelta = GRACEFUL_SHUTDOWN,
) -> Worker:
    """A worker for `settings.task_queue` with both workflows and every activity.

    `activities` replaces the real ones (tests); the rest comes from `settings`.
    """
    registered = list(
        activities
        if activities is not None
        else build_activities(
            client, settings, session_factory=session_factory, hris=hris, notifier=notifier
        )
    )
    names = activity_names(registered)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"activities registered twice: {', '.join(duplicates)}")
    if activities is None and (missing := missing_activities(registered)):
        log.error(
            "no implementation of activities %s: cycles that reach them will wait "
            "(retrying) until a worker that has them runs",
            ", ".join(missing),
        )
    max_activities = settings.worker_max_concurrent_activities
    # Synchronous activities (store writes through SQLAlchemy) run on threads; size the
    # pool to the activity slots so a slot never waits for a thread.
    executor = (
        ThreadPoolExecutor(max_workers=max_activities, thread_name_prefix="perfloop-activity")
        if any(not inspect.iscoroutinefunction(fn) for fn in registered)
        else None
    )
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=[CycleWorkflow, ParticipantWorkflow, MonitorWorkflow],
        activities=registered,
        activity_executor=executor,
        workflow_runner=workflow_runner(
            sandbox=settings.worker_sandbox, converter=client.data_converter
        ),
        max_concurrent_activities=max_activities,
        max_concurrent_local_activities=max_activities,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_cached_workflows=settings.worker_max_cached_workflows,
        graceful_shutdown_timeout=graceful_shutdown,
    )


def release_worker(worker: Worker) -> None:
    """Free what `build_worker` made for a worker that has stopped (its thread pool)."""
    executor = worker.config().get("activity_executor")
    if isinstance(executor, ThreadPoolExecutor):
        executor.shutdown(wait=False, cancel_futures=True)


async def run_worker(
    settings: Settings,
    *,
    client: Client | None = None,
    stop: asyncio.Event | None = None,
    ready: Callable[[Worker], None] | None = None,
) -> None:
    """Run a worker until `stop` is set, or until SIGINT/SIGTERM when no `stop` is given.

    Migrates the store first (cheap when at head) so a fresh database works, and makes
    sure the namespace has our search attributes.
    """
    from perfloop.temporal import SEARCH_ATTRIBUTES, connect, ensure_search_attributes
    from store.migrate import upgrade

    await asyncio.to_thread(upgrade, settings.effective_database_url)
    client = client or await connect(settings)
    try:
        await ensure_search_attributes(client)
    except RPCError as exc:
        # Temporal Cloud, or a namespace we may not administer: someone with the rights
        # registers them once (`tcld namespace search-attributes add`, or the UI).
        log.error(
            "cannot register the search attributes %s (Keyword) in namespace %s: %s; "
            "register them, or start cycles without search attributes",
            ", ".join(SEARCH_ATTRIBUTES),
            client.namespace,
            exc.message,
        )
    own_stop = stop is None
    stop = stop or asyncio.Event()
    if own_stop:
        _stop_on_signals(stop)
    worker = build_worker(client, settings)
    try:
        async with worker:
            log.info(
                "worker polling %s on %s (workflow sandbox %s)",
                settings.task_queue,
                settings.temporal_address,
                "on" if settings.worker_sandbox else "off",
            )
            if ready is not None:
                ready(worker)
            await stop.wait()
    finally:
        release_worker(worker)
        if own_stop:
            _restore_signals()


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def _restore_signals() -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)


if __name__ == "__main__":
    from perfloop.settings import get_settings

    logging.basicConfig(level=logging.INFO)
    asyncio.run(run_worker(get_settings()))
