"""The API's own cost per form submission, with the workflow engine faked.

    .venv/bin/python bench/api_own_cost.py                    # PostgreSQL (a fresh database)
    .venv/bin/python bench/api_own_cost.py --database-url sqlite -n 1000
    .venv/bin/python bench/api_own_cost.py -n 300 --gap 140   # 140 ms idle before each

It serves the real application (every middleware, the token check, the permission, the
Idempotency-Key claim and stored answer, the task read and the submitted mark) with
uvicorn in this process, and sends N submissions one after another over one keep-alive
connection with a minimal HTTP client, each with its own Idempotency-Key. The Temporal
client is a stand-in whose Update answers at once, so what is timed is the API and the
store alone. It prints the median and mean latency and the process's CPU per
submission. Run it under `py-spy record` to see where the time goes. `--gap MS` idles
before each submission, as the API does between the scenario's requests: on a shared
machine the same work then finds the process's caches cold and takes longer (bench/
README.md, session 12). Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import uvicorn
from temporalio.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from http1 import Http1Connection
from launch import fresh_postgres_database

from api.app import create_app
from api.auth import issue_dev_token
from api.metrics import SUBMIT_STEP
from definitions.loader import load_file
from definitions.registry import get_version, publish
from perfloop.settings import Settings
from store.db import dispose_engines, session_scope
from store.migrate import upgrade
from store.models import Cycle, Task
from workflows.messages import SubmitTaskInput, SubmitTaskResult

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFINITION = Path(__file__).resolve().parents[1] / "definitions" / "cycles" / "annual-review"
CYCLE_ID = "api-cost"
ASSIGNEE = "E012"
WARM_UP = 20
PAYLOAD = {"goals": [{"title": "Grow as a reviewer", "type": "development", "weight": 100}]}


@dataclass
class InstantHandle:
    """A workflow handle whose `submit_task` Update is accepted at once."""

    async def execute_update(self, _name: str, arg: SubmitTaskInput, **_: Any) -> Any:
        return SubmitTaskResult(
            task_id=arg.task_id,
            status="submitted",
            late=False,
            accepted_at=datetime.now(UTC),
            revision=1,
        )


class InstantTemporal:
    def get_workflow_handle(self, _workflow_id: str, **_: Any) -> InstantHandle:
        return InstantHandle()


def prepare(url: str, n: int) -> list[str]:
    """The store: annual-review@1 published, one running cycle, N open tasks of one person."""
    upgrade(url)
    now = datetime.now(UTC)
    with session_scope(url) as session:
        ref = publish(session, load_file(DEFINITION / "v1.yaml")).ref
        version = get_version(session, ref)
        session.add(
            Cycle(
                cycle_id=CYCLE_ID,
                definition_ref=version.ref,
                sha256=version.sha256,
                status="running",
                nominal_start=now,
                nominal_end=now + timedelta(days=365),
                launched_by="HR1",
            )
        )
        tasks = [
            Task(
                task_id=f"{CYCLE_ID}/{ASSIGNEE}/goals/goal_draft-{i}",
                cycle_id=CYCLE_ID,
                workflow_id=f"cycle/{CYCLE_ID}/{ASSIGNEE}",
                subject_id=ASSIGNEE,
                assignee_id=ASSIGNEE,
                phase_id="goals",
                kind="goal_draft",
                form_id="goal-draft",
                title="Goals",
                status="open",
                due_at=now + timedelta(days=14),
                opened_at=now,
            )
            for i in range(n)
        ]
        session.add_all(tasks)
        return [task.task_id for task in tasks]


async def submit_all(port: int, token: str, task_ids: list[str], gap: float = 0.0) -> list[float]:
    connection = Http1Connection("127.0.0.1", port)
    took: list[float] = []
    try:
        for task_id in task_ids:
            if gap:
                await asyncio.sleep(gap)
            began = time.perf_counter()
            answer = await connection.post_json(
                f"/v1/tasks/{task_id}/submit",
                {"payload": PAYLOAD},
                {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
            )
            if answer.status != 200:
                raise SystemExit(f"HTTP {answer.status}: {answer.text[:300]}")
            took.append(time.perf_counter() - began)
    finally:
        await connection.close()
    return took


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="submissions (default 1000)")
    parser.add_argument(
        "--database-url", default=DEFAULT_PG, help="a PostgreSQL server URL, or 'sqlite'"
    )
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument(
        "--gap",
        type=float,
        default=0.0,
        help="milliseconds idle before each submission (default 0: back to back); "
        "the issue's scenario sends one every 140 ms",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="perfloop-api-cost-") as folder:
        url = (
            f"sqlite:///{folder}/perfloop.db"
            if args.database_url == "sqlite"
            else fresh_postgres_database(args.database_url)
        )
        task_ids = prepare(url, args.n + WARM_UP)
        # Limits out of the way: this measures one person's submissions back to back.
        settings = Settings(
            home=Path(folder) / "home",
            database_url=url,
            submit_burst=1_000_000,
            submit_rate_per_minute=1_000_000,
        )

        async def instant(_: Settings) -> Client:
            return cast(Client, InstantTemporal())

        app = create_app(settings, temporal_client_factory=instant)
        token = issue_dev_token(settings, ASSIGNEE, ttl=timedelta(hours=1))
        server = uvicorn.Server(
            uvicorn.Config(app, port=args.port, log_level="warning", access_log=False)
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.05)
        await submit_all(args.port, token, task_ids[:WARM_UP])
        steps_before = step_totals()
        cpu = time.process_time()
        took = await submit_all(args.port, token, task_ids[WARM_UP:], args.gap / 1000)
        cpu = time.process_time() - cpu
        steps = {
            step: (
                total - steps_before.get(step, (0.0, 0))[0],
                count - steps_before.get(step, (0.0, 0))[1],
            )
            for step, (total, count) in step_totals().items()
        }
        server.should_exit = True
        await serving
        dispose_engines()
    store = "SQLite" if args.database_url == "sqlite" else "PostgreSQL"
    spacing = f", {args.gap:g} ms apart" if args.gap else ", back to back"
    print(
        f"{len(took)} submissions on {store}{spacing}: "
        f"p50 {statistics.median(took) * 1000:.2f} ms, "
        f"mean {statistics.mean(took) * 1000:.2f} ms; "
        f"CPU {cpu / len(took) * 1000:.2f} ms per submission (API and client together)"
    )
    print(
        "  mean ms by step, as the API timed it: "
        + ", ".join(
            f"{step} {total / count * 1000:.2f}" for step, (total, count) in steps.items() if count
        )
    )


def step_totals() -> dict[str, tuple[float, int]]:
    """Seconds and count of each submit step so far (`perfloop_api_submit_step_seconds`)."""
    totals: dict[str, list[float]] = {}
    for metric in SUBMIT_STEP.collect():
        for sample in metric.samples:
            step = sample.labels.get("step", "")
            entry = totals.setdefault(step, [0.0, 0.0])
            if sample.name.endswith("_sum"):
                entry[0] = sample.value
            elif sample.name.endswith("_count"):
                entry[1] = sample.value
    return {step: (total, int(count)) for step, (total, count) in totals.items()}


if __name__ == "__main__":
    asyncio.run(main())
