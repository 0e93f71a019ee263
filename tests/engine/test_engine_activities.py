"""`launch_participants` and `broadcast_signal` against a real dev server.

A stand-in registered as `ParticipantWorkflow` records what it was started with and every
signal it receives; the snapshot rows are real `CycleParticipant` rows in the test store.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio import workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import RawValue, SearchAttributeKey
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.engine import EngineActivities
from activities.types import (
    BroadcastSignalInput,
    ClockSpec,
    LaunchParticipantsInput,
    ParticipantProfile,
)
from definitions.loader import load_file, pin
from definitions.pinned import PinnedDefinition
from store.db import session_factory
from store.models import Cycle, CycleParticipant
from workflows.messages import ParticipantInput, SearchAttributeNames, participant_workflow_id

pytestmark = pytest.mark.temporal

ANNUAL_REVIEW = (
    Path(__file__).resolve().parents[2] / "definitions" / "cycles" / "annual-review" / "v1.yaml"
)


@workflow.defn(name="ParticipantWorkflow", sandboxed=False)
class StandInParticipant:
    """Runs until signalled `finish`; remembers its input and every other signal."""

    def __init__(self) -> None:
        self.input: ParticipantInput | None = None
        self.signals: list[tuple[str, Any]] = []
        self.finished = False

    @workflow.run
    async def run(self, input: ParticipantInput) -> str:
        self.input = input
        await workflow.wait_condition(lambda: self.finished)
        return input.profile.employee_id

    @workflow.signal(dynamic=True)
    def any_signal(self, name: str, args: Sequence[RawValue]) -> None:
        if name == "finish":
            self.finished = True
            return
        payload = workflow.payload_converter().from_payload(args[0].payload, dict)
        self.signals.append((name, payload))

    @workflow.query
    def received(self) -> list[tuple[str, Any]]:
        return self.signals

    @workflow.query
    def started_with(self) -> ParticipantInput | None:
        return self.input


@dataclass(frozen=True)
class Config:
    task_queue: str


@dataclass
class World:
    client: Client
    cycle_id: str
    task_queue: str
    pinned: PinnedDefinition
    sessions: sessionmaker[Session]

    @property
    def activities(self) -> EngineActivities:
        return EngineActivities(self.client, Config(self.task_queue), self.sessions, concurrency=3)

    def launch_input(self, **changes: Any) -> LaunchParticipantsInput:
        now = datetime.now(UTC)
        return LaunchParticipantsInput(
            cycle_id=self.cycle_id,
            pinned=self.pinned,
            clock=ClockSpec(nominal_start=now, real_start=now, scale=1.0),
            hr_admins=("E002",),
            **changes,
        )

    def handle(self, employee_id: str) -> Any:
        return self.client.get_workflow_handle(participant_workflow_id(self.cycle_id, employee_id))

    async def finish(self, employee_id: str) -> None:
        handle = self.handle(employee_id)
        await handle.signal("finish")
        assert await handle.result() == employee_id


@pytest.fixture(scope="module")
def pinned() -> PinnedDefinition:
    return pin(load_file(ANNUAL_REVIEW))


PEOPLE = {
    # employee id: (group, status)
    "E01": ("Engineering", "active"),
    "E02": ("Engineering", "active"),
    "E03": ("Sales", "active"),
    "E04": ("Sales", "left"),
    "E05": ("Engineering", "active"),
    "E06": ("Sales", "active"),
}


def seed(sessions: sessionmaker[Session], cycle_id: str, pinned: PinnedDefinition) -> None:
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        session.add(
            Cycle(
                cycle_id=cycle_id,
                definition_ref=pinned.ref,
                sha256=pinned.sha256,
                nominal_start=now,
                nominal_end=now + timedelta(days=365),
            )
        )
        session.flush()
        for employee_id, (group, status) in PEOPLE.items():
            profile = ParticipantProfile(
                employee_id=employee_id, manager_id="E00", department=group, level=2
            )
            session.add(
                CycleParticipant(
                    cycle_id=cycle_id,
                    employee_id=employee_id,
                    group=group,
                    manager_id="E00",
                    status=status,
                    joined_at=now,
                    profile=profile.model_dump(mode="json"),
                )
            )


@pytest.fixture
async def world(
    local_env: WorkflowEnvironment, db: str, pinned: PinnedDefinition
) -> AsyncIterator[World]:
    cycle_id = f"test-{uuid.uuid4().hex[:8]}"
    task_queue = f"engine-{uuid.uuid4().hex[:8]}"
    sessions = session_factory(db)
    seed(sessions, cycle_id, pinned)
    async with Worker(local_env.client, task_queue=task_queue, workflows=[StandInParticipant]):
        yield World(local_env.client, cycle_id, task_queue, pinned, sessions)


@pytest.fixture
def beats() -> list[Any]:
    return []


def activity_env(world: World, beats: list[Any]) -> ActivityEnvironment:
    env = ActivityEnvironment(world.client)
    env.on_heartbeat = lambda *details: beats.append(details[0])
    return env


async def test_launch_goes_batch_by_batch_in_employee_id_order(
    world: World, beats: list[Any]
) -> None:
    env = activity_env(world, beats)
    launch = world.activities.launch_participants

    first = await env.run(launch, world.launch_input(offset=0, limit=2))
    second = await env.run(launch, world.launch_input(offset=2, limit=2))
    third = await env.run(launch, world.launch_input(offset=4, limit=2))

    assert (first.started, first.already_running, first.next_offset) == (2, 0, 2)
    # E04 has left: its row keeps its place in the order but gets no workflow.
    assert (second.started, second.already_running, second.next_offset) == (1, 0, 4)
    assert (third.started, third.already_running, third.next_offset) == (2, 0, None)
    assert beats[-1] == {"next": 2, "counts": {"started": 2, "already_running": 0}}

    handle = world.handle("E03")
    started_with: ParticipantInput = await handle.query(
        "started_with", result_type=ParticipantInput
    )
    assert started_with.profile.department == "Sales"
    assert started_with.hr_admins == ("E002",)
    assert started_with.pinned.ref == world.pinned.ref
    described = await handle.describe()
    attributes = described.typed_search_attributes
    assert attributes.get(SearchAttributeKey.for_keyword(SearchAttributeNames.CYCLE)) == (
        world.cycle_id
    )
    assert attributes.get(SearchAttributeKey.for_keyword(SearchAttributeNames.PHASE)) == "pending"
    assert await described.memo_value("definition") == world.pinned.ref
    with pytest.raises(Exception, match="not found"):
        await world.handle("E04").describe()


async def test_a_retried_launch_never_duplicates_nor_restarts_a_finished_participant(
    world: World, beats: list[Any]
) -> None:
    env = activity_env(world, beats)
    launch = world.activities.launch_participants
    await env.run(launch, world.launch_input(limit=10))
    first_run = (await world.handle("E01").describe()).run_id
    await world.finish("E02")

    again = await env.run(launch, world.launch_input(limit=10))

    assert (again.started, again.already_running, again.next_offset) == (0, 5, None)
    assert (await world.handle("E01").describe()).run_id == first_run
    finished = await world.handle("E02").describe()
    assert finished.status == WorkflowExecutionStatus.COMPLETED


async def test_launch_only_some_late_joiners(world: World, beats: list[Any]) -> None:
    env = activity_env(world, beats)
    result = await env.run(
        world.activities.launch_participants,
        world.launch_input(only=("E05", "E06"), joined_late=True),
    )

    assert (result.started, result.already_running, result.next_offset) == (2, 0, None)
    started_with = await world.handle("E06").query("started_with", result_type=ParticipantInput)
    assert started_with.joined_late
    with pytest.raises(Exception, match="not found"):
        await world.handle("E01").describe()


async def test_launch_without_search_attributes(world: World, beats: list[Any]) -> None:
    env = activity_env(world, beats)
    await env.run(
        world.activities.launch_participants,
        world.launch_input(only=("E01",), use_search_attributes=False),
    )
    described = await world.handle("E01").describe()
    assert SearchAttributeNames.CYCLE not in {
        pair.key.name for pair in described.typed_search_attributes
    }


async def test_broadcast_to_everyone_a_group_or_some(world: World, beats: list[Any]) -> None:
    env = activity_env(world, beats)
    activities = world.activities
    await env.run(activities.launch_participants, world.launch_input(limit=10))
    await world.finish("E05")
    gate = {"gate": "calibration", "phase_id": "evaluation"}

    everyone = await env.run(
        activities.broadcast_signal,
        BroadcastSignalInput(cycle_id=world.cycle_id, signal="gate_opened", payload=gate),
    )
    sales = await env.run(
        activities.broadcast_signal,
        BroadcastSignalInput(
            cycle_id=world.cycle_id, signal="withdraw", payload={"reason": "x"}, group="Sales"
        ),
    )
    some = await env.run(
        activities.broadcast_signal,
        BroadcastSignalInput(
            cycle_id=world.cycle_id,
            signal="phase_control",
            payload={"action": "close", "phase_id": "goals"},
            employee_ids=("E01", "E99", "E01"),
        ),
    )

    # Active rows: E01 E02 E03 E05 E06; E05 has finished, so it is missing, not an error.
    assert (everyone.signalled, everyone.missing) == (4, 1)
    assert (sales.signalled, sales.missing) == (2, 0)
    assert (some.signalled, some.missing) == (1, 1)  # duplicates collapse; E99 never ran
    received = await world.handle("E01").query("received")
    assert received == [
        ["gate_opened", gate],
        ["phase_control", {"action": "close", "phase_id": "goals"}],
    ]
    assert [name for name, _ in await world.handle("E03").query("received")] == [
        "gate_opened",
        "withdraw",
    ]


async def test_a_retried_broadcast_resumes_where_the_last_attempt_stopped(
    world: World, beats: list[Any]
) -> None:
    env = activity_env(world, beats)
    await env.run(world.activities.launch_participants, world.launch_input(limit=10))
    # As if a first attempt had signalled E01 and E02 (and counted them) before failing.
    env.info = dataclasses.replace(
        env.info, heartbeat_details=[{"next": 2, "counts": {"signalled": 2, "missing": 0}}]
    )

    result = await env.run(
        world.activities.broadcast_signal,
        BroadcastSignalInput(
            cycle_id=world.cycle_id,
            signal="gate_opened",
            payload={"gate": "results", "phase_id": "results"},
        ),
    )

    assert (result.signalled, result.missing) == (5, 0)
    assert await world.handle("E01").query("received") == []
    assert len(await world.handle("E03").query("received")) == 1
    assert beats[-1]["next"] == 5
