"""PostgreSQL stops (as in a crash) while activities run, then comes back: activities
retry and finish, nothing is lost, and the API answers 503 (not 500) meanwhile.

Runs its own PostgreSQL (see `postgres.py`), so it runs in the SQLite pass of `make test`
and the machine's shared server is never touched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import Client

from api.app import create_app
from api.auth import issue_dev_token
from perfloop.settings import Settings
from store.models import Task
from tests.reliability.harness import Stage, check_nothing_lost, until
from tests.reliability.postgres import PrivatePostgres, can_run

pytestmark = [
    pytest.mark.temporal,
    pytest.mark.reliability,
    pytest.mark.skipif(can_run() is not None, reason=str(can_run())),
]


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.init()
        yield server
    finally:
        server.remove()


@pytest.fixture
async def pg_stage(tmp_path: Path, postgres: PrivatePostgres) -> AsyncIterator[Stage]:
    built = await Stage.create(tmp_path, postgres.url)
    try:
        yield built
    finally:
        await built.close()


async def api_answers(stage: Stage, task_id: str) -> list[httpx.Response]:
    """What the API says to two GETs, a POST with an idempotency key and /readyz."""
    settings = Settings(
        home=stage.home, database_url=stage.url, temporal_address=stage.server.address
    )

    async def temporal(_: Settings) -> Client:
        assert stage.client is not None
        return stage.client

    app = create_app(settings, temporal_client_factory=temporal)
    token = issue_dev_token(settings, "E002", ["hr-admin"])
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://perfloop.test"
        ) as http,
    ):
        return [
            await http.get(f"/v1/tasks/{task_id}", headers=headers),
            await http.post(
                f"/v1/tasks/{task_id}/submit",
                json={"payload": {}},
                headers={**headers, "Idempotency-Key": "drill-while-down"},
            ),
            await http.get("/v1/me/tasks", headers=headers),
            await http.get("/readyz"),
        ]


async def test_the_store_stops_and_starts_again(pg_stage: Stage, postgres: PrivatePostgres) -> None:
    stage = pg_stage
    stage.start_worker()
    await stage.launch()
    await until(lambda: stage.open_tasks() >= 2, "tasks to open")
    await until(lambda: stage.submissions() >= 2, "the first submissions")
    task_id = stage.scalar(select(Task.task_id).where(Task.cycle_id == stage.cycle_id))

    await asyncio.to_thread(postgres.stop, "immediate")
    try:
        answers = await asyncio.wait_for(api_answers(stage, task_id), 30)
        for response in answers:
            assert response.status_code == 503, (response.request.url, response.text)
        for response in answers[:3]:  # the /v1 routes: a typed error and when to retry
            assert response.json()["error"]["type"] == "StoreUnavailable", response.text
            assert response.headers["Retry-After"].isdigit()
        assert answers[3].json()["checks"]["store"].startswith("error")
        await asyncio.sleep(2.0)  # activities fail and back off meanwhile
    finally:
        await asyncio.to_thread(postgres.start)

    await stage.finish()
    # Activities did run into the outage, failed, and were retried to success.
    assert "Completing activity as failed" in stage.workers[0].output()
    figures = check_nothing_lost(stage)
    print(f"PostgreSQL stopped mid-cycle: {figures}")
