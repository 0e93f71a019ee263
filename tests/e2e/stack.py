"""The whole product for end-to-end tests, in this event loop: a worker on the Temporal
dev server, the API (uvicorn) on a free loopback port serving the web app, a small
organisation, an accelerated annual-review cycle, and simulated colleagues.

The simulated colleagues are the demo's (`perfloop.demo.People`): they do every task of
the cycle except the ones the browser is to do (`reserved`), which stay open until it
does them — a participant's workflow waits for its tasks, whatever the clock says.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from temporalio.client import Client

from activities.hris.embedded import load_organisation
from perfloop.cycles import resolve_pinned, start_cycle
from perfloop.demo import DEMO_OBJECTIVES, People, demo_cycle_options
from perfloop.dev import ApiServer, demo_organisation_file, publish_stock_definitions
from perfloop.settings import Settings
from perfloop.temporal import free_port
from perfloop.worker import build_worker, release_worker
from store.db import session_factory, session_scope
from store.models import ResultProposal, Task

DEFINITION = "annual-review@1"
HR_ADMIN = "E002"  # Joana Ferreira, VP People: an HR admin of annual-review@1
HRBP = "E010"  # Clara Neumann, HR business partner for Engineering
HEAD = "E004"  # Daniel Okafor, VP Engineering
MANAGER = "E008"  # Anna Schmidt, Engineering Manager
EMPLOYEE = "E018"  # Lukas Meyer, reports to Anna
COLLEAGUE = "E020"  # Jakob Fischer, reports to Anna
PEOPLE = (HR_ADMIN, HRBP, HEAD, MANAGER, EMPLOYEE, COLLEAGUE)

SPEED = 1_300_000.0
"""Nominal seconds per real second: January to November (the evaluation) in ~20 s."""
LEAD = timedelta(seconds=2)


def load_small_organisation(url: str, folder: Path) -> None:
    """Six people of the demo organisation; managers outside the six are dropped."""
    people = json.loads(demo_organisation_file().read_text(encoding="utf-8"))["people"]
    chosen = [dict(p) for p in people if p["employee_id"] in PEOPLE]
    for person in chosen:
        if person["manager_id"] not in PEOPLE:
            person["manager_id"] = None
    path = folder / "org.json"
    path.write_text(json.dumps({"people": chosen}), encoding="utf-8")
    with session_scope(url) as session:
        load_organisation(session, path)


class Colleagues(People):
    """The demo's simulated people, leaving `reserved` (assignee, subject, kind) to the test."""

    def __init__(self, *args: Any, reserved: Iterable[tuple[str, str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reserved = set(reserved)

    def _open_tasks(self) -> list[dict[str, Any]]:
        return [
            task
            for task in super()._open_tasks()
            if (task["assignee_id"], task["subject_id"], task["kind"]) not in self.reserved
        ]


@dataclass
class Stack:
    base_url: str
    cycle_id: str
    url: str
    client: Client

    def has_task(self, task_id: str) -> bool:
        """Whether the task has opened (its row is in the store), whatever its status."""
        with session_scope(self.url) as session:
            return session.get(Task, task_id) is not None

    def proposals(self) -> int:
        """Result proposals made so far (one per participant once results open)."""
        with session_scope(self.url) as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(ResultProposal)
                    .where(ResultProposal.cycle_id == self.cycle_id)
                )
                or 0
            )


@contextlib.asynccontextmanager
async def running_stack(
    client: Client, url: str, *, reserved: Iterable[tuple[str, str, str]], home: Path | None = None
) -> AsyncIterator[Stack]:
    folder = home or Path(tempfile.mkdtemp(prefix="perfloop-e2e-"))
    settings = Settings(
        home=folder,
        database_url=url,
        temporal_address=client.service_client.config.target_host,
        task_queue=f"e2e-{uuid.uuid4().hex[:8]}",
        api_host="127.0.0.1",
        api_port=free_port(),
    )
    publish_stock_definitions(url)
    load_small_organisation(url, folder)
    sessions = session_factory(url)
    worker = build_worker(client, settings, session_factory=sessions)
    api = ApiServer(settings)
    stop = asyncio.Event()
    with session_scope(url) as session:
        pinned = resolve_pinned(session, DEFINITION)
        cycle_id = await start_cycle(
            client,
            session,
            DEFINITION,
            speed=SPEED,
            launched_by=HR_ADMIN,
            org_objectives=DEMO_OBJECTIVES,
            task_queue=settings.task_queue,
            options=demo_cycle_options(SPEED),
            real_start=datetime.now(UTC) + LEAD,
        )
    colleagues = Colleagues(
        client,
        sessions,
        cycle_id,
        pinned,
        speed=SPEED,
        seed=11,
        concurrency=8,
        reserved=reserved,
    )
    jobs = [
        asyncio.create_task(worker.run(), name="worker"),
        asyncio.create_task(api.serve(), name="api"),
        asyncio.create_task(colleagues.run(stop), name="colleagues"),
    ]
    try:
        for _ in range(300):
            if api.started:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the API did not start in 15 s")
        yield Stack(
            base_url=f"http://{settings.api_host}:{settings.api_port}",
            cycle_id=cycle_id,
            url=url,
            client=client,
        )
        if colleagues.stats.problems:
            raise AssertionError(f"simulated colleagues hit problems: {colleagues.stats.problems}")
    finally:
        stop.set()
        api.exit()
        with contextlib.suppress(Exception):
            await client.get_workflow_handle(f"cycle/{cycle_id}").terminate("e2e test over")
        await jobs[2]
        await jobs[1]
        await worker.shutdown()
        await jobs[0]
        release_worker(worker)
