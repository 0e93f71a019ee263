"""The worker registers both workflows and an implementation of every activity name."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from perfloop.runner import ContextFreeSandboxRunner
from perfloop.settings import Settings
from perfloop.worker import (
    activity_names,
    build_activities,
    build_worker,
    missing_activities,
    run_worker,
)
from store.db import session_factory

pytestmark = pytest.mark.temporal


async def test_every_activity_the_workflows_call_is_registered_once(
    local_env: WorkflowEnvironment, db: str
) -> None:
    settings = Settings(database_url=db)
    activities = build_activities(local_env.client, settings, session_factory=session_factory(db))

    names = activity_names(activities)
    assert missing_activities(activities) == []
    assert len(names) == len(set(names))

    worker = build_worker(local_env.client, settings, session_factory=session_factory(db))
    config = worker.config()
    assert {getattr(w, "__temporal_workflow_definition").name for w in config["workflows"]} == {
        "CycleWorkflow",
        "ParticipantWorkflow",
        "MonitorWorkflow",
    }
    assert config["max_cached_workflows"] == settings.worker_max_cached_workflows
    runner = config["workflow_runner"]
    assert isinstance(runner, ContextFreeSandboxRunner)
    assert isinstance(runner.inner, SandboxedWorkflowRunner)


async def test_the_sandbox_can_be_turned_off(local_env: WorkflowEnvironment, db: str) -> None:
    settings = Settings(database_url=db, task_queue="unsandboxed-test", worker_sandbox=False)
    worker = build_worker(local_env.client, settings, session_factory=session_factory(db))
    assert isinstance(worker.config()["workflow_runner"], UnsandboxedWorkflowRunner)


async def test_run_worker_polls_until_told_to_stop(local_env: WorkflowEnvironment, db: str) -> None:
    settings = Settings(database_url=db, task_queue="run-worker-test")
    stop = asyncio.Event()
    started: list[Worker] = []

    def ready(worker: Worker) -> None:
        started.append(worker)
        stop.set()

    await asyncio.wait_for(
        run_worker(settings, client=local_env.client, stop=stop, ready=ready), timeout=30
    )

    assert len(started) == 1
    assert started[0].is_shutdown
