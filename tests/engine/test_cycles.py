"""Starting and controlling cycles (`perfloop.cycles`, `perfloop cycles ...`) against a
real dev server, with a stand-in registered as `CycleWorkflow`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner, Result

from definitions.loader import load_file
from definitions.registry import DefinitionNotFoundError, publish
from perfloop.cli import app
from perfloop.cycles import (
    CycleConflictError,
    CycleError,
    CycleNotFoundError,
    CycleRefusedError,
    cancel_cycle,
    cycle_status,
    list_cycles,
    start_cycle,
)
from store.db import session_scope
from workflows.messages import (
    CancelCycleInput,
    ControlResult,
    CycleInput,
    CycleStatus,
    SearchAttributeNames,
    cycle_workflow_id,
)

pytestmark = pytest.mark.temporal

ANNUAL_REVIEW = (
    Path(__file__).resolve().parents[2] / "definitions" / "cycles" / "annual-review" / "v1.yaml"
)


@workflow.defn(name="CycleWorkflow", sandboxed=False)
class StandInCycle:
    @workflow.init
    def __init__(self, input: CycleInput) -> None:
        self.input = input
        self.cancelled: CancelCycleInput | None = None
        self.finished = False

    @workflow.run
    async def run(self, input: CycleInput) -> CycleStatus:
        # Runs on after a cancel (as the real one does while it closes up), until told.
        await workflow.wait_condition(lambda: self.finished)
        return self.status()

    @workflow.signal
    def finish(self) -> None:
        self.finished = True

    @workflow.query
    def status(self) -> CycleStatus:
        return CycleStatus(
            cycle_id=self.input.cycle_id,
            definition_ref=self.input.pinned.ref,
            status="cancelled" if self.cancelled else "running",
            nominal_now=self.input.clock.nominal_start,
            phases={
                p.id: {"kind": p.kind, "counts": {}} for p in self.input.pinned.definition.phases
            },
        )

    @workflow.query
    def started_with(self) -> CycleInput:
        return self.input

    @workflow.update
    async def cancel_cycle(self, request: CancelCycleInput) -> ControlResult:
        self.cancelled = request
        return ControlResult(detail="cycle cancelled", affected=3)

    @cancel_cycle.validator
    def _validate_cancel(self, request: CancelCycleInput) -> None:
        if self.cancelled is not None:
            raise ApplicationError("the cycle is over", type="CycleOver", non_retryable=True)


@dataclass
class Setup:
    client: Client
    task_queue: str
    db: str


@pytest.fixture
async def setup(local_env: WorkflowEnvironment, db: str) -> AsyncIterator[Setup]:
    with session_scope(db) as session:
        publish(session, load_file(ANNUAL_REVIEW), published_by="test")
    task_queue = f"cycles-{uuid.uuid4().hex[:8]}"
    async with Worker(local_env.client, task_queue=task_queue, workflows=[StandInCycle]):
        yield Setup(local_env.client, task_queue, db)


async def start(setup: Setup, **kwargs: object) -> str:
    with session_scope(setup.db) as session:
        return await start_cycle(
            setup.client,
            session,
            "annual-review@latest",
            task_queue=setup.task_queue,
            **kwargs,  # type: ignore[arg-type]
        )


async def started_with(setup: Setup, cycle_id: str) -> CycleInput:
    handle = setup.client.get_workflow_handle(cycle_workflow_id(cycle_id))
    result: CycleInput = await handle.query("started_with", result_type=CycleInput)
    return result


async def test_start_pins_the_exact_version_on_a_real_time_clock(setup: Setup) -> None:
    cycle_id = await start(setup, launched_by="E002", org_objectives=[{"id": "org-1"}])

    assert cycle_id.startswith("annual-review-2027-")
    cycle_input = await started_with(setup, cycle_id)
    assert cycle_input.pinned.ref == "annual-review@1"
    assert cycle_input.launched_by == "E002"
    assert cycle_input.org_objectives == ({"id": "org-1"},)
    berlin_midnight = datetime(2027, 1, 4, tzinfo=ZoneInfo("Europe/Berlin"))
    assert cycle_input.clock.nominal_start == berlin_midnight
    assert cycle_input.clock.real_start == berlin_midnight  # speed 1: the identity
    assert cycle_input.clock.scale == 1.0

    described = await setup.client.get_workflow_handle(cycle_workflow_id(cycle_id)).describe()
    attributes = described.typed_search_attributes
    assert attributes.get(SearchAttributeKey.for_keyword(SearchAttributeNames.CYCLE)) == cycle_id
    assert (
        attributes.get(SearchAttributeKey.for_keyword(SearchAttributeNames.DEFINITION))
        == "annual-review@1"
    )
    assert await described.memo_value("definition") == "annual-review@1"


async def test_an_accelerated_cycle_starts_now_at_its_nominal_start(setup: Setup) -> None:
    before = datetime.now(UTC)
    cycle_id = await start(
        setup,
        speed=3600.0,
        start=datetime(2030, 3, 1).date(),
        options={
            "poll_every": "P1D",
            "min_poll_seconds": 0.5,
        },
    )

    cycle_input = await started_with(setup, cycle_id)
    assert cycle_id.startswith("annual-review-2030-")
    assert cycle_input.clock.scale == 3600.0
    assert before <= cycle_input.clock.real_start <= before + timedelta(minutes=1)
    assert cycle_input.clock.nominal_start.date().isoformat() == "2030-03-01"
    assert (cycle_input.poll_every, cycle_input.min_poll_seconds) == ("P1D", 0.5)


async def test_ids_are_checked_and_never_reused(setup: Setup) -> None:
    cycle_id = f"review-{uuid.uuid4().hex[:6]}"
    assert await start(setup, cycle_id=cycle_id) == cycle_id
    with pytest.raises(CycleConflictError, match="exists already"):
        await start(setup, cycle_id=cycle_id)
    with pytest.raises(CycleError, match="not a valid cycle id"):
        await start(setup, cycle_id="has/slash")
    with pytest.raises(CycleError, match="speed must be positive"):
        await start(setup, speed=0.0)
    with session_scope(setup.db) as session, pytest.raises(DefinitionNotFoundError):
        await start_cycle(setup.client, session, "nope@1", task_queue=setup.task_queue)


async def test_status_list_and_cancel(setup: Setup) -> None:
    cycle_id = await start(setup)

    status = await cycle_status(setup.client, cycle_id)
    assert (status.cycle_id, status.status) == (cycle_id, "running")
    assert list(status.phases) == ["goals", "monitoring", "evaluation", "interview", "results"]
    with pytest.raises(CycleNotFoundError):
        await cycle_status(setup.client, "no-such-cycle")

    for _ in range(50):  # visibility is eventually consistent
        listed = {c.cycle_id: c for c in await list_cycles(setup.client, limit=200)}
        if cycle_id in listed:
            break
        await asyncio.sleep(0.1)
    assert listed[cycle_id].definition_ref == "annual-review@1"
    assert listed[cycle_id].status == "running"
    by_definition = await list_cycles(setup.client, definition="annual-review@1", limit=200)
    assert cycle_id in {c.cycle_id for c in by_definition}

    result = await cancel_cycle(setup.client, cycle_id, reason="reorg", requested_by="E002")
    assert (result.detail, result.affected) == ("cycle cancelled", 3)
    with pytest.raises(CycleRefusedError) as refused:
        await cancel_cycle(setup.client, cycle_id, reason="again", requested_by="E002")
    assert refused.value.type == "CycleOver"
    handle = setup.client.get_workflow_handle(cycle_workflow_id(cycle_id))
    await handle.signal("finish")
    await handle.result()
    with pytest.raises(CycleNotFoundError, match="no running cycle"):
        await cancel_cycle(setup.client, cycle_id, reason="again", requested_by="E002")
    assert (await cycle_status(setup.client, cycle_id)).status == "cancelled"  # still answers


async def test_the_cli_starts_shows_and_cancels(
    setup: Setup, local_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perfloop.settings import get_settings

    monkeypatch.setenv(
        "PERFLOOP_TEMPORAL_ADDRESS", local_env.client.service_client.config.target_host
    )
    monkeypatch.setenv("PERFLOOP_TASK_QUEUE", setup.task_queue)
    get_settings.cache_clear()
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    cycle_id = f"cli-{uuid.uuid4().hex[:6]}"

    async def cli(*args: str) -> Result:
        # In a thread: the command runs its own event loop while our worker keeps polling.
        return await asyncio.to_thread(runner.invoke, app, list(args))

    started = await cli("cycles", "start", "annual-review@1", "--id", cycle_id)
    assert started.exit_code == 0, started.output
    assert f"started cycle {cycle_id}" in started.output

    shown = await cli("cycles", "status", cycle_id)
    assert shown.exit_code == 0, shown.output
    assert "annual-review@1" in shown.output
    assert "monitoring" in shown.output

    cancelled = await cli("cycles", "cancel", cycle_id, "--reason", "test")
    assert cancelled.exit_code == 0, cancelled.output
    again = await cli("cycles", "cancel", cycle_id, "--reason", "test")
    assert again.exit_code == 1
    assert "the cycle is over" in again.output
    missing = await cli("cycles", "status", "no-such-cycle")
    assert missing.exit_code == 1
    assert "no cycle no-such-cycle" in missing.output
    get_settings.cache_clear()
